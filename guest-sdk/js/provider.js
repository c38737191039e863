// Docket document providers in JavaScript: the provider contract (package
// docket:provider, guest-sdk/wit-provider/provider.wit), built with componentize-js.
// A provider is
//
//   const p = makeProvider({
//     metadata: async (ctx, id) => ({ id, title: 'Report.pdf', kind: 'file', size: 1234 }),
//     files: async (ctx, parentId, max, offset) => [ /* documents */ ],
//   });
//   export const { metadata, files } = p;
//
// makeProvider returns one object per Workfront endpoint handed to it, shaped as
// componentize-js wants an exported WIT interface: `metadata` is
// `{ metadata(ctx, id) }`, `uploadInit` is `{ uploadInit(...) }`, `download` is
// `{ open(ctx, id), write(body) }` and so on. Export exactly the ones the world
// exports (`delete` is a reserved word: `const del = p.delete; export { del as delete };`).
//
// Every handler may be async and returns (or throws) its answer, or a failure:
// forbidden(message) (HTTP 403), notFound(message) (404) or failed(message) (500).
// Any other exception (a TypeError, `throw new Error(...)`, a refused fetch) becomes
// failed(<its message>), so the Workfront user reads what went wrong. README.md,
// section "Providers", is the full guide.
import { getAll } from 'wasi:config/store@0.2.0-rc.1';

/** A refusal or failure; return it or throw it from any handler. */
export class Failure extends Error {
  constructor(kind, message) {
    super(message == null || message === '' ? defaultMessage(kind) : String(message));
    this.name = 'Failure';
    this.kind = kind; // 'forbidden' | 'not-found' | 'failed'
  }
}

function defaultMessage(kind) {
  return kind === 'forbidden' ? 'forbidden' : kind === 'not-found' ? 'not found' : 'the provider failed';
}

/** The user may not do this (HTTP 403). */
export const forbidden = (message) => new Failure('forbidden', message);
/** The file or folder does not exist (HTTP 404). */
export const notFound = (message) => new Failure('not-found', message);
/** Anything else went wrong (HTTP 500). */
export const failed = (message) => new Failure('failed', message);

// ---------------------------------------------------------------- the exports

/**
 * Wraps handlers as the component's exported interfaces. `handlers` may hold
 * metadata, files, search, download, thumbnail, uploadInit, upload, createFolder,
 * delete and rename; the answer holds the same keys, each the object
 * componentize-js expects for that interface.
 */
export function makeProvider(handlers) {
  const out = {};
  const h = handlers ?? {};
  if (h.metadata) {
    out.metadata = {
      metadata: (raw, id) => call(() => h.metadata(context(raw), id), asDocument),
    };
  }
  if (h.files) {
    out.files = {
      files: (raw, parentId, max, offset) =>
        call(() => h.files(context(raw), parentId, max, offset), asDocuments),
    };
  }
  if (h.search) {
    out.search = {
      search: (raw, query, parentId, max, offset) =>
        call(() => h.search(context(raw), query, parentId ?? undefined, max, offset), asDocuments),
    };
  }
  if (h.download) out.download = downloadInterface(h.download);
  if (h.thumbnail) {
    out.thumbnail = {
      thumbnail: (raw, id, size) => call(() => h.thumbnail(context(raw), id, size), asImage),
    };
  }
  if (h.uploadInit) {
    out.uploadInit = {
      uploadInit: (raw, parentId, filename, documentId, documentVersionId) =>
        call(
          () => h.uploadInit(context(raw), parentId, filename, documentId ?? undefined, documentVersionId ?? undefined),
          asDocument,
        ),
    };
  }
  if (h.upload) {
    out.upload = {
      upload: async (raw, id, body, size) => {
        const upload = new UploadBody(body, size);
        try {
          return await call(() => h.upload(context(raw), id, upload, upload.size), asNothing);
        } finally {
          upload.close();
        }
      },
    };
  }
  if (h.createFolder) {
    out.createFolder = {
      createFolder: (raw, parentId, name) => call(() => h.createFolder(context(raw), parentId, name), asDocument),
    };
  }
  if (h.delete) {
    out.delete = { delete: (raw, id) => call(() => h.delete(context(raw), id), asNothing) };
  }
  if (h.rename) {
    out.rename = { rename: (raw, id, name) => call(() => h.rename(context(raw), id, name), asNothing) };
  }
  return out;
}

