// Boot and routing. On load the console asks the server whether this browser
// has a session (GET /admin/v1/session); without one it shows sign-in.
// Pages are addressed by the URL hash and mounted into <main>; navigating
// away calls the page's cleanup, moves focus to the new h1 and retitles the tab.
import { api, ApiError, currentSession, setSession, whenSignedOut } from './api';
import { append, h, replace } from './dom';
import { buildNav, operatorPages, tenantPages, type Here } from './nav';
import { mountSignin } from './pages/signin';
import { go, operatorHref, parseRoute, tenantHref, type Route } from './route';
import type { Mount, Session } from './types';
import { describe, errorParagraph, pageHeading, timeElement } from './ui';

const app = document.getElementById('app') as HTMLElement;
let cleanup: (() => void) | undefined;
let expiryTimer: number | undefined;
/** The address asked for while signed out, to go on to after sign-in. */
let wanted: string | undefined;
/** Whether anything was rendered yet: focus moves only on later navigation. */
let rendered = false;

/** The page a session lands on. */
function homeOf(session: Session): string {
  return session.role === 'tenant' && session.tenant ? tenantHref(session.tenant, 'overview') : operatorHref('tenants');
}

function runCleanup(): void {
  const previous = cleanup;
  cleanup = undefined;
  try {
    previous?.();
  } catch (error) {
    console.error('page cleanup failed', error);
  }
}

/** The banner: product name and, when signed in, who and until when, with Sign out. */
function buildHeader(session: Session | null): HTMLElement {
  const header = h('header', { class: 'site-header' }, h('p', { class: 'brand' }, 'Docket console'));
  if (session) {
    const who = session.role === 'operator' ? 'the operator' : `tenant ${session.tenant ?? ''}`;
    const signOut = h('button', { type: 'button', class: 'secondary' }, 'Sign out');
    signOut.addEventListener('click', async () => {
      signOut.disabled = true;
      try {
        await api<void>('DELETE', '/session');
      } catch (error) {
        // A session the server no longer knows is signed out all the same.
        if (!(error instanceof ApiError && error.status === 401)) {
          signOut.disabled = false;
          window.alert(`Signing out failed: ${describe(error)}`);
          return;
        }
      }
      signedOut('You are signed out.', false);
    });
    append(
      header,
      h(
        'div',
        { class: 'who' },
        h('p', {}, 'Signed in as ', h('strong', {}, who), h('span', { class: 'expiry' }, ' · session ends ', timeElement(session.expiresAt))),
        signOut,
      ),
    );
  }
  return header;
}

/** A skip link that focuses <main> without touching the hash (the hash is the router's). */
function skipLink(main: HTMLElement): HTMLAnchorElement {
  const link = h('a', { class: 'skip-link', href: '#main' }, 'Skip to content');
  link.addEventListener('click', (event) => {
    event.preventDefault();
    main.focus();
  });
  return link;
}

/** Lays out header, nav and main; returns main for the page. */
function layout(session: Session | null, nav: HTMLElement | null): HTMLElement {
  const main = h('main', { id: 'main', tabindex: -1 });
  replace(app, skipLink(main), buildHeader(session), h('div', { class: nav ? 'layout' : 'layout single' }, nav, main));
  return main;
}

/**
 * Ends the session in this tab (it already ended at the server) and shows
 * sign-in. A session that ended by itself returns to where it was after
 * the next sign-in; one the user signed out of does not.
 */
function signedOut(message: string, returnHere = true): void {
  runCleanup();
  setSession(null);
  window.clearTimeout(expiryTimer);
  const here = parseRoute(location.hash);
  wanted = returnHere && here.kind !== 'signin' && here.kind !== 'home' ? location.hash : undefined;
  renderSignin(message);
  if (location.hash !== '#/signin') history.replaceState(null, '', '#/signin');
}

function renderSignin(message?: string): void {
  const main = layout(null, null);
  const root = h('div', { class: 'page' });
  main.append(root);
  mountSignin(root, {
    message,
    onSignedIn: (session) => {
      watchExpiry(session);
      const next = wanted && fits(session, parseRoute(wanted)) ? wanted : homeOf(session);
      wanted = undefined;
      go(next);
    },
  });
  finish(main, 'Sign in');
}

/** Whether a session may open an address (so sign-in does not land on a refusal). */
function fits(session: Session, route: Route): boolean {
  if (session.role === 'operator') return route.kind === 'tenant' || route.kind === 'operator';
  return route.kind === 'tenant' && route.tenant === session.tenant;
}

