// The operator's tenants: usage against quotas, create (its secrets shown
// once), suspend/resume (asked first), quota overrides, and a way into
// each tenant's own pages.
import { api, seg } from '../api';
import { append, h, replace } from '../dom';
import type { NewTenant, Tenant } from '../model';
import { tenantHref } from '../route';
import type { Ctx } from '../types';
import {
  alertRegion,
  code,
  confirmButton,
  copyField,
  errorParagraph,
  field,
  formatBytes,
  loading,
  pageHeading,
  scrollingTable,
  tableOfRows,
  showError,
  statusRegion,
} from '../ui';

const MIB = 1024 * 1024;

export function mount(root: HTMLElement, _ctx: Ctx): void {
  const list = h('div', {}, loading('tenants'));
  const said = statusRegion();
  const quotaPanel = h('div', {});

  const reload = async () => {
    try {
      const { tenants } = await api<{ tenants: Tenant[] }>('GET', '/tenants');
      replace(list, tenantTable(tenants, { setSuspended, editQuotas }));
    } catch (error) {
      replace(list, errorParagraph(error));
    }
  };

  const setSuspended = async (tenant: Tenant, suspended: boolean) => {
    await api<unknown>('PATCH', `/tenants/${seg(tenant.name)}`, { suspended });
    replace(said, suspended ? `Tenant ${tenant.name} suspended: its webhook calls and sessions are refused.` : `Tenant ${tenant.name} resumed.`);
    await reload();
    // The table was redrawn: put focus on the same tenant's opposite button.
    list.querySelector<HTMLElement>(`button[aria-label="${suspended ? 'Resume' : 'Suspend'} ${tenant.name}"]`)?.focus();
  };

  const quotasButton = (tenant: Tenant) => list.querySelector<HTMLElement>(`button[aria-label="Change quotas of ${tenant.name}"]`);
  const editQuotas = (tenant: Tenant) => {
    replace(
      quotaPanel,
      quotaForm(
        tenant,
        async (message) => {
          replace(said, message);
          replace(quotaPanel);
          await reload();
          quotasButton(tenant)?.focus();
        },
        () => {
          replace(quotaPanel);
          quotasButton(tenant)?.focus();
        },
      ),
    );
    quotaPanel.querySelector<HTMLElement>('h2')?.focus();
  };

  append(
    root,
    pageHeading('Tenants'),
    said,
    list,
    quotaPanel,
    createForm(reload),
  );
  void reload();
}

interface RowActions {
  setSuspended: (tenant: Tenant, suspended: boolean) => Promise<void>;
  editQuotas: (tenant: Tenant) => void;
}

/** "used / quota" when the server reports usage, the quota alone otherwise. */
function against(used: number | undefined, quota: number, format: (n: number) => string = String): string {
  return used === undefined ? `max ${format(quota)}` : `${format(used)} / ${format(quota)}`;
}

function tenantTable(tenants: Tenant[], actions: RowActions): Node {
  if (tenants.length === 0) return h('p', { class: 'empty-state' }, 'No tenants yet — create one below.');
  const rows = tenants.map((tenant) =>
    h(
      'tr',
      {},
      h('th', { scope: 'row' }, h('a', { href: tenantHref(tenant.name, 'overview') }, tenant.name), tenant.displayName ? h('div', { class: 'muted' }, tenant.displayName) : null),
      h('td', {}, tenant.suspended ? h('strong', { class: 'suspended' }, 'Suspended') : 'Active', tenant.declarative ? h('div', { class: 'muted' }, 'from manifests') : null),
      h('td', { class: 'num' }, `${tenant.usage?.actions ?? tenant.actions} / ${tenant.quotas.maxActions}`),
      h('td', { class: 'num' }, against(tenant.usage?.storageBytes, tenant.quotas.maxStorageBytes, formatBytes)),
      h('td', { class: 'num' }, against(tenant.usage?.inFlight, tenant.quotas.maxConcurrency)),
      h(
        'td',
        { class: 'row-actions' },
        tenant.suspended
          ? confirmButton({
              label: 'Resume',
              ariaLabel: `Resume ${tenant.name}`,
              question: `Resume ${tenant.name}? Its webhook calls are served again.`,
              confirmLabel: 'Yes, resume',
              act: () => actions.setSuspended(tenant, false),
              danger: false,
            })
          : confirmButton({
              label: 'Suspend',
              ariaLabel: `Suspend ${tenant.name}`,
              question: `Suspend ${tenant.name}? Every webhook call and admin call for it is refused until resumed.`,
              confirmLabel: 'Yes, suspend',
              act: () => actions.setSuspended(tenant, true),
            }),
        h('button', { type: 'button', class: 'secondary', 'aria-label': `Change quotas of ${tenant.name}`, onclick: () => actions.editQuotas(tenant) }, 'Quotas'),
      ),
    ),
  );
  return scrollingTable(
    'Tenants',
    tableOfRows('Tenants with usage against quotas', ['Tenant', 'State', 'Actions', 'Storage', 'Running now', 'Manage'], rows, { hiddenCaption: true }),
  );
}

