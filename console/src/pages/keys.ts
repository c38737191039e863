// Webhook keys (the apiKey Workfront sends) and the tenant's admin token.
// New secrets are shown once, here, and never again: only hints are listed.
import { api, seg, setSession } from '../api';
import { append, h, replace } from '../dom';
import type { Key, NewKey } from '../model';
import { go } from '../route';
import type { Ctx, Session } from '../types';
import {
  alertRegion,
  code,
  confirmButton,
  copyField,
  errorParagraph,
  loading,
  pageHeading,
  scrollingTable,
  tableOfRows,
  showError,
  statusRegion,
  timeElement,
} from '../ui';

export function mount(root: HTMLElement, ctx: Ctx): void {
  const base = `/tenants/${seg(ctx.tenant)}`;
  const list = h('div', {}, loading('keys'));
  const said = statusRegion();
  const createError = alertRegion();
  const created = h('div', {});
  const create = h('button', { type: 'button' }, 'Create a key');

  const reload = async () => {
    try {
      const { keys } = await api<{ keys: Key[] }>('GET', `${base}/keys`);
      replace(list, keyTable(keys, revoke));
    } catch (error) {
      replace(list, errorParagraph(error));
    }
  };

  const revoke = async (key: Key) => {
    await api<void>('DELETE', `${base}/keys/${seg(key.id)}`);
    replace(said, `Key ${key.hint} revoked: Workfront calls with it are refused from now on.`);
    await reload();
    // The row is gone; keep keyboard users in this section.
    root.querySelector<HTMLElement>('#keys-heading')?.focus();
  };

  create.addEventListener('click', async () => {
    showError(createError, null);
    create.disabled = true;
    try {
      const key = await api<NewKey>('POST', `${base}/keys`);
      replace(
        created,
        h(
          'div',
          { class: 'panel once' },
          h('p', { class: 'warning' }, h('strong', {}, 'Copy this key now: it will not be shown again.'), ' Paste it into the integration\'s API key field in Workfront.'),
          copyField('New webhook key', key.apiKey, { secret: true }),
        ),
      );
      (created.querySelector('input') as HTMLInputElement | null)?.focus();
      await reload();
    } catch (error) {
      showError(createError, error);
    } finally {
      create.disabled = false;
    }
  });

  append(
    root,
    pageHeading('Keys and token'),
    h(
      'section',
      { 'aria-labelledby': 'keys-heading' },
      h('h2', { id: 'keys-heading', tabindex: -1 }, 'Webhook keys'),
      h(
        'p',
        { class: 'lede' },
        'Workfront sends one of these in the ',
        code('apiKey'),
        ' header. Several can be live at once, so a key is rotated with no downtime: create the new one, put it in Workfront, then revoke the old one.',
      ),
      h('div', { class: 'actions' }, create),
      createError,
      created,
      said,
      list,
    ),
    tokenSection(ctx),
  );
  void reload();
}

function keyTable(keys: Key[], revoke: (key: Key) => Promise<void>): Node {
  if (keys.length === 0) {
    return h('p', { class: 'empty-state' }, 'No webhook keys — create one above; Workfront cannot call this tenant without one.');
  }
  const rows = keys.map((key) =>
    h(
      'tr',
      {},
      h('th', { scope: 'row' }, code(key.hint)),
      h('td', {}, code(key.id)),
      h('td', {}, timeElement(key.createdAt)),
      h(
        'td',
        {},
        confirmButton({
          label: 'Revoke',
          ariaLabel: `Revoke key ${key.hint}`,
          question: `Revoke key ${key.hint}? Workfront calls with it will be refused.`,
          confirmLabel: 'Yes, revoke',
          act: () => revoke(key),
        }),
      ),
    ),
  );
  return scrollingTable(
    'Webhook keys',
    tableOfRows('Webhook keys', ['Key (hint)', 'ID', 'Created', 'Revoke'], rows, { hiddenCaption: true }),
  );
}

/**
 * Rotating the admin token. The server ends every console session opened
 * with the old token at once (console-contract: "rotating the token …
 * ends it"), so after a tenant rotates its own token this tab is signed
 * out: the new token stays on screen until the user chooses to sign in.
 */
function tokenSection(ctx: Ctx): HTMLElement {
  const error = alertRegion();
  const shown = h('div', {});
  const ownToken = ctx.session.role === 'tenant';
  const section = h(
    'section',
    { class: 'panel', 'aria-labelledby': 'token-heading' },
    h('h2', { id: 'token-heading' }, 'Admin token'),
    h(
      'p',
      {},
      'The token this console and the admin API sign in with. A new one replaces it at once: the old token stops working, and run log streams opened with it close.',
      ownToken ? ' This session was opened with the old token, so it ends too: sign in again with the new token.' : '',
    ),
    error,
    confirmButton({
      label: 'Rotate the admin token',
      question: ownToken
        ? 'Replace the admin token? The current one stops working now and this session ends.'
        : `Replace tenant ${ctx.tenant}'s admin token? The current one stops working now.`,
      confirmLabel: 'Yes, rotate',
      act: async () => {
        const { adminToken } = await api<{ adminToken: string }>('POST', `/tenants/${seg(ctx.tenant)}/admin-token`);
        replace(
          shown,
          h(
            'div',
            { class: 'panel once' },
            h('p', { class: 'warning' }, h('strong', {}, 'Copy this token now: it will not be shown again.')),
            copyField('New admin token', adminToken, { secret: true }),
          ),
        );
        (shown.querySelector('input') as HTMLInputElement | null)?.focus();
        if (ownToken && !(await sessionAlive())) {
          // The session died with the old token: a second rotation (or any
          // call) would only meet a 401, so leave nothing here but the way out.
          section.querySelector('.confirm')?.remove();
          append(
            shown,
            h(
              'p',
              { role: 'status', class: 'notice' },
              'This session has ended with the old token. When the new token is copied: ',
              h(
                'button',
                {
                  type: 'button',
                  class: 'link-button',
                  onclick: () => {
                    setSession(null);
                    go('#/signin');
                  },
                },
                'sign in again',
              ),
              '.',
            ),
          );
        }
      },
    }),
    shown,
  );
  return section;
}

/** Whether this browser's session is still good (a rotated token ends it). */
async function sessionAlive(): Promise<boolean> {
  try {
    await api<Session>('GET', '/session');
    return true;
  } catch {
    return false;
  }
}
