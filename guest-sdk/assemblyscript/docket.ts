// docket.ts: the AssemblyScript helper for Docket actions (command ABI).
//
//     import { Request, Outcome, run, success, forbidden } from "./docket/docket";
//
//     function greet(req: Request): Outcome {
//       if (req.username == "") return forbidden("sign in to Workfront first");
//       // req.usernameVerified: true only when the user was proven by OAuth2 sign-in
//       const stage = req.param("stage");          // query parameter, or null
//       const folder = req.configValue("folder");  // manifest [config], or null
//       return success("hello " + req.username);   // or notFound(…), failed(…)
//     }
//
//     run(greet);
//
// Build as a WASI command with @assemblyscript/wasi-shim:
//     asc action.ts --config node_modules/@assemblyscript/wasi-shim/asconfig.json -O -o action.wasm
//
// `run` reads the request JSON Docket writes on stdin (CONTRACT.md), calls the
// action and writes one JSON response on stdout. AssemblyScript has no
// try/catch, so the parser never throws: input that is not the request object
// (bad JSON, a field of the wrong type, no document ids) is answered with a
// `failed` response and the action is not called. Strings are unescaped on
// input (\uXXXX and surrogate pairs included) and escaped on output; a lone
// surrogate becomes U+FFFD so stdout is always valid UTF-8.
//
// Calling out (CONTRACT.md, "Capabilities"), when the manifest grants it:
//     const r = http("POST", url, "application/json", '{"text":' + quote(msg) + "}");
//     if (!r.ok) return failed(r.error);          // r.status, r.body, r.header("content-type")
//     const n = kvIncrement("runs");              // n.value is "3"; kvGet/kvSet/kvDelete too
// These go through the docket::host_call / host_reply imports, which a module
// imports only if it calls one of them.

// Docket's capability calls (CONTRACT.md, "docket::host_call"). AssemblyScript
// imports a declared function only if something calls it, so an action that
// never calls out does not import these.
// @ts-ignore: decorator
@external("docket", "host_call")
declare function host_call(ptr: usize, len: i32): i32;
// @ts-ignore: decorator
@external("docket", "host_reply")
declare function host_reply(ptr: usize, len: i32): i32;

