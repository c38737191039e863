// The WebDAV side of js-webdav, in plain functions that run unchanged under node
// (test/*.test.mjs) and inside the component: ids and URLs, a multistatus parser
// without a DOM (StarlingMonkey has no DOMParser), paging, and a small client over
// an injected `fetch`. Nothing here imports Docket or WASI.

/** Why a WebDAV call failed, as the provider contract's failure kinds. */
export class DavError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = 'DavError';
    this.kind = kind; // 'forbidden' | 'not-found' | 'failed'
  }
}

// ---------------------------------------------------------------- ids and URLs

/** Workfront caps a document id at 255 characters. */
export const MAX_ID_LENGTH = 255;

/**
 * The canonical id for `id`: "/" for the root, else "/a/b" (no trailing slash).
 * Throws a not-found DavError for ids that cannot name a path below the root.
 */
export function normalizeId(id) {
  const text = String(id ?? '').trim();
  if (text === '' || text === '/') return '/';
  const segments = text.replace(/^\/+/, '').replace(/\/+$/, '').split('/');
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw new DavError('not-found', `"${text}" is not a valid id`);
    }
  }
  return '/' + segments.join('/');
}

/** Checks a new file or folder name; throws a failed DavError when it cannot be one. */
export function checkName(name) {
  const text = String(name ?? '');
  if (text.trim() === '') throw new DavError('failed', 'the name is empty');
  if (text === '.' || text === '..') throw new DavError('failed', `"${text}" is not a valid name`);
  if (text.includes('/')) throw new DavError('failed', `a name cannot contain "/": "${text}"`);
  if (/[\u0000-\u001f\u007f]/.test(text)) throw new DavError('failed', 'a name cannot contain control characters');
  return text;
}

/** The id of `name` inside the folder `parentId`. */
export function childId(parentId, name) {
  const parent = normalizeId(parentId);
  return (parent === '/' ? '' : parent) + '/' + checkName(name);
}

/** The folder that holds `id` ("/" for a top-level item). */
export function parentOf(id) {
  const norm = normalizeId(id);
  const at = norm.lastIndexOf('/');
  return at <= 0 ? '/' : norm.slice(0, at);
}

/** The last segment of `id` ("" for the root). */
export function nameOf(id) {
  const norm = normalizeId(id);
  return norm === '/' ? '' : norm.slice(norm.lastIndexOf('/') + 1);
}