// download: either one function `(ctx, id) => ({ mimeType, size, filename, body })`
// whose `body` is written by `write`, or `{ open, write }` for full control.
function downloadInterface(handler) {
  if (typeof handler === 'function') {
    let pending; // the body `open` answered, written by `write` on the same instance
    return {
      open: (raw, id) =>
        call(
          () => handler(context(raw), id),
          (answer) => {
            const content = asContent(answer);
            pending = { body: answer.body, size: content.size };
            return content;
          },
        ),
      write: (out) =>
        writeCall(async () => {
          if (!pending) throw new Error('download.write was called before a successful download.open');
          const { body, size } = pending;
          pending = undefined;
          const source = typeof body === 'function' ? await body() : body;
          const written = await writeBody(out, source);
          if (size !== undefined && BigInt(written) !== size) {
            throw new Error(`the download was ${written} bytes, not the ${size} announced`);
          }
        }, out),
    };
  }
  if (typeof handler?.open !== 'function' || typeof handler?.write !== 'function') {
    throw new TypeError('download must be a function (ctx, id) => ({ mimeType, size, filename, body }) or { open, write }');
  }
  return {
    open: (raw, id) => call(() => handler.open(context(raw), id), asContent),
    write: (out) => writeCall(() => handler.write(out), out),
  };
}

// Runs a handler and turns its answer into what componentize-js lowers onto
// result<T, failure>: { tag: 'ok', val } or { tag: 'err', val: { tag, val } }.
async function call(run, convert) {
  let answer;
  try {
    answer = await run();
  } catch (e) {
    return err(e);
  }
  if (answer instanceof Failure) return err(answer);
  try {
    return { tag: 'ok', val: convert(answer) };
  } catch (e) {
    return err(e);
  }
}

// download.write answers result<_, string>; the body is dropped (ending the
// response) only after a complete write, never after a failed one.
async function writeCall(run, out) {
  try {
    const answer = await run();
    if (answer instanceof Failure) return { tag: 'err', val: answer.message };
  } catch (e) {
    return { tag: 'err', val: messageOf(e) };
  }
  dispose(out);
  return { tag: 'ok', val: undefined };
}

function err(e) {
  if (e instanceof Failure) return { tag: 'err', val: { tag: e.kind, val: e.message } };
  return { tag: 'err', val: { tag: 'failed', val: messageOf(e) } };
}

/** The text a thrown value shows the user: an Error's message, a stream error's description. */
export function messageOf(e) {
  if (e === undefined || e === null) return 'the provider failed';
  if (typeof e === 'string') return e || 'the provider failed';
  // wasi:io stream errors: ComponentError with payload { tag: 'closed' } or
  // { tag: 'last-operation-failed', val: <wasi:io/error> }.
  const payload = typeof e === 'object' ? e.payload : undefined;
  if (payload && typeof payload === 'object' && typeof payload.tag === 'string') {
    if (payload.tag === 'closed') return 'the stream was closed';
    let detail = '';
    try {
      detail = payload.val?.toDebugString?.() ?? '';
    } catch {
      // no description
    }
    return detail ? `stream error: ${detail}` : `stream error: ${payload.tag}`;
  }
  if (e instanceof Error) {
    const text = e.message || e.name || 'the provider failed';
    return e.name && e.name !== 'Error' && e.name !== 'Failure' && !text.startsWith(e.name) ? `${e.name}: ${text}` : text;
  }
  try {
    return String(e);
  } catch {
    return 'the provider failed';
  }
}

// ---------------------------------------------------------------- the context

// The friendly context: strings as they come, usernameVerified a boolean, params and
// config as prototype-less objects (a key like "constructor" is just a key; a repeated
// key keeps its first value). config also holds what wasi:config/store has that the
// context does not (the granted secrets, whichever way the host hands them over).
function context(raw) {
  const config = table(raw.config ?? []);
  for (const [key, value] of storeEntries()) if (!(key in config)) config[key] = value;
  return {
    tenant: raw.tenant,
    username: raw.username,
    usernameVerified: raw.usernameVerified === true,
    params: table(raw.params ?? []),
    config,
    requestId: raw.requestId,
  };
}

