// The pages the console has, by who may see them, and the nav that links
// them. The router (main.ts) and the nav read the same table, so a page
// added here is both routed and linked.
import { h } from './dom';
import { operatorHref, tenantHref } from './route';
import type { Mount, Session } from './types';

import * as actions from './pages/actions';
import * as actionDetail from './pages/action-detail';
import * as deploy from './pages/deploy';
import * as keys from './pages/keys';
import * as oauth from './pages/oauth';
import * as operatorServer from './pages/operator-server';
import * as operatorTenants from './pages/operator-tenants';
import * as overview from './pages/overview';
import * as provider from './pages/provider';
import * as runs from './pages/runs';
import * as secrets from './pages/secrets';
import * as settings from './pages/settings';
import * as tryIt from './pages/try';

export interface PageEntry {
  id: string;
  label: string;
  mount: Mount;
  /** The page for `#/tenant/<t>/<id>/<more…>` (an action's detail). */
  detail?: Mount;
}

export const tenantPages: PageEntry[] = [
  { id: 'overview', label: 'Set up Workfront', mount: overview.mount },
  { id: 'actions', label: 'Actions', mount: actions.mount, detail: actionDetail.mount },
  { id: 'deploy', label: 'Deploy', mount: deploy.mount },
  { id: 'try', label: 'Try it', mount: tryIt.mount },
  { id: 'runs', label: 'Run logs', mount: runs.mount },
  { id: 'keys', label: 'Keys and token', mount: keys.mount },
  { id: 'secrets', label: 'Secrets', mount: secrets.mount },
  { id: 'provider', label: 'Document provider', mount: provider.mount },
  { id: 'oauth', label: 'OAuth2', mount: oauth.mount },
  { id: 'settings', label: 'Settings', mount: settings.mount },
];

export const operatorPages: PageEntry[] = [
  { id: 'tenants', label: 'Tenants', mount: operatorTenants.mount },
  { id: 'server', label: 'Server', mount: operatorServer.mount },
];

/** Where we are, for aria-current. */
export interface Here {
  tenant?: string;
  page?: string;
  operatorPage?: string;
}

function linkList(items: { href: string; label: string; current: boolean }[]): HTMLUListElement {
  return h(
    'ul',
    {},
    ...items.map((item) =>
      h('li', {}, h('a', { href: item.href, 'aria-current': item.current ? 'page' : undefined }, item.label)),
    ),
  );
}

/**
 * The nav for this session: a tenant sees its own pages; the operator sees
 * the operator pages and, while viewing a tenant, that tenant's pages.
 */
export function buildNav(session: Session, here: Here): HTMLElement {
  const nav = h('nav', { 'aria-label': 'Console' });
  if (session.role === 'operator') {
    nav.append(
      h('h2', { class: 'nav-heading' }, 'Operator'),
      linkList(
        operatorPages.map((page) => ({
          href: operatorHref(page.id),
          label: page.label,
          current: here.operatorPage === page.id,
        })),
      ),
    );
  }
  const tenant = session.role === 'tenant' ? session.tenant : here.tenant;
  if (tenant) {
    nav.append(
      h('h2', { class: 'nav-heading' }, `Tenant ${tenant}`),
      linkList(
        tenantPages.map((page) => ({
          href: tenantHref(tenant, page.id),
          label: page.label,
          current: here.tenant === tenant && here.page === page.id,
        })),
      ),
    );
  }
  return nav;
}