// Raw WASI calls, so a read or write error cannot abort the module.
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_read")
declare function fd_read(fd: u32, iovs: usize, iovsLen: usize, nread: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_write")
declare function fd_write(fd: u32, iovs: usize, iovsLen: usize, nwritten: usize): u16;

/** The request Docket sends. Missing optional fields are "" or empty maps. */
export class Request {
  /** The action name Workfront sent (`customAction?name=`). */
  action: string = "";
  documentId: string = "";
  documentVersionId: string = "";
  /** The Workfront user; "" when Workfront sent none. */
  username: string = "";
  /**
   * True when `username` was proven by the user's sign-in at the tenant's
   * identity provider (Workfront's OAuth2 mode); false when it is only what the
   * caller sent (ApiKey mode: anyone holding the tenant's key can send any
   * username) or absent. An action that decides by user should require it.
   */
  usernameVerified: bool = false;
  tenant: string = "";
  requestId: string = "";
  /** Every other query parameter of the call. */
  params: Map<string, string> = new Map<string, string>();
  /** The manifest's [config] table. */
  config: Map<string, string> = new Map<string, string>();
  /** Granted secrets; null when the manifest grants none. */
  secrets: Map<string, string> | null = null;

  /** A query parameter, or null. */
  param(name: string): string | null {
    return lookup(this.params, name);
  }
  /** A value from the manifest's [config], or null. */
  configValue(name: string): string | null {
    return lookup(this.config, name);
  }
  /** A granted secret, or null. */
  secret(name: string): string | null {
    const secrets = this.secrets;
    return secrets === null ? null : lookup(secrets, name);
  }
}

/** What an action answers; make one with success, forbidden, notFound or failed. */
export class Outcome {
  constructor(
    /** "success" or "failure". */
    public status: string,
    /** null, "forbidden", "not-found" or "failed". */
    public kind: string | null,
    /** The success message or the error, or null. */
    public text: string | null,
  ) {}

  /** The response line written to stdout. */
  toJson(): string {
    let out = '{"status":"' + this.status + '"';
    const kind = this.kind;
    if (kind !== null) out += ',"kind":"' + kind + '"';
    const text = this.text;
    if (text !== null) out += (kind === null ? ',"message":' : ',"error":') + quote(text);
    return out + "}";
  }
}

/** A success (200), with an optional message for the user. */
export function success(message: string | null = null): Outcome {
  return new Outcome("success", null, message);
}
/** The user may not do this (403). */
export function forbidden(error: string): Outcome {
  return new Outcome("failure", "forbidden", error);
}
/** The document, or something it needs, does not exist (404). */
export function notFound(error: string): Outcome {
  return new Outcome("failure", "not-found", error);
}
/** Anything else (500). */
export function failed(error: string): Outcome {
  return new Outcome("failure", "failed", error);
}

/** Reads the request, runs the action and writes its answer. Call it once, at top level. */
export function run(action: (req: Request) => Outcome): void {
  const input = readStdin();
  if (input === null) {
    respond(failed("could not read the request from stdin"));
    return;
  }
  const parser = new Parser(String.UTF8.decode(input));
  const req = parser.request();
  if (req === null) {
    respond(failed("the request on stdin is not the JSON object Docket sends: " + parser.error));
    return;
  }
  respond(action(req));
}

/**
 * The reply to a capability call. `ok` is false with `error` set when the call
 * failed (a denial, a network error, an odd reply); an HTTP 4xx or 5xx is ok
 * with that `status`.
 */
export class Reply {
  ok: bool = false;
  /** Why the call failed; "" when ok. */
  error: string = "";
  /** http: the response status. */
  status: i32 = 0;
  /** http: the response headers, names in lower case. */
  headers: Map<string, string> = new Map<string, string>();
  /** http: the response body as text. */
  body: string = "";
  /** kvGet: the value, null when unset; kvIncrement: the new value as text. */
  value: string | null = null;
  /** kvDelete: whether the key existed. */
  existed: bool = false;

  /** A response header (name in lower case), or null. */
  header(name: string): string | null {
    return lookup(this.headers, name.toLowerCase());
  }
}

/**
 * Sends an HTTP request to a host the manifest allows ([capabilities]
 * allowed-outbound-hosts). `contentType` and `body` may be null.
 */
export function http(method: string, url: string, contentType: string | null = null, body: string | null = null): Reply {
  let op = '{"op":"http","method":' + quote(method) + ',"url":' + quote(url);
  if (contentType !== null) op += ',"headers":{"content-type":' + quote(contentType) + "}";
  if (body !== null) op += ',"body":' + quote(body);
  return hostCall(op + "}");
}

/** The value of `key` in the key-value store ([capabilities] key-value): `value`, null when unset. */
export function kvGet(key: string): Reply {
  return hostCall('{"op":"kv.get","key":' + quote(key) + "}");
}
/** Sets `key` to `value`. */
export function kvSet(key: string, value: string): Reply {
  return hostCall('{"op":"kv.set","key":' + quote(key) + ',"value":' + quote(value) + "}");
}
/** Deletes `key`; `existed` tells whether it was set. */
export function kvDelete(key: string): Reply {
  return hostCall('{"op":"kv.delete","key":' + quote(key) + "}");
}
/** Adds `by` to the integer in `key` (unset counts as 0); `value` is the new value as text. */
export function kvIncrement(key: string, by: i64 = 1): Reply {
  return hostCall('{"op":"kv.increment","key":' + quote(key) + ',"by":' + by.toString() + "}");
}

/** Runs one JSON operation through docket::host_call and parses its reply. */
export function hostCall(op: string): Reply {
  const data = String.UTF8.encode(op);
  const len = host_call(changetype<usize>(data), data.byteLength);
  if (len <= 0) {
    const r = new Reply();
    r.error = "Docket gave no reply to the call";
    return r;
  }
  const buffer = new ArrayBuffer(len);
  let copied = host_reply(changetype<usize>(buffer), len);
  if (copied < 0 || copied > len) copied = 0;
  return new Parser(String.UTF8.decodeUnsafe(changetype<usize>(buffer), <usize>copied)).reply();
}

/** Parses a request as `run` does; null when `json` is not one. For tests. */
export function parseRequest(json: string): Request | null {
  return new Parser(json).request();
}

/** `text` as a JSON string literal. */
export function quote(text: string): string {
  const size = escape(text, null);
  const out = new Uint16Array(size);
  escape(text, out);
  return String.UTF16.decodeUnsafe(out.dataStart, <usize>size << 1);
}

// Writes `text` quoted and escaped into `out` (when given); returns the length.
function escape(text: string, out: Uint16Array | null): i32 {
  const n = text.length;
  let len = 0;
  if (out !== null) out[len] = 0x22;
  len++;
  for (let i = 0; i < n; i++) {
    let c = text.charCodeAt(i);
    let e = 0; // the letter after a backslash, or 0x75 (u) for \u00XX
    if (c == 0x22 || c == 0x5c) e = c;
    else if (c == 0x0a) e = 0x6e;
    else if (c == 0x0d) e = 0x72;
    else if (c == 0x09) e = 0x74;
    else if (c < 0x20) e = 0x75;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (text.charCodeAt(i + 1) & 0xfc00) == 0xdc00) {
      // a valid surrogate pair stays as it is
      if (out !== null) { out[len] = <u16>c; out[len + 1] = <u16>text.charCodeAt(i + 1); }
      len += 2;
      i++;
      continue;
    } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // a lone surrogate
    if (e == 0) {
      if (out !== null) out[len] = <u16>c;
      len++;
    } else if (e == 0x75) {
      if (out !== null) {
        const hex = "0123456789abcdef";
        out[len] = 0x5c; out[len + 1] = 0x75; out[len + 2] = 0x30; out[len + 3] = 0x30;
        out[len + 4] = <u16>hex.charCodeAt(c >> 4); out[len + 5] = <u16>hex.charCodeAt(c & 15);
      }
      len += 6;
    } else {
      if (out !== null) { out[len] = 0x5c; out[len + 1] = <u16>e; }
      len += 2;
    }
  }
  if (out !== null) out[len] = 0x22;
  return len + 1;
}

