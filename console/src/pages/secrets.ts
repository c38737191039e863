// Tenant secrets: names only. A value goes to the server (PUT, from a
// password field) and never comes back; nothing here can show one.
import { api, seg } from '../api';
import { append, h, replace } from '../dom';
import type { Secret } from '../model';
import type { Ctx } from '../types';
import {
  alertRegion,
  code,
  confirmButton,
  errorParagraph,
  field,
  loading,
  pageHeading,
  scrollingTable,
  tableOfRows,
  showError,
  statusRegion,
  timeElement,
} from '../ui';

export function mount(root: HTMLElement, ctx: Ctx): void {
  const base = `/tenants/${seg(ctx.tenant)}/secrets`;
  const list = h('div', {}, loading('secrets'));
  const said = statusRegion();

  const reload = async () => {
    try {
      const { secrets } = await api<{ secrets: Secret[] }>('GET', base);
      replace(list, secretTable(secrets, replaceValue, remove));
    } catch (error) {
      replace(list, errorParagraph(error));
    }
  };

  const remove = async (secret: Secret) => {
    await api<void>('DELETE', `${base}/${seg(secret.name)}`);
    replace(said, `Secret ${secret.name} deleted.`);
    await reload();
    // The row is gone; keep keyboard users on this page's heading.
    root.querySelector<HTMLElement>('h1')?.focus();
  };

  // "Replace" fills the form's name and moves focus to the value.
  const name = h('input', { type: 'text', name: 'name', required: true, autocomplete: 'off', spellcheck: 'false' });
  const value = h('input', { type: 'password', name: 'value', required: true, autocomplete: 'new-password' });
  const replaceValue = (secret: Secret) => {
    name.value = secret.name;
    value.value = '';
    value.focus();
  };
  const error = alertRegion();
  const submit = h('button', { type: 'submit' }, 'Save secret');
  const form = h(
    'form',
    { class: 'panel', novalidate: true },
    h('h2', { id: 'set-heading' }, 'Set or replace a secret'),
    field('Name', name, 'An existing name replaces that secret\'s value.'),
    field('Value', value, 'Stored encrypted; it is never shown again, here or through the API.'),
    error,
    h('div', { class: 'actions' }, submit),
  );
  form.setAttribute('aria-labelledby', 'set-heading');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError(error, null);
    const secretName = name.value.trim();
    if (!secretName) {
      showError(error, new Error('Enter a name.'));
      name.focus();
      return;
    }
    submit.disabled = true;
    try {
      await api<void>('PUT', `${base}/${seg(secretName)}`, { value: value.value });
      value.value = '';
      replace(said, `Secret ${secretName} saved.`);
      await reload();
    } catch (failure) {
      showError(error, failure);
    } finally {
      submit.disabled = false;
    }
  });

  append(
    root,
    pageHeading('Secrets'),
    h(
      'p',
      { class: 'lede' },
      'Values an action reads only when its manifest lists the name under ',
      code('[capabilities] secrets'),
      '. Listed by name only.',
    ),
    said,
    list,
    form,
  );
  void reload();
}

function secretTable(secrets: Secret[], replaceValue: (s: Secret) => void, remove: (s: Secret) => Promise<void>): Node {
  if (secrets.length === 0) return h('p', { class: 'empty-state' }, 'No secrets yet — set one below.');
  const rows = secrets.map((secret) =>
    h(
      'tr',
      {},
      h('th', { scope: 'row' }, code(secret.name)),
      h('td', {}, timeElement(secret.updatedAt)),
      h(
        'td',
        { class: 'row-actions' },
        h('button', { type: 'button', class: 'secondary', 'aria-label': `Replace ${secret.name}`, onclick: () => replaceValue(secret) }, 'Replace'),
        confirmButton({
          label: 'Delete',
          ariaLabel: `Delete ${secret.name}`,
          question: `Delete secret ${secret.name}? Actions that read it will no longer get it.`,
          confirmLabel: 'Yes, delete',
          act: () => remove(secret),
        }),
      ),
    ),
  );
  return scrollingTable(
    'Secrets',
    tableOfRows('Secrets', ['Name', 'Updated', 'Change'], rows, { hiddenCaption: true }),
  );
}
