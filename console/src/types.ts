// Shapes shared by the console's modules. The admin API's own shapes are
// described in runner/openapi.json; only what the console reads is typed here.

/** The signed-in browser session (`GET /admin/v1/session`). */
export interface Session {
  role: 'tenant' | 'operator';
  /** The tenant a tenant session belongs to; null for the operator. */
  tenant: string | null;
  /** Sent back as `X-CSRF-Token` on every request that changes something. */
  csrfToken: string;
  expiresAt: string;
  /** Where Workfront reaches this server: the Base API URL is `${publicUrl}/t/${tenant}`. */
  publicUrl: string;
}

/** What every page is mounted with. */
export interface Ctx {
  session: Session;
  /** The tenant being viewed (the operator may view any tenant). */
  tenant: string;
  /**
   * Hash path segments after the page's own name, decoded: the action of
   * `#/tenant/acme/actions/archive` is `['archive']`. Empty for most pages.
   */
  subpath?: string[];
}

/**
 * A page: renders into `root`; may return a function the router calls when
 * the user navigates away (to close event streams and timers).
 */
export type Mount = (root: HTMLElement, ctx: Ctx) => void | (() => void);