function lookup(map: Map<string, string>, name: string): string | null {
  return map.has(name) ? map.get(name) : null;
}

function respond(outcome: Outcome): void {
  writeStdout(String.UTF8.encode(outcome.toJson() + "\n"));
}

function readStdin(): ArrayBuffer | null {
  let buffer = new ArrayBuffer(16384);
  let size = 0;
  const iov = memory.data(16); // iovec { buf, len } and the count read
  while (true) {
    if (size == buffer.byteLength) {
      const bigger = new ArrayBuffer(size * 2);
      memory.copy(changetype<usize>(bigger), changetype<usize>(buffer), size);
      buffer = bigger;
    }
    store<u32>(iov, <u32>(changetype<usize>(buffer) + size));
    store<u32>(iov + 4, <u32>(buffer.byteLength - size));
    if (fd_read(0, iov, 1, iov + 8) != 0) return null;
    const n = load<u32>(iov + 8);
    if (n == 0) break;
    size += n;
  }
  return buffer.slice(0, size);
}

function writeStdout(data: ArrayBuffer): void {
  const iov = memory.data(16);
  let done = 0;
  while (done < data.byteLength) {
    store<u32>(iov, <u32>(changetype<usize>(data) + done));
    store<u32>(iov + 4, <u32>(data.byteLength - done));
    if (fd_write(1, iov, 1, iov + 8) != 0) return;
    const n = load<u32>(iov + 8);
    if (n == 0) return;
    done += n;
  }
}

// A JSON reader for the request object: the top-level string fields, the
// boolean usernameVerified, the string maps params, config and secrets; other
// fields are checked and skipped.
class Parser {
  pos: i32 = 0;
  error: string = "";
  constructor(public text: string) {}

  request(): Request | null {
    const req = new Request();
    let hasDoc = false;
    let hasVersion = false;
    this.space();
    if (!this.expect(0x7b, "an object")) return null; // {
    this.space();
    if (this.peek() == 0x7d) {
      this.pos++;
    } else {
      while (true) {
        this.space();
        const key = this.string();
        if (key === null) return null;
        this.space();
        if (!this.expect(0x3a, "':'")) return null;
        this.space();
        if (key == "params" || key == "config" || key == "secrets") {
          const map = this.stringMap(key);
          if (map === null) return null;
          if (key == "params") req.params = map;
          else if (key == "config") req.config = map;
          else req.secrets = map;
        } else if (key == "usernameVerified") {
          if (this.word("true")) req.usernameVerified = true;
          else if (this.word("false")) req.usernameVerified = false;
          else return this.fail('"usernameVerified" is not true or false');
        } else if (
          key == "action" || key == "documentId" || key == "documentVersionId" ||
          key == "username" || key == "tenant" || key == "requestId"
        ) {
          if (this.peek() != 0x22) return this.fail('"' + key + '" is not a string');
          const value = this.string();
          if (value === null) return null;
          if (key == "action") req.action = value;
          else if (key == "documentId") { req.documentId = value; hasDoc = true; }
          else if (key == "documentVersionId") { req.documentVersionId = value; hasVersion = true; }
          else if (key == "username") req.username = value;
          else if (key == "tenant") req.tenant = value;
          else req.requestId = value;
        } else if (!this.skip(0)) {
          return null;
        }
        this.space();
        const c = this.peek();
        this.pos++;
        if (c == 0x7d) break; // }
        if (c != 0x2c) return this.fail("expected ',' or '}' at offset " + (this.pos - 1).toString());
      }
    }
    this.space();
    if (this.pos < this.text.length) return this.fail("unexpected text after the object");
    if (!hasDoc || !hasVersion) return this.fail("documentId or documentVersionId is missing");
    return req;
  }