function table(pairs) {
  const obj = Object.create(null);
  for (const [key, value] of pairs) if (!(key in obj)) obj[key] = value;
  return obj;
}

function storeEntries() {
  try {
    return getAll();
  } catch {
    return []; // the store answered an error: nothing more
  }
}

// ---------------------------------------------------------------- the answers

const KINDS = new Set(['file', 'folder']);

/** A handler's document as the WIT record; a malformed one fails with the reason. */
export function asDocument(d) {
  if (d === null || typeof d !== 'object') throw failed(`the provider answered ${typeof d} instead of a document`);
  const id = requiredString(d.id, 'id');
  const kind = d.kind;
  if (!KINDS.has(kind)) throw failed(`document ${id}: kind must be "file" or "folder", not ${JSON.stringify(kind)}`);
  return {
    id,
    title: requiredString(d.title, `document ${id}: title`),
    kind,
    mimeType: optionalString(d.mimeType, `document ${id}: mimeType`),
    size: optionalU64(d.size, `document ${id}: size`),
    dateModified: optionalDate(d.dateModified, `document ${id}: dateModified`),
    viewLink: optionalString(d.viewLink, `document ${id}: viewLink`),
    downloadLink: optionalString(d.downloadLink, `document ${id}: downloadLink`),
    readOnly: d.readOnly == null ? undefined : Boolean(d.readOnly),
  };
}

function asDocuments(list) {
  if (!Array.isArray(list)) throw failed(`the provider answered ${typeof list} instead of a list of documents`);
  return list.map(asDocument);
}

function asContent(c) {
  if (c === null || typeof c !== 'object') throw failed(`the provider answered ${typeof c} instead of the download's content`);
  return {
    mimeType: optionalString(c.mimeType, 'content mimeType') ?? 'application/octet-stream',
    size: optionalU64(c.size, 'content size'),
    filename: optionalString(c.filename, 'content filename'),
  };
}

function asImage(i) {
  if (i === null || typeof i !== 'object') throw failed(`the provider answered ${typeof i} instead of an image`);
  return { mimeType: requiredString(i.mimeType, 'image mimeType'), bytes: toBytes(i.bytes) };
}

function asNothing() {
  return undefined;
}

function requiredString(v, what) {
  if (typeof v !== 'string') throw failed(`${what} must be a string, not ${v === null ? 'null' : typeof v}`);
  return v;
}

function optionalString(v, what) {
  return v == null ? undefined : requiredString(v, what);
}

function optionalU64(v, what) {
  if (v == null || v === '') return undefined;
  let n;
  try {
    n = typeof v === 'bigint' ? v : typeof v === 'number' ? BigInt(v) : BigInt(String(v).trim());
  } catch {
    throw failed(`${what} must be a whole number of bytes, not ${JSON.stringify(String(v))}`);
  }
  if (n < 0n || n > 0xffffffffffffffffn) throw failed(`${what} is out of range: ${n}`);
  return n;
}

function optionalDate(v, what) {
  if (v == null || v === '') return undefined;
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw failed(`${what} is an invalid Date`);
    return v.toISOString();
  }
  if (typeof v === 'number') return new Date(v).toISOString();
  return requiredString(v, what);
}

function toBytes(b) {
  if (b instanceof Uint8Array) return b;
  if (b instanceof ArrayBuffer) return new Uint8Array(b);
  if (ArrayBuffer.isView(b)) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (typeof b === 'string') return new TextEncoder().encode(b);
  if (Array.isArray(b)) return Uint8Array.from(b);
  throw failed(`image bytes must be a Uint8Array, not ${b === null ? 'null' : typeof b}`);
}

// ---------------------------------------------------------------- streams

/** wasi:io output streams take at most 4,096 bytes per blocking-write-and-flush. */
export const WRITE_CHUNK = 4096;

/**
 * Writes `source` into a wasi:io output-stream and answers the number of bytes
 * written. `source` is a fetch Response (its body is streamed; a non-2xx status
 * is an error), a ReadableStream of Uint8Array, a Uint8Array/ArrayBuffer, a string
 * (UTF-8), an (async) iterable of those, or null/undefined (nothing).
 */
