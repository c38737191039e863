// {{name}}: a Docket document provider in JavaScript (docket/provider.js,
// built with componentize-js against wit/world.wit).
//
// It answers Workfront's `metadata` and `files` from a small tree kept in this
// file; Docket answers 501 for the endpoints the world does not export.
// docket/provider.js says what each handler is given and answers; a handler
// returns (or throws) notFound(message), forbidden(message) or failed(message)
// to refuse, and any other exception becomes failed(<its message>).
import { makeProvider, notFound, failed } from './docket/provider.js';

// The tree: replace it with calls to your document store (fetch works once the
// manifest's [capabilities] allowed-outbound-hosts lets it out).
const TREE = [
  { id: '/reports', parent: '/', title: 'Reports' },
  { id: '/reports/q1.txt', parent: '/reports', title: 'q1.txt', text: 'First quarter: on track.\n' },
  { id: '/reports/q2.txt', parent: '/reports', title: 'q2.txt', text: 'Second quarter: ahead.\n' },
  { id: '/readme.txt', parent: '/', title: 'readme.txt', text: 'Hello from {{name}}.\n' },
];

function document(entry) {
  const file = entry.text !== undefined;
  return {
    id: entry.id,
    title: entry.title,
    kind: file ? 'file' : 'folder',
    mimeType: file ? 'text/plain' : undefined,
    size: file ? new TextEncoder().encode(entry.text).length : undefined,
    readOnly: true,
  };
}

const provider = makeProvider({
  // metadata?id=  ("/" is the root folder)
  metadata: async (ctx, id) => {
    if (id === '/') return { id: '/', title: ctx.config.title ?? '{{name}}', kind: 'folder', readOnly: true };
    const entry = TREE.find((e) => e.id === id);
    if (!entry) return notFound(`no file or folder ${id}`);
    return document(entry);
  },
  // files?parentId=&max=&offset=  (folders first, then files, each by title)
  files: async (ctx, parentId, max, offset) => {
    if (parentId !== '/') {
      const parent = TREE.find((e) => e.id === parentId);
      if (!parent) return notFound(`no folder ${parentId}`);
      if (parent.text !== undefined) return failed(`${parentId} is a file, not a folder`);
    }
    return TREE.filter((e) => e.parent === parentId)
      .sort((a, b) => (a.text !== undefined) - (b.text !== undefined) || a.title.localeCompare(b.title))
      .slice(offset, offset + max)
      .map(document);
  },
});

// One export per interface the world exports.
export const { metadata, files } = provider;