  /** A capability reply; never null: an odd reply is a failed Reply saying why. */
  reply(): Reply {
    const r = new Reply();
    let hasOk = false;
    this.space();
    if (!this.expect(0x7b, "an object")) return this.badReply(r);
    this.space();
    if (this.peek() == 0x7d) {
      this.pos++;
    } else {
      while (true) {
        this.space();
        const key = this.string();
        if (key === null) return this.badReply(r);
        this.space();
        if (!this.expect(0x3a, "':'")) return this.badReply(r);
        this.space();
        const c = this.peek();
        if (key == "headers" && c == 0x7b) {
          const map = this.stringMap(key);
          if (map === null) return this.badReply(r);
          r.headers = map;
        } else if ((key == "error" || key == "body" || key == "value") && c == 0x22) {
          const value = this.string();
          if (value === null) return this.badReply(r);
          if (key == "error") r.error = value;
          else if (key == "body") r.body = value;
          else r.value = value;
        } else {
          const start = this.pos;
          if (!this.skip(0)) return this.badReply(r);
          const raw = this.text.substring(start, this.pos);
          if (key == "ok") { r.ok = raw == "true"; hasOk = true; }
          else if (key == "existed") r.existed = raw == "true";
          else if (key == "status") r.status = I32.parseInt(raw, 10);
          else if (key == "value" && (c == 0x2d || (c >= 0x30 && c <= 0x39))) r.value = raw; // kv.increment's number
        }
        this.space();
        const d = this.peek();
        this.pos++;
        if (d == 0x7d) break;
        if (d != 0x2c) { this.fail("expected ',' or '}' at offset " + (this.pos - 1).toString()); return this.badReply(r); }
      }
    }
    if (!hasOk) { this.fail('no "ok" field'); return this.badReply(r); }
    if (!r.ok && r.error == "") r.error = "the call failed without saying why";
    return r;
  }

  badReply(r: Reply): Reply {
    r.ok = false;
    r.error = "Docket's reply is not the JSON expected: " + this.error;
    return r;
  }

  stringMap(name: string): Map<string, string> | null {
    const map = new Map<string, string>();
    if (this.peek() != 0x7b) { this.fail('"' + name + '" is not an object'); return null; }
    this.pos++;
    this.space();
    if (this.peek() == 0x7d) { this.pos++; return map; }
    while (true) {
      this.space();
      const key = this.string();
      if (key === null) return null;
      this.space();
      if (!this.expect(0x3a, "':'")) return null;
      this.space();
      if (this.peek() != 0x22) { this.fail(name + '["' + key + '"] is not a string'); return null; }
      const value = this.string();
      if (value === null) return null;
      if (!map.has(key)) map.set(key, value); // a repeated key keeps its first value
      this.space();
      const c = this.peek();
      this.pos++;
      if (c == 0x7d) return map;
      if (c != 0x2c) { this.fail("expected ',' or '}' in \"" + name + '"'); return null; }
    }
    return null; // not reached
  }