export async function writeBody(out, source) {
  let written = 0;
  const put = (chunk) => {
    const bytes = toChunk(chunk);
    for (let i = 0; i < bytes.length; i += WRITE_CHUNK) {
      out.blockingWriteAndFlush(bytes.subarray(i, Math.min(i + WRITE_CHUNK, bytes.length)));
    }
    written += bytes.length;
  };
  if (source == null) return 0;
  if (isResponse(source)) {
    if (!source.ok) throw new Error(`the download answered HTTP ${source.status}${source.statusText ? ` ${source.statusText}` : ''}`);
    source = source.body;
    if (source == null) return 0;
  }
  if (typeof source.getReader === 'function') {
    const reader = source.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        put(value);
      }
    } catch (e) {
      try {
        await reader.cancel(e);
      } catch {
        // already errored
      }
      throw e;
    }
    return written;
  }
  if (typeof source === 'string' || source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    put(source);
    return written;
  }
  if (typeof source[Symbol.asyncIterator] === 'function' || typeof source[Symbol.iterator] === 'function') {
    for await (const chunk of source) put(chunk);
    return written;
  }
  throw new TypeError(`cannot write ${typeof source} as a download body`);
}

function isResponse(v) {
  return typeof Response !== 'undefined' && v instanceof Response;
}

function toChunk(chunk) {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === 'string') return new TextEncoder().encode(chunk);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError(`a body chunk must be bytes or a string, not ${chunk === null ? 'null' : typeof chunk}`);
}

// Drops a wasi:io resource once. componentize-js keeps a resource's handle in an
// own symbol-keyed property that its [Symbol.dispose] clears; a cleared handle
// means it was dropped already, and dropping it again would trap.
function dispose(resource) {
  if (resource == null || typeof resource !== 'object') return;
  const drop = resource[Symbol.dispose ?? Symbol.for('dispose')] ?? resource[Symbol.for('dispose')];
  if (typeof drop !== 'function') return;
  const own = Object.getOwnPropertySymbols(resource);
  if (own.length > 0 && own.every((key) => resource[key] === undefined)) return;
  try {
    drop.call(resource);
  } catch {
    // already dropped
  }
}

/** How many bytes an upload reads per call of the input stream. */
export const READ_CHUNK = 65536;

/**
 * The body of an `upload`: a wasi:io input-stream, read once, in one of three ways.
 * `size` is the request's Content-Length as a number, or undefined.
 */
export class UploadBody {
  constructor(stream, size) {
    this.raw = stream;
    this.size = size == null ? undefined : Number(size);
    this.used = false;
  }

  /** The bytes, chunk by chunk (Uint8Array, at most READ_CHUNK each), until the end. */
  *chunks() {
    this.#use();
    for (;;) {
      let chunk;
      try {
        chunk = this.raw.blockingRead(BigInt(READ_CHUNK));
      } catch (e) {
        if (e?.payload?.tag === 'closed') return; // the end of the body
        throw new Error(`reading the upload failed: ${messageOf(e)}`);
      }
      if (chunk.length > 0) yield chunk;
    }
  }

  /**
   * A ReadableStream of the bytes, to pass as a fetch body (streamed: only one
   * chunk is in memory at a time). Pass `duplex: 'half'` in fetch's init as well.
   */
  stream() {
    const it = this.chunks();
    return new ReadableStream({
      pull(controller) {
        const { done, value } = it.next();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel() {
        it.return();
      },
    });
  }

  /** All the bytes in one Uint8Array; fails past `maxBytes` (default 16 MiB). */
  bytes({ maxBytes = 16 * 1024 * 1024 } = {}) {
    if (this.size !== undefined && this.size > maxBytes) {
      throw failed(`the upload is ${this.size} bytes, more than the ${maxBytes} this provider reads into memory`);
    }
    const parts = [];
    let total = 0;
    for (const chunk of this.chunks()) {
      total += chunk.length;
      if (total > maxBytes) throw failed(`the upload is more than the ${maxBytes} bytes this provider reads into memory`);
      parts.push(chunk);
    }
    const all = new Uint8Array(total);
    let at = 0;
    for (const part of parts) {
      all.set(part, at);
      at += part.length;
    }
    return all;
  }

  /** Drops the stream (makeProvider does it when the handler is done). */
  close() {
    if (this.raw) dispose(this.raw);
    this.raw = undefined;
  }

  #use() {
    if (this.used) throw new Error('the upload body can be read only once');
    if (!this.raw) throw new Error('the upload body is closed');
    this.used = true;
  }
}
