// "Set up Workfront": what a Workfront admin pastes into the custom
// integration (README, "Pointing Workfront at Docket"), and where the
// tenant stands against its quotas.
import { api, seg } from '../api';
import { append, h, replace } from '../dom';
import type { Tenant } from '../model';
import { tenantHref } from '../route';
import type { Ctx } from '../types';
import { baseApiUrl, code, copyField, dataTable, errorParagraph, formatBytes, loading, pageHeading, scrollingTable } from '../ui';

export function mount(root: HTMLElement, ctx: Ctx): void {
  const baseUrl = baseApiUrl(ctx.session, ctx.tenant);
  const keysHref = tenantHref(ctx.tenant, 'keys');
  const usage = h('section', { 'aria-labelledby': 'usage-heading' }, h('h2', { id: 'usage-heading' }, 'Usage and quotas'), loading('usage'));

  append(
    root,
    pageHeading('Set up Workfront'),
    h('p', { class: 'lede' }, `What to enter in Workfront so its users can run tenant ${ctx.tenant}'s actions.`),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'connection-heading' },
      h('h2', { id: 'connection-heading' }, 'Connection'),
      copyField('Base API URL', baseUrl),
      h(
        'dl',
        { class: 'facts' },
        h('dt', {}, 'Authentication type'),
        h('dd', {}, 'ApiKey'),
        h('dt', {}, 'API key'),
        h(
          'dd',
          {},
          "A webhook key of this tenant. Workfront sends it in the ",
          code('apiKey'),
          ' header (and the user in ',
          code('username'),
          '). Keys are shown only when made: ',
          h('a', { href: keysHref }, 'create one on the Keys page'),
          '.',
        ),
      ),
    ),
    h(
      'section',
      { class: 'panel', 'aria-labelledby': 'steps-heading' },
      h('h2', { id: 'steps-heading' }, 'Steps in Workfront'),
      h(
        'ol',
        { class: 'steps' },
        h('li', {}, 'In Workfront: ', h('strong', {}, 'Setup → Documents → Custom Integrations → Add Integration'), '.'),
        h(
          'li',
          {},
          h('strong', {}, 'Base API URL'),
          ': the URL above. For a real integration Docket sits behind a TLS proxy and is started with ',
          code('--public-url https://…'),
          ', which is what this URL shows.',
        ),
        h(
          'li',
          {},
          h('strong', {}, 'Authentication type'),
          ': ApiKey. ',
          h('strong', {}, 'API key'),
          ": the tenant's webhook key. Workfront sends it as the ",
          code('apiKey'),
          ' header, with the user in ',
          code('username'),
          '.',
        ),
        h(
          'li',
          {},
          'Optional ',
          h('strong', {}, 'request parameters'),
          ' are appended to every call; they reach actions as ',
          code('params'),
          ' (e.g. ',
          code('stage=legal'),
          ').',
        ),
        h(
          'li',
          {},
          'Save, then refresh: Workfront calls ',
          code('serviceInfo'),
          ' and lists each action under ',
          h('strong', {}, 'Document Actions'),
          ' by its display name.',
        ),
      ),
      h(
        'p',
        { class: 'help' },
        "Workfront's connection check is its call to serviceInfo, which takes no credential: a successful save proves the Base API URL, not the key; the key is checked at a user's first action.",
      ),
    ),
    usage,
  );

  api<Tenant>('GET', `/tenants/${seg(ctx.tenant)}`).then(
    (tenant) => replace(usage, usage.firstChild, ...usageView(tenant)),
    (error) => replace(usage, usage.firstChild, errorParagraph(error)),
  );
}

function usageView(tenant: Tenant): Node[] {
  const q = tenant.quotas;
  const u = tenant.usage;
  const row = (what: string, used: string | null, limit: string) => [
    document.createTextNode(what),
    document.createTextNode(used ?? '—'),
    document.createTextNode(limit),
  ];
  const rows = [
    row('Actions', String(u?.actions ?? tenant.actions), String(q.maxActions)),
    row('Stored bytes', u ? formatBytes(u.storageBytes) : null, formatBytes(q.maxStorageBytes)),
    row('Invocations running at once', u ? String(u.inFlight) : null, String(q.maxConcurrency)),
    row('Module size', null, formatBytes(q.maxModuleBytes)),
    row('Versions kept per action', null, String(q.maxVersions)),
    row('Guest memory in flight', null, `${q.maxMemoryMb} MiB`),
    row('Run log records kept', null, String(q.maxInvocationRecords)),
  ];
  return [
    scrollingTable('Usage and quotas', dataTable('Usage against quotas', ['What', 'Used now', 'Quota'], rows, { hiddenCaption: true })),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Failure word'),
      h('dd', {}, code(tenant.failureWord), ' — failures answer ', code(`{"status":"${tenant.failureWord}"}`), '. ', h('a', { href: tenantHref(tenant.name, 'settings') }, 'Change it in Settings'), '.'),
      h('dt', {}, 'State'),
      h('dd', {}, tenant.suspended ? 'Suspended: every webhook call is refused with 403.' : 'Active'),
      tenant.declarative ? h('dt', {}, 'Managed') : null,
      tenant.declarative ? h('dd', {}, 'From manifest files on the server (--manifests): actions, keys and the failure word change there, not here.') : null,
    ),
  ];
}