/** `base` as a URL whose path ends with "/"; throws when it is not an http(s) URL. */
export function baseUrl(base) {
  let url;
  try {
    url = new URL(String(base ?? '').trim());
  } catch {
    throw new DavError('failed', `base-url is not a URL: "${base ?? ''}" (set [config] base-url to the WebDAV root)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DavError('failed', `base-url must be an http or https URL, not ${url.protocol}`);
  }
  url.search = '';
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url.href;
}

/** Percent-encodes one path segment (RFC 3986 pchar: keeps unreserved and sub-delims that are safe). */
export function encodeSegment(segment) {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/** The URL of `id` under `base` (from baseUrl); folders get a trailing slash. */
export function urlOf(base, id, folder = false) {
  const norm = normalizeId(id);
  if (norm === '/') return base;
  const path = norm.slice(1).split('/').map(encodeSegment).join('/');
  return base + path + (folder ? '/' : '');
}

function decodeSegment(segment) {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // a stray "%": take it literally
  }
}

// A URL path as its decoded segments, empty segments dropped.
function segmentsOf(pathname) {
  return pathname.split('/').filter((s) => s !== '').map(decodeSegment);
}

/**
 * The id an href names, relative to `base` (from baseUrl), or null when the href is
 * not under the root. Hrefs may be absolute URLs or absolute paths, percent-encoded
 * however the server likes.
 */
export function idOfHref(base, href) {
  let url;
  try {
    url = new URL(href.trim(), base);
  } catch {
    return null;
  }
  const root = segmentsOf(new URL(base).pathname);
  const path = segmentsOf(url.pathname);
  if (path.length < root.length) return null;
  for (let i = 0; i < root.length; i++) if (path[i] !== root[i]) return null;
  const rest = path.slice(root.length);
  if (rest.some((s) => s === '.' || s === '..' || s.includes('/'))) return null;
  return '/' + rest.join('/');
}

// ---------------------------------------------------------------- XML

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes XML character and predefined entity references. */
export function decodeEntities(text) {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z]+);/g, (whole, ref) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      try {
        return String.fromCodePoint(code);
      } catch {
        return whole;
      }
    }
    return ENTITIES[ref] ?? whole;
  });
}

const NAME = '[A-Za-z_][\\w.\\-]*';
const TOKEN = new RegExp(
  '<!--[\\s\\S]*?-->' + // comment
    '|<!\\[CDATA\\[([\\s\\S]*?)\\]\\]>' + // 1: CDATA text
    '|<\\?[\\s\\S]*?\\?>' + // processing instruction, the XML declaration
    '|<!DOCTYPE(?:[^>\\[]|\\[[\\s\\S]*?\\])*>' + // doctype (with an internal subset)
    `|<\\/\\s*(${NAME}(?::${NAME})?)\\s*>` + // 2: end tag
    `|<(${NAME}(?::${NAME})?)((?:\\s+[^\\s=/>]+\\s*=\\s*(?:"[^"]*"|'[^']*'))*)\\s*(\\/?)>` + // 3: start tag, 4: attributes, 5: "/"
    '|<', // a "<" that starts none of these: malformed
  'g',
);
const ATTRIBUTE = /([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

/**
 * Parses XML into a tree of { ns, name, children, text } elements, names resolved
 * against their namespace declarations (so `D:href`, `d:href` and a default-namespace
 * `href` are all { ns: 'DAV:', name: 'href' }). Answers the root element; throws a
 * failed DavError on malformed XML. Enough XML for WebDAV multistatus answers, no DTDs.
 */
export function parseXml(xml) {
  const top = { ns: '', name: '#document', children: [], text: '', scope: { xml: 'http://www.w3.org/XML/1998/namespace' } };
  const stack = [top];
  let last = 0;
  const bad = (why) => new DavError('failed', `the WebDAV server answered malformed XML: ${why}`);
  const addText = (text) => {
    const node = stack[stack.length - 1];
    if (stack.length > 1) node.text += text;
    else if (text.trim() !== '') throw bad('text outside the root element');
  };
  TOKEN.lastIndex = 0;
  for (let m; (m = TOKEN.exec(xml)); ) {
    if (m.index > last) addText(decodeEntities(xml.slice(last, m.index)));
    last = TOKEN.lastIndex;
    const whole = m[0];
    if (m[1] !== undefined) {
      addText(m[1]);
    } else if (m[2] !== undefined) {
      const node = stack.pop();
      if (stack.length === 0 || node.qname !== m[2]) throw bad(`</${m[2]}> closes <${node.qname ?? ''}>`);
    } else if (m[3] !== undefined) {
      const parent = stack[stack.length - 1];
      const scope = Object.create(parent.scope);
      const attributes = [];
      ATTRIBUTE.lastIndex = 0;
      for (let a; (a = ATTRIBUTE.exec(m[4])); ) {
        const value = decodeEntities(a[2] ?? a[3]);
        if (a[1] === 'xmlns') scope[''] = value;
        else if (a[1].startsWith('xmlns:')) scope[a[1].slice(6)] = value;
        else attributes.push([a[1], value]);
      }
      const colon = m[3].indexOf(':');
      const prefix = colon < 0 ? '' : m[3].slice(0, colon);
      const ns = scope[prefix];
      if (ns === undefined && prefix !== '') throw bad(`undeclared namespace prefix "${prefix}"`);
      if (stack.length === 1 && top.children.length > 0) throw bad('two root elements');
      const node = { ns: ns ?? '', name: colon < 0 ? m[3] : m[3].slice(colon + 1), qname: m[3], children: [], text: '', scope, attributes };
      parent.children.push(node);
      if (m[5] !== '/') stack.push(node);
    } else if (whole === '<') {
      throw bad(`a stray "<" at ${m.index}`);
    }
  }
  if (last < xml.length) addText(decodeEntities(xml.slice(last)));
  if (stack.length > 1) throw bad(`<${stack[stack.length - 1].qname}> is not closed`);
  if (top.children.length === 0) throw bad('no root element');
  return top.children[0];
}

const DAV = 'DAV:';
const davChildren = (node, name) => node.children.filter((c) => c.ns === DAV && c.name === name);
const davChild = (node, name) => node.children.find((c) => c.ns === DAV && c.name === name);

function statusCode(node) {
  const line = node ? node.text.trim() : '';
  const m = /^HTTP\/\d(?:\.\d)?\s+(\d{3})/i.exec(line);
  return m ? Number(m[1]) : undefined;
}

/**
 * The entries of a PROPFIND multistatus answer: [{ href, collection, displayname,
 * contentLength, contentType, lastModified }], property values as the server wrote
 * them (strings, or undefined when missing or not 200 OK). Responses whose own status
 * is not 2xx are left out.
 */
export function parseMultistatus(xml) {
  const root = parseXml(xml);
  if (root.ns !== DAV || root.name !== 'multistatus') {
    throw new DavError('failed', `the WebDAV server answered <${root.qname}>, not a DAV: multistatus`);
  }
  const entries = [];
  for (const response of davChildren(root, 'response')) {
    const hrefNode = davChild(response, 'href');
    if (!hrefNode || hrefNode.text.trim() === '') continue;
    const own = statusCode(davChild(response, 'status'));
    if (own !== undefined && (own < 200 || own > 299)) continue;
    const entry = { href: hrefNode.text.trim(), collection: false };
    for (const propstat of davChildren(response, 'propstat')) {
      const status = statusCode(davChild(propstat, 'status'));
      if (status !== undefined && (status < 200 || status > 299)) continue;
      for (const prop of davChildren(propstat, 'prop')) {
        for (const p of prop.children) {
          if (p.ns !== DAV) continue;
          const value = p.text.trim();
          if (p.name === 'resourcetype') entry.collection = davChild(p, 'collection') !== undefined;
          else if (p.name === 'displayname') entry.displayname = p.text; // names may have edge spaces
          else if (p.name === 'getcontentlength') entry.contentLength = value;
          else if (p.name === 'getcontenttype') entry.contentType = value;
          else if (p.name === 'getlastmodified') entry.lastModified = value;
        }
      }
    }
    entries.push(entry);
  }
  return entries;
}

// ---------------------------------------------------------------- dates

const MONTHS = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };

/**
 * An HTTP date (RFC 1123 "Sun, 06 Nov 1994 08:49:37 GMT", RFC 850 or asctime) or an
 * ISO 8601 date as RFC 3339 ("1994-11-06T08:49:37Z"); undefined when unreadable.
 */
export function httpDateToRfc3339(text) {
  if (typeof text !== 'string') return undefined;
  const s = text.trim();
  let m = /^(?:[A-Za-z]{3,9},\s*)?(\d{1,2})[\s-]([A-Za-z]{3})[\s-](\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*(?:GMT|UTC|Z|\+0000)?$/i.exec(s);
  let parts;
  if (m) {
    let year = Number(m[3]);
    if (m[3].length === 2) year += year < 70 ? 2000 : 1900; // RFC 850
    parts = [year, MONTHS[m[2].toLowerCase()], Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)];
  } else if ((m = /^[A-Za-z]{3}\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+(\d{4})$/.exec(s))) {
    parts = [Number(m[6]), MONTHS[m[1].toLowerCase()], Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])]; // asctime
  } else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i.test(s)) {
    const t = Date.parse(s);
    return Number.isNaN(t) ? undefined : iso(new Date(t));
  } else {
    return undefined;
  }
  const [year, month, day, hour, minute, second] = parts;
  if (month === undefined || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  const date = new Date(Date.UTC(year, month, day, hour, minute, Math.min(second, 59)));
  if (date.getUTCDate() !== day) return undefined; // "31 Feb"
  return iso(date);
}

// RFC 3339 without milliseconds when there are none.
function iso(date) {
  return date.toISOString().replace(/\.000Z$/, 'Z');
}

// ---------------------------------------------------------------- documents

/** The Docket document for a multistatus entry, or null when it is not under the root. */
export function toDocument(base, entry) {
  const id = idOfHref(base, entry.href);
  if (id === null) return null;
  const folder = entry.collection;
  const name = id === '/' ? rootTitle(base) : id.slice(id.lastIndexOf('/') + 1);
  const display = entry.displayname;
  const doc = {
    id,
    title: display !== undefined && display.trim() !== '' ? display : name,
    kind: folder ? 'folder' : 'file',
  };
  if (!folder) {
    doc.mimeType = entry.contentType ? entry.contentType : 'application/octet-stream';
    if (entry.contentLength !== undefined && /^\d+$/.test(entry.contentLength)) doc.size = BigInt(entry.contentLength);
  }
  const modified = httpDateToRfc3339(entry.lastModified);
  if (modified !== undefined) doc.dateModified = modified;
  return doc;
}

function rootTitle(base) {
  const segments = segmentsOf(new URL(base).pathname);
  return segments.length > 0 ? segments[segments.length - 1] : new URL(base).host;
}

/** Folders first, then files, each by title (case-insensitive, then exact), then id. */
export function compareDocuments(a, b) {
  if (a.kind !== b.kind) return a.kind === 'folder' ? -1 : 1;
  const x = a.title.toLowerCase();
  const y = b.title.toLowerCase();
  if (x !== y) return x < y ? -1 : 1;
  if (a.title !== b.title) return a.title < b.title ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** `offset` items skipped, at most `max` kept (max 0 keeps none). */
export function page(items, max, offset) {
  const from = Math.max(0, Number(offset) || 0);
  const count = Math.max(0, Number(max) || 0);
  return items.slice(from, from + count);
}

/** Whether `title` contains `query`, ignoring case. */
export function titleMatches(title, query) {
  return title.toLowerCase().includes(query.toLowerCase());
}

/** True when the id is short enough for Workfront (255 characters). */
export function addressable(id) {
  let n = 0;
  for (const _ of id) if (++n > MAX_ID_LENGTH) return false;
  return true;
}

// ---------------------------------------------------------------- HTTP

const REASONS = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  409: 'Conflict', 412: 'Precondition Failed', 413: 'Payload Too Large', 415: 'Unsupported Media Type',
  423: 'Locked', 424: 'Failed Dependency', 500: 'Internal Server Error', 501: 'Not Implemented',
  502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout', 507: 'Insufficient Storage',
};

/** "404 Not Found", the reason phrase the server sent or the standard one. */
export function statusLine(status, statusText) {
  const reason = statusText && statusText.trim() !== '' ? statusText.trim() : REASONS[status] ?? '';
  return reason ? `${status} ${reason}` : String(status);
}

/** What a non-2xx answer means for the user: 404 not found, 401/403 forbidden, else failed. */
export function errorFor(status, statusText, what, detail = '') {
  const line = statusLine(status, statusText);
  const tail = detail ? `: ${detail}` : '';
  if (status === 404 || status === 410) return new DavError('not-found', `${what}: not found (${line})`);
  if (status === 401 || status === 403) return new DavError('forbidden', `${what}: the WebDAV server refused access (${line})${tail}`);
  return new DavError('failed', `${what}: the WebDAV server answered ${line}${tail}`);
}

/** A short plain-text reason from an error body (tags stripped, at most 200 characters). */
export function reasonOf(body) {
  if (typeof body !== 'string') return '';
  const text = decodeEntities(body.replace(/<\?[\s\S]*?\?>/g, ' ').replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').trim();
  return text.length > 200 ? text.slice(0, 199) + '…' : text;
}

/** Base64 of the UTF-8 bytes of `text` (btoa takes Latin-1 only). */
export function base64(text) {
  const bytes = new TextEncoder().encode(text);
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += abc[(n >> 18) & 63] + abc[(n >> 12) & 63];
    out += i + 1 < bytes.length ? abc[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? abc[n & 63] : '=';
  }
  return out;
}

const PROPFIND_BODY =
  '<?xml version="1.0" encoding="utf-8"?>\n' +
  '<D:propfind xmlns:D="DAV:"><D:prop>' +
  '<D:resourcetype/><D:displayname/><D:getcontentlength/><D:getcontenttype/><D:getlastmodified/>' +
  '</D:prop></D:propfind>\n';

/** How many entries a search looks at, at most, before it stops. */
export const SEARCH_VISIT_LIMIT = 2000;

/**
 * A WebDAV client for one root: `new WebDav({ baseUrl, user, password, fetch })`.
 * Every method takes and answers ids ("/", "/a/b"); failures throw DavError.
 */
export class WebDav {
  constructor({ baseUrl: base, user, password, fetch: fetchFn }) {
    this.base = baseUrl(base);
    this.fetch = fetchFn ?? globalThis.fetch;
    this.auth = user ? 'Basic ' + base64(`${user}:${password ?? ''}`) : undefined;
  }

  async request(method, url, what, { headers = {}, body, duplex } = {}) {
    const init = { method, headers: { ...headers } };
    if (this.auth) init.headers.Authorization = this.auth;
    if (body !== undefined) init.body = body;
    // An empty body rather than none: a bodiless MKCOL or MOVE (methods fetch does not
    // know) never settled under componentize-js 0.23 with jco's wasi:http shim.
    else if (method !== 'GET' && method !== 'HEAD') init.body = new Uint8Array(0);
    if (duplex) init.duplex = duplex;
    try {
      return await this.fetch(url, init);
    } catch (e) {
      const why = e instanceof Error ? `${e.name === 'TypeError' ? '' : e.name + ': '}${e.message}` : String(e);
      throw new DavError('failed', `${what}: the WebDAV server at ${new URL(this.base).origin} could not be reached (${why})`);
    }
  }

  // Throws the DavError for a non-2xx answer, with the server's reason.
  async check(res, what) {
    if (res.ok) return res;
    let detail = '';
    try {
      detail = reasonOf(await res.text());
    } catch {
      // no body
    }
    throw errorFor(res.status, res.statusText, what, detail);
  }

  /** PROPFIND `id` at `depth` (0 or 1): the documents under the root it answers, itself first. */
  async propfind(id, depth, folderHint = true) {
    const norm = normalizeId(id);
    const what = `PROPFIND ${norm}`;
    const res = await this.check(
      await this.request('PROPFIND', urlOf(this.base, norm, folderHint && norm !== '/'), what, {
        headers: { Depth: String(depth), 'Content-Type': 'application/xml; charset=utf-8' },
        body: PROPFIND_BODY,
      }),
      what,
    );
    if (res.status !== 207) throw new DavError('failed', `${what}: the WebDAV server answered ${statusLine(res.status, res.statusText)}, not 207 Multi-Status`);
    const docs = [];
    for (const entry of parseMultistatus(await res.text())) {
      const doc = toDocument(this.base, entry);
      if (doc !== null) docs.push(doc);
    }
    const self = docs.find((d) => d.id === norm);
    if (!self) {
      if (depth === 0 && docs.length === 1) return docs; // a server that answers with another spelling
      throw new DavError('failed', `${what}: the WebDAV server's answer does not describe ${norm}`);
    }
    return [self, ...docs.filter((d) => d !== self && d.id !== norm)];
  }

  /** The document for `id`. */
  async stat(id) {
    // A folder URL without its slash is often redirected, a file URL with one is a 404
    // on some servers: ask without the slash first, with it when that was a 404.
    const norm = normalizeId(id);
    try {
      return (await this.propfind(norm, 0, false))[0];
    } catch (e) {
      if (norm === '/' || !(e instanceof DavError) || e.kind !== 'not-found') throw e;
      return (await this.propfind(norm, 0, true))[0];
    }
  }

  /** The folder `id` and its children (unsorted). Throws failed when `id` is a file. */
  async list(id) {
    const norm = normalizeId(id);
    const [self, ...children] = await this.propfind(norm, 1, true);
    if (self.kind !== 'folder') throw new DavError('failed', `${norm} is a file, not a folder`);
    return { self, children };
  }

  /** The children of folder `parentId`, folders first then files by title, paged. */
  async files(parentId, max, offset) {
    const { children } = await this.list(parentId);
    return page(children.filter((d) => addressable(d.id)).sort(compareDocuments), max, offset);
  }

  /**
   * Files and folders below `parentId` whose title contains `query` (ignoring case),
   * breadth-first, each folder's entries in files() order, paged; the walk stops after
   * `visitLimit` entries or once it has offset + max matches.
   */
  async search(query, parentId, max, offset, visitLimit = SEARCH_VISIT_LIMIT) {
    const q = String(query ?? '').trim();
    const want = Math.max(0, Number(offset) || 0) + Math.max(0, Number(max) || 0);
    if (q === '' || want === 0) return [];
    const matches = [];
    const queue = [normalizeId(parentId ?? '/')];
    let visited = 0;
    walk: while (queue.length > 0) {
      const folder = queue.shift();
      let children;
      try {
        ({ children } = await this.list(folder));
      } catch (e) {
        // A folder that vanished or is closed to us mid-walk is skipped; the start must exist.
        if (visited > 0 && e instanceof DavError && e.kind !== 'failed') continue;
        throw e;
      }
      for (const doc of children.sort(compareDocuments)) {
        if (++visited > visitLimit) break walk;
        if (!addressable(doc.id)) continue;
        if (titleMatches(doc.title, q)) {
          matches.push(doc);
          if (matches.length >= want) break walk;
        }
        if (doc.kind === 'folder') queue.push(doc.id);
      }
      visited += 1; // the folder itself
    }
    return page(matches, max, offset);
  }

  /** GET `id`: the Response (2xx checked), body unread. */
  async get(id) {
    const norm = normalizeId(id);
    const what = `GET ${norm}`;
    return this.check(await this.request('GET', urlOf(this.base, norm), what), what);
  }

  /** PUT `body` at `id`; `size` sets Content-Length; `createOnly` refuses to replace. */
  async put(id, body, { size, createOnly = false, contentType } = {}) {
    const norm = normalizeId(id);
    const what = `PUT ${norm}`;
    const headers = {};
    if (createOnly) headers['If-None-Match'] = '*';
    if (contentType) headers['Content-Type'] = contentType;
    if (size !== undefined) headers['Content-Length'] = String(size);
    const streamed = body !== undefined && typeof body === 'object' && typeof body.getReader === 'function';
    const res = await this.request('PUT', urlOf(this.base, norm), what, { headers, body, duplex: streamed ? 'half' : undefined });
    if (res.status === 412 && createOnly) throw new DavError('failed', `${norm} already exists`);
    if (res.status === 409) throw new DavError('not-found', `${what}: the folder ${parentOf(norm)} does not exist`);
    await this.check(res, what);
    await drain(res);
  }

  /** MKCOL `id`. */
  async mkcol(id) {
    const norm = normalizeId(id);
    const what = `MKCOL ${norm}`;
    const res = await this.request('MKCOL', urlOf(this.base, norm, true), what);
    if (res.status === 405) throw new DavError('failed', `${norm} already exists`);
    if (res.status === 409) throw new DavError('not-found', `${what}: the folder ${parentOf(norm)} does not exist`);
    await this.check(res, what);
    await drain(res);
  }

  /** DELETE `id` (a folder with its contents). */
  async remove(id, folder) {
    const norm = normalizeId(id);
    const what = `DELETE ${norm}`;
    const res = await this.check(await this.request('DELETE', urlOf(this.base, norm, folder), what), what);
    if (res.status === 207) {
      // Some members could not be deleted: the multistatus says which.
      let detail = '';
      try {
        detail = reasonOf(await res.text());
      } catch {
        // no body
      }
      throw new DavError('failed', `${what}: some of its contents could not be deleted${detail ? `: ${detail}` : ''}`);
    }
    await drain(res);
  }

  /** MOVE `id` to `to` without overwriting. */
  async move(id, to, folder) {
    const from = normalizeId(id);
    const dest = normalizeId(to);
    const what = `MOVE ${from}`;
    const res = await this.request('MOVE', urlOf(this.base, from, folder), what, {
      headers: { Destination: urlOf(this.base, dest, folder), Overwrite: 'F' },
    });
    if (res.status === 412) throw new DavError('failed', `${nameOf(dest)} already exists in ${parentOf(dest)}`);
    await this.check(res, what);
    await drain(res);
  }
}

async function drain(res) {
  try {
    await res.arrayBuffer();
  } catch {
    // the body does not matter
  }
}
