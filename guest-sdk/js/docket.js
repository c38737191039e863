// Docket actions in JavaScript: the component ABI (world docket:action/action),
// built with componentize-js. An action is
//
//   export const run = action((req) => success('done'));
//
// where `req` has action, documentId, documentVersionId, username, tenant,
// requestId (strings), usernameVerified (a boolean: true only when the username
// was proven by the user's sign-in, Workfront's OAuth2 mode; false in ApiKey
// mode, where anyone holding the tenant's key can send any username), params
// and config (objects of strings) and secrets (the tenant secrets the manifest
// grants, an object of strings; {} when none), and
// the handler returns (or throws) success(message?), forbidden(message),
// notFound(message) or failed(message). A plain string return is a success with
// that message; returning nothing is a plain success. The handler may be async.
//
// Anything else the handler throws (a TypeError, `throw new Error(...)`) is a
// failure with the exception's message: Workfront gets a 500 showing it, and
// the stack goes to the run log (stderr).
import { getAll } from 'wasi:config/store@0.2.0-rc.1';
import { usernameVerified } from 'docket:action/caller';

class Outcome {
  constructor(tag, val) {
    this.tag = tag; // 'ok' | 'err', what componentize-js maps onto result<_, _>
    this.val = val;
  }
}

/** Success, with an optional message for the Workfront user. */
export const success = (message) =>
  new Outcome('ok', message == null ? undefined : String(message));
/** The user may not do this (HTTP 403). */
export const forbidden = (message) => failure('forbidden', message);
/** The document, or something it needs, does not exist (HTTP 404). */
export const notFound = (message) => failure('not-found', message);
/** Anything else went wrong (HTTP 500). */
export const failed = (message) => failure('failed', message);

function failure(kind, message) {
  return new Outcome('err', { tag: kind, val: message == null ? 'action failed' : String(message) });
}

/** Wraps `handler(req)` as the component's exported `run`. */
export function action(handler) {
  return (raw) => {
    const config = table(raw.config);
    const req = {
      action: raw.action,
      documentId: raw.documentId,
      documentVersionId: raw.documentVersionId,
      username: raw.username,
      usernameVerified: usernameVerified() === true,
      params: table(raw.params),
      config,
      secrets: secrets(config),
      tenant: raw.tenant,
      requestId: raw.requestId,
    };
    try {
      const out = handler(req);
      return out && typeof out.then === 'function' ? out.then(answer, thrown) : answer(out);
    } catch (e) {
      return thrown(e);
    }
  };
}

// An object without a prototype, so a key like "constructor" or "__proto__" is
// just a key; a repeated key keeps its first value.
function table(pairs) {
  const obj = Object.create(null);
  for (const [key, value] of pairs) if (!(key in obj)) obj[key] = value;
  return obj;
}

// wasi:config/store holds the config and the granted secrets; the secrets are
// the entries that are not config.
function secrets(config) {
  let all = [];
  try {
    all = getAll();
  } catch {
    // the store answered an error: no secrets
  }
  return table(all.filter(([key]) => !(key in config)));
}

function answer(out) {
  if (out instanceof Outcome) return out;
  if (out === undefined || out === null) return success();
  if (typeof out === 'string') return success(out);
  return failed(`the action returned ${typeof out}; return success(), forbidden(), notFound() or failed()`);
}

function thrown(e) {
  if (e instanceof Outcome) return e;
  // Any other exception is the action's failure, worded by the exception:
  // the Workfront user sees its message (as `failed`), the run log its stack.
  console.error(e && e.stack ? e.stack : String(e));
  const message = e instanceof Error ? e.message : String(e);
  return failed(message || 'the action threw an exception');
}
