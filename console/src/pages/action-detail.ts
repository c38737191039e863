// One action (#/tenant/<t>/actions/<name>): its versions with the live one
// marked, rollback to a kept version, the live manifest, and deletion.
// Every change asks first.
import { api, seg } from '../api';
import { append, h, replace } from '../dom';
import { grantsOf, limitsOf, readTables } from '../manifest';
import type { Action, Version, VersionDetail } from '../model';
import { go, tenantHref } from '../route';
import type { Ctx } from '../types';
import {
  alertRegion,
  confirmButton,
  errorParagraph,
  formatBytes,
  loading,
  pageHeading,
  pairList,
  scrollingTable,
  tableOfRows,
  showError,
  statusRegion,
  timeElement,
} from '../ui';

export function mount(root: HTMLElement, ctx: Ctx): void {
  const name = ctx.subpath?.[0] ?? '';
  const base = `/tenants/${seg(ctx.tenant)}/actions/${seg(name)}`;
  const summary = h('div', {}, loading('the action'));
  const versions = h('div', {}, loading('versions'));
  const said = statusRegion();
  const errors = alertRegion();

  const reload = async () => {
    try {
      const [list, all] = await Promise.all([
        api<{ versions: Version[] }>('GET', `${base}/versions`),
        api<{ actions: Action[] }>('GET', `/tenants/${seg(ctx.tenant)}/actions`),
      ]);
      const action = all.actions.find((a) => a.name === name);
      const sorted = [...list.versions].sort((a, b) => b.version - a.version);
      replace(versions, versionTable(sorted, rollbackTo));
      const live = sorted.find((v) => v.live);
      if (live) await showSummary(live.version, action);
    } catch (error) {
      replace(versions, errorParagraph(error));
      replace(summary);
    }
  };

  const showSummary = async (liveVersion: number, action: Action | undefined) => {
    const detail = await api<VersionDetail>('GET', `${base}/versions/${liveVersion}`);
    const tables = readTables(detail.manifest);
    replace(
      summary,
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Display name'),
        h('dd', {}, action?.displayName ?? name),
        h('dt', {}, 'Kind'),
        h('dd', {}, action?.kind ?? 'action'),
        h('dt', {}, 'Live version'),
        h('dd', {}, `v${liveVersion}`),
        h('dt', {}, 'ABI'),
        h('dd', {}, detail.abi ?? 'unknown'),
        h('dt', {}, 'Limits'),
        h('dd', {}, pairList(limitsOf(tables), 'defaults')),
        h('dt', {}, 'Capabilities granted'),
        h('dd', {}, pairList(grantsOf(tables), 'none')),
      ),
      h('details', {}, h('summary', {}, `Manifest of v${liveVersion}`), h('pre', { class: 'code-block', tabindex: 0 }, detail.manifest)),
    );
  };

  const rollbackTo = async (version: number) => {
    const done = await api<{ name: string; version: number }>('POST', `${base}/rollback`, { version });
    replace(said, `Rolled back: version ${done.version} of ${done.name} is live now.`);
    await reload();
    // The table was redrawn without the button that had focus.
    root.querySelector<HTMLElement>('#versions-heading')?.focus();
  };

  append(
    root,
    pageHeading(`Action ${name}`),
    h(
      'p',
      { class: 'actions' },
      h('a', { href: tenantHref(ctx.tenant, 'try', name) }, 'Try it'),
      h('a', { href: tenantHref(ctx.tenant, 'deploy') }, 'Deploy a new version'),
      h('a', { href: tenantHref(ctx.tenant, 'actions') }, 'All actions'),
    ),
    h('section', { 'aria-labelledby': 'live-heading' }, h('h2', { id: 'live-heading' }, 'Live version'), summary),
    h('section', { 'aria-labelledby': 'versions-heading' }, h('h2', { id: 'versions-heading', tabindex: -1 }, 'Versions'), said, versions),
    h(
      'section',
      { class: 'panel danger-zone', 'aria-labelledby': 'delete-heading' },
      h('h2', { id: 'delete-heading' }, 'Delete this action'),
      h('p', {}, 'Workfront stops listing it at its next refresh; every version is removed.'),
      errors,
      confirmButton({
        label: `Delete ${name}`,
        question: `Delete ${name} and all its versions?`,
        confirmLabel: `Yes, delete ${name}`,
        act: async () => {
          showError(errors, null);
          await api<void>('DELETE', base);
          go(tenantHref(ctx.tenant, 'actions'));
        },
      }),
    ),
  );
  void reload();
}

function versionTable(versions: Version[], rollbackTo: (version: number) => Promise<void>): Node {
  if (versions.length === 0) return h('p', { class: 'empty-state' }, 'No versions kept.');
  const rows = versions.map((v) =>
    h(
      'tr',
      { class: v.live ? 'live-row' : undefined },
      h('th', { scope: 'row', class: 'num' }, `v${v.version}`),
      h('td', {}, v.live ? h('strong', {}, 'Live') : '—'),
      h('td', {}, v.abi),
      h('td', { class: 'num' }, formatBytes(v.size)),
      h('td', {}, h('code', { title: v.hash }, `${v.hash.slice(0, 12)}…`)),
      h('td', {}, timeElement(v.createdAt)),
      h(
        'td',
        {},
        v.live
          ? ''
          : confirmButton({
              label: `Roll back to v${v.version}`,
              question: `Make version ${v.version} live?`,
              confirmLabel: `Yes, roll back to v${v.version}`,
              act: () => rollbackTo(v.version),
              danger: false,
            }),
      ),
    ),
  );
  return scrollingTable(
    'Versions',
    tableOfRows('Versions, newest first', ['Version', 'Live', 'ABI', 'Size', 'Module hash', 'Deployed', 'Rollback'], rows, { hiddenCaption: true }),
  );
}
