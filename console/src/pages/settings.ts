// The tenant's own settings: its failure word (the status word of failure
// answers). The display name is set when the operator creates the tenant
// and shown read-only. The server validates: its message is shown as it is.
import { api, seg } from '../api';
import { append, h, replace } from '../dom';
import type { Tenant } from '../model';
import type { Ctx } from '../types';
import { alertRegion, code, errorParagraph, field, loading, pageHeading, showError, statusRegion } from '../ui';

export function mount(root: HTMLElement, ctx: Ctx): void {
  const path = `/tenants/${seg(ctx.tenant)}`;
  const body = h('div', {}, loading('settings'));
  append(root, pageHeading('Settings'), body);

  api<Tenant>('GET', path).then(
    (tenant) => replace(body, settingsForm(path, tenant)),
    (error) => replace(body, errorParagraph(error)),
  );
}

function settingsForm(path: string, tenant: Tenant): HTMLElement {
  let saved = tenant.failureWord;
  const failureWord = h('input', { type: 'text', name: 'failureWord', value: saved, autocomplete: 'off', spellcheck: 'false' });
  const error = alertRegion();
  const said = statusRegion();
  const submit = h('button', { type: 'submit' }, 'Save');
  const form = h(
    'form',
    { class: 'panel', novalidate: true },
    field(
      'Failure word',
      failureWord,
      'The status word of failure answers, e.g. "failure" or "error" for integrations that expect {"status":"error"}. 1 to 32 of A–Z a–z 0–9 _ -.',
    ),
    error,
    said,
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError(error, null);
    replace(said);
    if (failureWord.value === saved) {
      replace(said, 'Nothing changed.');
      return;
    }
    submit.disabled = true;
    try {
      const updated = await api<Tenant | undefined>('PATCH', path, { failureWord: failureWord.value });
      saved = updated?.failureWord ?? failureWord.value;
      replace(said, 'Saved.');
    } catch (failure) {
      showError(error, failure);
    } finally {
      submit.disabled = false;
    }
  });
  return h(
    'div',
    {},
    h('p', {}, 'Display name: ', tenant.displayName ? tenant.displayName : h('em', {}, 'none'), ' (set by the operator).'),
    tenant.declarative
      ? h(
          'p',
          { class: 'notice' },
          'This tenant is managed from manifest files on the server (',
          code('--manifests'),
          '): its failure word comes from ',
          code('tenant.toml'),
          ', and the server refuses changes made here.',
        )
      : null,
    form,
  );
}
