// js-webdav: a Docket document provider (JavaScript, guest-sdk/js/provider.js) that
// fronts a WebDAV server through outbound HTTP (fetch over wasi:http).
//
// Config:  base-url        = the WebDAV root, e.g. "http://127.0.0.1:8090/" (its host
//                            must be in [capabilities] allowed-outbound-hosts);
// Secrets: webdav-user, webdav-password = Basic auth, when the server wants it.
//
// Ids are paths below the root: "/" is the root, "/Reports/q1.pdf" a file (folders
// have no trailing slash). Every endpoint but thumbnail (Docket answers 501 for it):
// metadata and download.open are a PROPFIND Depth 0, files a PROPFIND Depth 1 (folders
// first, then files, by title), search a breadth-first walk of Depth 1 PROPFINDs
// (title contains the query, ignoring case; at most 2,000 entries looked at),
// download.write a GET streamed into the response, uploadInit a PUT of an empty file
// (refused when the name exists), upload a streamed PUT, createFolder a MKCOL, delete
// a DELETE, rename a MOVE within the same folder without overwriting. The WebDAV
// answer 404 is a not-found, 401 and 403 are forbidden, anything else failed, with
// the server's status and reason.
import { makeProvider, forbidden, notFound, failed } from '../../guest-sdk/js/provider.js';
import { WebDav, DavError, normalizeId, childId, parentOf, checkName } from './dav.js';

const client = (ctx) =>
  new WebDav({
    baseUrl: ctx.config['base-url'],
    user: ctx.config['webdav-user'],
    password: ctx.config['webdav-password'],
  });

// A DavError becomes the contract's failure of the same kind.
const guard =
  (handler) =>
  async (...args) => {
    try {
      return await handler(...args);
    } catch (e) {
      if (!(e instanceof DavError)) throw e; // makeProvider turns it into failed(message)
      if (e.kind === 'forbidden') return forbidden(e.message);
      if (e.kind === 'not-found') return notFound(e.message);
      return failed(e.message);
    }
  };

const provider = makeProvider({
  metadata: guard((ctx, id) => client(ctx).stat(id)),

  files: guard((ctx, parentId, max, offset) => client(ctx).files(parentId, max, offset)),

  search: guard((ctx, query, parentId, max, offset) => client(ctx).search(query, parentId, max, offset)),

  download: guard(async (ctx, id) => {
    const dav = client(ctx);
    const doc = await dav.stat(id);
    if (doc.kind !== 'file') return failed(`${doc.id} is a folder; only files can be downloaded`);
    return {
      mimeType: doc.mimeType,
      size: doc.size,
      filename: doc.title,
      // Called by download.write, on the same instance: the bytes are streamed from the GET.
      body: async () => {
        const res = await dav.get(doc.id);
        const length = res.headers.get('content-length');
        if (doc.size !== undefined && length !== null && /^\d+$/.test(length.trim()) && BigInt(length.trim()) !== doc.size) {
          throw new Error(`${doc.id} changed while it was being downloaded (${length} bytes, not ${doc.size})`);
        }
        return res;
      },
    };
  }),

  uploadInit: guard(async (ctx, parentId, filename) => {
    const dav = client(ctx);
    const id = childId(parentId, filename);
    const parent = await dav.stat(parentOf(id));
    if (parent.kind !== 'folder') return failed(`${parent.id} is a file, not a folder`);
    // Asked first: some servers (rclone) ignore `If-None-Match: *` on PUT.
    if (await exists(dav, id)) return failed(`${checkName(filename)} already exists in ${parent.id}`);
    await dav.put(id, new Uint8Array(0), { size: 0, createOnly: true });
    return dav.stat(id);
  }),

  upload: guard(async (ctx, id, body, size) => {
    const dav = client(ctx);
    const doc = await dav.stat(id);
    if (doc.kind !== 'file') return failed(`${doc.id} is a folder; upload to a file made by uploadInit`);
    await dav.put(doc.id, body.stream(), { size });
  }),

  createFolder: guard(async (ctx, parentId, name) => {
    const dav = client(ctx);
    const id = childId(parentId, name);
    const parent = await dav.stat(parentOf(id));
    if (parent.kind !== 'folder') return failed(`${parent.id} is a file, not a folder`);
    // Asked first: some servers (rclone) answer MKCOL on an existing folder with 201.
    if (await exists(dav, id)) return failed(`${checkName(name)} already exists in ${parent.id}`);
    await dav.mkcol(id);
    return dav.stat(id);
  }),

  delete: guard(async (ctx, id) => {
    if (normalizeId(id) === '/') return forbidden('the root folder cannot be deleted');
    const dav = client(ctx);
    const doc = await dav.stat(id);
    await dav.remove(doc.id, doc.kind === 'folder');
  }),

  rename: guard(async (ctx, id, name) => {
    if (normalizeId(id) === '/') return forbidden('the root folder cannot be renamed');
    const dav = client(ctx);
    const doc = await dav.stat(id);
    const to = childId(parentOf(doc.id), name);
    if (to === doc.id) return;
    // Asked first: some servers (rclone) answer a refused `Overwrite: F` with 403, not 412.
    if (await exists(dav, to)) return failed(`${checkName(name)} already exists in ${parentOf(to)}`);
    await dav.move(doc.id, to, doc.kind === 'folder');
  }),
});

async function exists(dav, id) {
  try {
    await dav.stat(id);
    return true;
  } catch (e) {
    if (e instanceof DavError && e.kind === 'not-found') return false;
    throw e;
  }
}

export const { metadata, files, search, download, uploadInit, upload, createFolder, rename } = provider;
const remove = provider.delete;
export { remove as delete };