/**
 * Quota overrides. Fields start at the effective quota; only changed ones
 * are sent (the server merges them over the current overrides), and an
 * emptied field goes back to the operator's default.
 */
function quotaForm(tenant: Tenant, done: (message: string) => Promise<void>, cancel: () => void): HTMLElement {
  const q = tenant.quotas;
  const fields: { key: string; label: string; current: number; scale: number; hint: string }[] = [
    { key: 'maxActions', label: 'Actions', current: q.maxActions, scale: 1, hint: 'Deploys past it are refused (409).' },
    { key: 'maxConcurrency', label: 'Invocations at once', current: q.maxConcurrency, scale: 1, hint: 'Excess calls get 429.' },
    { key: 'maxModuleBytes', label: 'Module size (MiB)', current: q.maxModuleBytes, scale: MIB, hint: 'At least 1 byte; to stop deploys, suspend instead.' },
    { key: 'maxStorageBytes', label: 'Storage (MiB)', current: q.maxStorageBytes, scale: MIB, hint: 'Modules, manifests, config and secrets.' },
    { key: 'maxVersions', label: 'Versions kept per action', current: q.maxVersions, scale: 1, hint: 'At least 1; older versions are pruned.' },
  ];
  const inputs = fields.map((f) => {
    const shown = f.current / f.scale;
    const input = h('input', { type: 'number', min: 0, step: 'any', inputmode: 'decimal', value: Number.isInteger(shown) ? shown : shown.toFixed(2) });
    return { ...f, input, initial: input.value };
  });
  const error = alertRegion();
  const heading = h('h2', { tabindex: -1, id: 'quota-heading' }, `Quotas of ${tenant.name}`);
  const form = h(
    'form',
    { class: 'panel', novalidate: true, 'aria-labelledby': 'quota-heading' },
    heading,
    h('p', { class: 'help' }, 'Empty a field to go back to the operator default.'),
    h('div', { class: 'grid' }, ...inputs.map((f) => field(f.label, f.input, f.hint))),
    error,
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit' }, 'Save quotas'),
      h('button', { type: 'button', class: 'secondary', onclick: cancel }, 'Cancel'),
    ),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError(error, null);
    const quotas: Record<string, number | null> = {};
    for (const f of inputs) {
      if (f.input.value === f.initial) continue;
      if (f.input.value.trim() === '') {
        quotas[f.key] = null;
        continue;
      }
      const number = Number(f.input.value);
      if (!Number.isFinite(number) || number < 0) {
        showError(error, new Error(`${f.label}: enter a number of 0 or more.`));
        f.input.focus();
        return;
      }
      quotas[f.key] = Math.round(number * f.scale);
    }
    if (Object.keys(quotas).length === 0) {
      showError(error, new Error('Nothing changed.'));
      return;
    }
    try {
      await api<unknown>('PATCH', `/tenants/${seg(tenant.name)}`, { quotas });
      await done(`Quotas of ${tenant.name} saved.`);
    } catch (failure) {
      showError(error, failure);
    }
  });
  return form;
}

function createForm(reload: () => Promise<void>): HTMLElement {
  const name = h('input', { type: 'text', name: 'name', required: true, autocomplete: 'off', spellcheck: 'false', autocapitalize: 'none' });
  const displayName = h('input', { type: 'text', name: 'displayName', autocomplete: 'off' });
  const error = alertRegion();
  const created = h('div', {});
  const submit = h('button', { type: 'submit' }, 'Create tenant');
  const form = h(
    'form',
    { class: 'panel', novalidate: true, 'aria-labelledby': 'create-heading' },
    h('h2', { id: 'create-heading' }, 'Create a tenant'),
    field('Name', name, 'a–z, 0–9 and -, at most 63; it is part of the Base API URL.'),
    field('Display name (optional)', displayName),
    error,
    h('div', { class: 'actions' }, submit),
    created,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError(error, null);
    replace(created);
    const body: Record<string, string> = { name: name.value.trim() };
    if (displayName.value.trim()) body.displayName = displayName.value.trim();
    submit.disabled = true;
    try {
      const tenant = await api<NewTenant>('POST', '/tenants', body);
      name.value = '';
      displayName.value = '';
      replace(
        created,
        h(
          'div',
          { class: 'panel once' },
          h('p', { class: 'warning' }, h('strong', {}, `Tenant ${tenant.name} created. Copy its admin token and webhook key now: they will not be shown again.`)),
          copyField(`Admin token of ${tenant.name}`, tenant.adminToken, { secret: true }),
          copyField(`Webhook key (apiKey) of ${tenant.name}`, tenant.apiKey, { secret: true }),
          h('p', {}, h('a', { href: tenantHref(tenant.name, 'overview') }, `Open ${tenant.name}`), ' — or sign in as the tenant with its token (', code('Tenant'), ' = ', code(tenant.name), ').'),
        ),
      );
      created.querySelector('input')?.focus();
      await reload();
    } catch (failure) {
      showError(error, failure);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