/** Checks the session when it is due to end, so the page does not sit there stale. */
function watchExpiry(session: Session): void {
  window.clearTimeout(expiryTimer);
  const due = Date.parse(session.expiresAt) - Date.now() + 1000;
  // setTimeout overflows past 2^31 ms; a session that long is checked by its next call.
  if (!Number.isFinite(due) || due > 2 ** 31 - 1) return;
  expiryTimer = window.setTimeout(async () => {
    try {
      const still = await api<Session>('GET', '/session');
      setSession(still);
      watchExpiry(still);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) signedOut(`Your session ended: ${error.message}. Sign in again.`);
    }
  }, Math.max(due, 1000));
}

/** A page that refuses without calling the API (another tenant's address, an unknown one). */
function refusal(title: string, ...lines: (Node | string)[]): Mount {
  return (root) => {
    append(root, pageHeading(title), ...lines.map((line) => h('p', {}, line)));
  };
}

/** Moves focus to the new page's h1 (after the first render) and sets the tab's title. */
function finish(main: HTMLElement, fallbackTitle: string): void {
  const heading = main.querySelector('h1');
  const title = heading?.textContent?.trim() || fallbackTitle;
  document.title = `${title} · Docket console`;
  if (rendered) {
    if (heading) {
      if (!heading.hasAttribute('tabindex')) heading.setAttribute('tabindex', '-1');
      heading.focus();
    } else {
      main.focus();
    }
  }
  rendered = true;
}

function render(): void {
  runCleanup();
  const session = currentSession();
  const route = parseRoute(location.hash);
  if (!session) {
    if (route.kind !== 'signin' && route.kind !== 'home') wanted = location.hash;
    renderSignin();
    if (location.hash !== '#/signin') history.replaceState(null, '', '#/signin');
    return;
  }
  if (route.kind === 'home' || route.kind === 'signin') {
    go(homeOf(session));
    return;
  }

  const own = session.role === 'tenant' ? session.tenant ?? '' : '';
  let mount: Mount;
  let here: Here = {};
  let tenant = own;
  let subpath: string[] = [];
  let label = 'Docket console';

  if (route.kind === 'tenant') {
    const entry = tenantPages.find((page) => page.id === route.page);
    if (session.role === 'tenant' && route.tenant !== own) {
      // Never call the API for another tenant: the server would refuse too,
      // but the console does not even ask.
      mount = refusal(
        'Not this tenant',
        `This session is for tenant ${own}.`,
        h('a', { href: tenantHref(own, 'overview') }, `Go to tenant ${own}`),
      );
      here = { tenant: own };
    } else if (!entry) {
      mount = refusal('Page not found', h('a', { href: tenantHref(route.tenant, 'overview') }, `Go to tenant ${route.tenant}`));
      here = { tenant: route.tenant };
    } else {
      tenant = route.tenant;
      subpath = route.subpath;
      mount = subpath.length > 0 && entry.detail ? entry.detail : entry.mount;
      here = { tenant, page: entry.id };
      label = entry.label;
    }
  } else if (route.kind === 'operator') {
    const entry = operatorPages.find((page) => page.id === route.page);
    if (session.role !== 'operator') {
      mount = refusal(
        'Operator only',
        `This page is for the operator. This session is for tenant ${own}.`,
        h('a', { href: tenantHref(own, 'overview') }, `Go to tenant ${own}`),
      );
    } else if (!entry) {
      mount = refusal('Page not found', h('a', { href: operatorHref('tenants') }, 'Go to the tenants'));
      here = { operatorPage: 'tenants' };
    } else {
      mount = entry.mount;
      here = { operatorPage: entry.id };
      label = entry.label;
    }
  } else {
    mount = refusal('Page not found', h('a', { href: homeOf(session) }, 'Go to the start page'));
  }

  const main = layout(session, buildNav(session, here));
  const root = h('div', { class: 'page' });
  main.append(root);
  try {
    const result = mount(root, { session, tenant, subpath });
    cleanup = typeof result === 'function' ? result : undefined;
  } catch (error) {
    console.error(error);
    replace(root, pageHeading(label), h('p', { role: 'alert', class: 'form-error' }, `This page failed: ${describe(error)}`));
  }
  finish(main, label);
}

async function boot(): Promise<void> {
  whenSignedOut((message) => signedOut(`Your session ended: ${message}. Sign in again.`));
  try {
    const session = await api<Session>('GET', '/session');
    setSession(session);
    watchExpiry(session);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) {
      const main = layout(null, null);
      append(
        main,
        pageHeading('The console cannot start'),
        errorParagraph(error),
        h('p', {}, h('button', { type: 'button', onclick: () => location.reload() }, 'Try again')),
      );
      finish(main, 'Error');
      return;
    }
  }
  window.addEventListener('hashchange', render);
  render();
}

void boot();
