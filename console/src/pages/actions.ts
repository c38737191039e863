// The tenant's actions: each with its display name, kind, live version, and
// (from the live version's manifest) its ABI, limits and granted
// capabilities. Each links to its versions (action-detail.ts).
import { api, seg } from '../api';
import { append, h, replace } from '../dom';
import { grantsOf, limitsOf, readTables } from '../manifest';
import type { Action, VersionDetail } from '../model';
import { tenantHref } from '../route';
import type { Ctx } from '../types';
import { code, describe, emptyState, errorParagraph, loading, pageHeading, pairList, scrollingTable, tableOfRows } from '../ui';

export function mount(root: HTMLElement, ctx: Ctx): void {
  const body = h('div', {}, loading('actions'));
  append(
    root,
    pageHeading('Actions'),
    h('p', { class: 'lede' }, 'Every action and document provider of this tenant, with the version Workfront reaches now.'),
    body,
  );
  void load(body, ctx);
}

async function load(body: HTMLElement, ctx: Ctx): Promise<void> {
  let actions: Action[];
  try {
    actions = (await api<{ actions: Action[] }>('GET', `/tenants/${seg(ctx.tenant)}/actions`)).actions;
  } catch (error) {
    replace(body, errorParagraph(error));
    return;
  }
  if (actions.length === 0) {
    replace(body, emptyState('No actions yet — ', h('a', { href: tenantHref(ctx.tenant, 'deploy') }, 'deploy one'), '.'));
    return;
  }
  // One row per action first; each live version's manifest fills in after.
  const rows = actions.map((action) => actionRow(ctx.tenant, action));
  replace(
    body,
    scrollingTable(
      'Actions',
      tableOfRows('Actions', ['Display name', 'Name', 'Kind', 'Live version', 'ABI', 'Limits', 'Capabilities granted'], rows.map((row) => row.element), { hiddenCaption: true }),
    ),
    h('p', {}, h('a', { href: tenantHref(ctx.tenant, 'deploy') }, 'Deploy an action or a new version')),
  );
  await Promise.all(rows.map((row) => row.fill()));
}

function actionRow(tenant: string, action: Action): { element: HTMLTableRowElement; fill: () => Promise<void> } {
  const abi = h('td', {}, '…');
  const limits = h('td', {}, '…');
  const grants = h('td', {}, '…');
  const element = h(
    'tr',
    {},
    h('th', { scope: 'row' }, h('a', { href: tenantHref(tenant, 'actions', action.name) }, action.displayName)),
    h('td', {}, code(action.name)),
    h('td', {}, action.kind === 'provider' ? `provider${action.endpoints?.length ? ` (${action.endpoints.join(', ')})` : ''}` : 'action'),
    h('td', { class: 'num' }, `v${action.liveVersion}`, h('span', { class: 'muted' }, ` of ${action.versions}`)),
    abi,
    limits,
    grants,
  );
  const fill = async () => {
    try {
      const live = await api<VersionDetail>(
        'GET',
        `/tenants/${seg(tenant)}/actions/${seg(action.name)}/versions/${action.liveVersion}`,
      );
      const tables = readTables(live.manifest);
      replace(abi, live.abi ?? 'unknown');
      replace(limits, pairList(limitsOf(tables), 'defaults'));
      replace(grants, pairList(grantsOf(tables), 'none'));
    } catch (error) {
      replace(abi, '—');
      replace(limits, h('span', { class: 'form-error' }, describe(error)));
      replace(grants, '—');
    }
  };
  return { element, fill };
}
