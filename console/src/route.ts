// The console's addresses live in the URL hash (`#/tenant/acme/actions`), so
// the server serves one page and the back button works. Segments are
// percent-encoded; nothing secret ever goes here.

export type Route =
  | { kind: 'signin' }
  | { kind: 'home' }
  | { kind: 'tenant'; tenant: string; page: string; subpath: string[] }
  | { kind: 'operator'; page: string }
  | { kind: 'unknown' };

/** Reads a hash such as `#/tenant/acme/actions/archive`. */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#\/?/, '');
  if (path === '') return { kind: 'home' };
  let parts: string[];
  try {
    parts = path.split('/').map((part) => decodeURIComponent(part));
  } catch {
    return { kind: 'unknown' };
  }
  if (parts[0] === 'signin' && parts.length === 1) return { kind: 'signin' };
  if (parts[0] === 'tenant' && parts[1]) {
    return { kind: 'tenant', tenant: parts[1], page: parts[2] || 'overview', subpath: parts.slice(3).filter(Boolean) };
  }
  if (parts[0] === 'operator') return { kind: 'operator', page: parts[1] || 'tenants' };
  return { kind: 'unknown' };
}

/** The hash of a tenant page: tenantHref('acme', 'actions', 'archive'). */
export function tenantHref(tenant: string, page: string, ...subpath: string[]): string {
  return ['#', 'tenant', tenant, page, ...subpath].map((part, i) => (i === 0 ? part : encodeURIComponent(part))).join('/');
}

/** The hash of an operator page. */
export function operatorHref(page: string): string {
  return `#/operator/${encodeURIComponent(page)}`;
}

/** Goes to a hash (the router renders on hashchange). */
export function go(hash: string): void {
  if (location.hash === hash) {
    // Same address: ask for a fresh render all the same.
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else {
    location.hash = hash;
  }
}