  /** A JSON string at pos, unescaped; null if malformed. */
  string(): string | null {
    if (this.peek() != 0x22) { this.fail("expected a string at offset " + this.pos.toString()); return null; }
    const text = this.text;
    const n = text.length;
    let i = this.pos + 1;
    // Fast path: no escapes.
    let j = i;
    while (j < n) {
      const c = text.charCodeAt(j);
      if (c == 0x22 || c == 0x5c || c < 0x20) break;
      j++;
    }
    if (j < n && text.charCodeAt(j) == 0x22) {
      this.pos = j + 1;
      return text.substring(i, j);
    }
    // Find the closing quote; unescaping never makes the string longer.
    while (j < n) {
      const c = text.charCodeAt(j);
      if (c == 0x22) break;
      j += c == 0x5c ? 2 : 1;
    }
    const out = new Uint16Array(min(j, n) - i);
    let len = 0;
    while (true) {
      if (i >= n) { this.fail("unterminated string"); return null; }
      const c = text.charCodeAt(i++);
      if (c == 0x22) break;
      if (c < 0x20) { this.fail("control character in a string"); return null; }
      if (c != 0x5c) { out[len++] = <u16>c; continue; }
      if (i >= n) { this.fail("unterminated string"); return null; }
      const e = text.charCodeAt(i++);
      if (e == 0x22 || e == 0x5c || e == 0x2f) out[len++] = <u16>e;
      else if (e == 0x62) out[len++] = 0x08; // b
      else if (e == 0x66) out[len++] = 0x0c; // f
      else if (e == 0x6e) out[len++] = 0x0a; // n
      else if (e == 0x72) out[len++] = 0x0d; // r
      else if (e == 0x74) out[len++] = 0x09; // t
      else if (e == 0x75) { // u
        let code = this.hex4(i);
        if (code < 0) { this.fail("bad \\u escape"); return null; }
        i += 4;
        if (code >= 0xd800 && code <= 0xdbff) {
          const low = i + 6 <= n && text.charCodeAt(i) == 0x5c && text.charCodeAt(i + 1) == 0x75 ? this.hex4(i + 2) : -1;
          if (low >= 0xdc00 && low <= 0xdfff) {
            out[len++] = <u16>code;
            code = low;
            i += 6;
          } else code = 0xfffd;
        } else if (code >= 0xdc00 && code <= 0xdfff) code = 0xfffd;
        out[len++] = <u16>code;
      } else { this.fail("bad escape in a string"); return null; }
    }
    this.pos = i;
    return String.UTF16.decodeUnsafe(out.dataStart, <usize>len << 1);
  }

  hex4(at: i32): i32 {
    if (at + 4 > this.text.length) return -1;
    let code = 0;
    for (let k = 0; k < 4; k++) {
      const c = this.text.charCodeAt(at + k);
      let d = -1;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      if (d < 0) return -1;
      code = code * 16 + d;
    }
    return code;
  }

  /** Checks and skips any JSON value (nesting limited, so deep input cannot overflow the stack). */
  skip(depth: i32): bool {
    if (depth > 64) { this.fail("nested too deeply"); return false; }
    const c = this.peek();
    if (c == 0x22) return this.string() !== null;
    if (c == 0x7b || c == 0x5b) { // { or [
      const close = c == 0x7b ? 0x7d : 0x5d;
      this.pos++;
      this.space();
      if (this.peek() == close) { this.pos++; return true; }
      while (true) {
        this.space();
        if (c == 0x7b) {
          if (this.string() === null) return false;
          this.space();
          if (!this.expect(0x3a, "':'")) return false;
          this.space();
        }
        if (!this.skip(depth + 1)) return false;
        this.space();
        const d = this.peek();
        this.pos++;
        if (d == close) return true;
        if (d != 0x2c) { this.fail("expected ',' at offset " + (this.pos - 1).toString()); return false; }
      }
    }
    if (this.word("true") || this.word("false") || this.word("null")) return true;
    // A number: -?digits[.digits][e[+-]digits]
    const start = this.pos;
    if (this.peek() == 0x2d) this.pos++;
    const first = this.peek();
    const digits = this.digits();
    if (digits == 0) { this.pos = start; this.fail("unexpected character at offset " + start.toString()); return false; }
    if (first == 0x30 && digits > 1) return this.bad(start); // no leading zeros
    if (this.peek() == 0x2e) { this.pos++; if (this.digits() == 0) return this.bad(start); }
    if (this.peek() == 0x65 || this.peek() == 0x45) {
      this.pos++;
      if (this.peek() == 0x2b || this.peek() == 0x2d) this.pos++;
      if (this.digits() == 0) return this.bad(start);
    }
    return true;
  }

  digits(): i32 {
    let count = 0;
    while (this.peek() >= 0x30 && this.peek() <= 0x39) { this.pos++; count++; }
    return count;
  }

  word(w: string): bool {
    if (this.text.substr(this.pos, w.length) != w) return false;
    this.pos += w.length;
    return true;
  }

  bad(start: i32): bool {
    this.fail("bad number at offset " + start.toString());
    return false;
  }

  /** The code unit at pos, or -1 at the end. */
  peek(): i32 {
    return this.pos < this.text.length ? <i32>this.text.charCodeAt(this.pos) : -1;
  }

  space(): void {
    while (true) {
      const c = this.peek();
      if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) return;
      this.pos++;
    }
  }

  expect(c: i32, what: string): bool {
    if (this.peek() == c) { this.pos++; return true; }
    this.fail("expected " + what + " at offset " + this.pos.toString());
    return false;
  }

  fail(message: string): Request | null {
    if (this.error == "") this.error = message;
    return null;
  }
}
