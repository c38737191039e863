// The console's only way to the server: the public admin API under
// /admin/v1, authenticated by the HttpOnly session cookie. Requests that
// change something carry the session's CSRF token.
import type { Session } from './types';

const BASE = '/admin/v1';

/** An answer other than 2xx, with the server's own wording. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let session: Session | null = null;
let onSignedOut: (message: string) => void = () => {};

/** The current session; null when signed out. */
export function currentSession(): Session | null {
  return session;
}

/** Remembers the session (in memory only) after sign-in or on load. */
export function setSession(next: Session | null): void {
  session = next;
}

/** Called with the server's message when any call answers 401. */
export function whenSignedOut(handler: (message: string) => void): void {
  onSignedOut = handler;
}

/** Percent-encodes one path segment. */
export const seg = encodeURIComponent;

/**
 * Calls the admin API. `path` is relative to /admin/v1 (`/tenants/acme`).
 * A plain object body is sent as JSON, FormData as multipart. Resolves to
 * the parsed JSON (undefined for 204); rejects with an ApiError.
 */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD' && session) {
    headers['X-CSRF-Token'] = session.csrfToken;
  }
  let payload: BodyInit | undefined;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let response: Response;
  try {
    response = await fetch(BASE + path, {
      method,
      headers,
      body: payload,
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(0, 'The server cannot be reached. Check that Docket is running.');
  }
  const text = await response.text();
  const json = parseJson(text);
  if (!response.ok) {
    throw refusal(response.status, response.statusText, text, json, path);
  }
  return json as T;
}

/**
 * The ApiError for a non-2xx answer, with the server's `error` wording when
 * it gave one. A 401 (other than on /session itself, which is how the
 * console asks whether it is signed in) means the session ended.
 */
function refusal(status: number, statusText: string, text: string, json: unknown, path: string): ApiError {
  const message =
    json && typeof json === 'object' && 'error' in json && typeof json.error === 'string'
      ? json.error
      : text || `${status} ${statusText}`;
  if (status === 401 && path !== '/session') {
    session = null;
    onSignedOut(message);
  }
  return new ApiError(status, message);
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Where an upload is: sending bytes (with a fraction when known), or waiting for the answer. */
export type UploadProgress = { phase: 'sending'; fraction: number | null } | { phase: 'waiting' };

/**
 * POSTs a multipart form like api(), through XMLHttpRequest because fetch
 * reports no upload progress: `onProgress` hears how much is sent, then
 * that the server has it all (and is compiling, for a deploy).
 */
export function apiUpload<T>(
  path: string,
  form: FormData,
  onProgress: (progress: UploadProgress) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('POST', BASE + path);
    request.setRequestHeader('Accept', 'application/json');
    if (session) request.setRequestHeader('X-CSRF-Token', session.csrfToken);
    request.upload.addEventListener('progress', (event) => {
      onProgress({ phase: 'sending', fraction: event.lengthComputable ? event.loaded / event.total : null });
    });
    request.upload.addEventListener('load', () => onProgress({ phase: 'waiting' }));
    request.addEventListener('load', () => {
      const text = request.responseText;
      const json = parseJson(text);
      if (request.status >= 200 && request.status < 300) {
        resolve(json as T);
      } else {
        reject(refusal(request.status, request.statusText, text, json, path));
      }
    });
    const unreachable = () =>
      reject(new ApiError(0, 'The server cannot be reached. Check that Docket is running.'));
    request.addEventListener('error', unreachable);
    request.addEventListener('abort', unreachable);
    request.send(form);
  });
}
