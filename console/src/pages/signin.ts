// Sign-in: a tenant admin token (with the tenant's name) or the operator
// token (tenant left empty). The token goes to POST /admin/v1/session once,
// which answers with an HttpOnly cookie; the console keeps no token.
import { api, setSession } from '../api';
import { append, h } from '../dom';
import type { Session } from '../types';
import { alertRegion, field, pageHeading, showError } from '../ui';

export interface SigninOptions {
  /** Why the user is here again (a session that ended), shown above the form. */
  message?: string;
  onSignedIn: (session: Session) => void;
}

export function mountSignin(root: HTMLElement, options: SigninOptions): void {
  const tenant = h('input', {
    type: 'text',
    name: 'tenant',
    autocomplete: 'username',
    autocapitalize: 'none',
    spellcheck: 'false',
    pattern: '[a-z0-9][a-z0-9\\-]{0,62}',
  });
  const token = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true });
  const error = alertRegion();
  const submit = h('button', { type: 'submit' }, 'Sign in');

  const form = h(
    'form',
    { class: 'card narrow', novalidate: true },
    field('Tenant', tenant, 'Leave empty to sign in as the operator.'),
    field('Token', token, "The tenant's admin token (dka_…), or the operator's token."),
    error,
    h('div', { class: 'actions-row' }, submit),
  );

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError(error, null);
    if (!token.value) {
      showError(error, new Error('Enter a token.'));
      token.focus();
      return;
    }
    const name = tenant.value.trim();
    const body = name ? { tenant: name, token: token.value } : { token: token.value };
    submit.disabled = true;
    try {
      const session = await api<Session>('POST', '/session', body);
      token.value = '';
      setSession(session);
      options.onSignedIn(session);
    } catch (failure) {
      showError(error, failure);
      token.focus();
    } finally {
      submit.disabled = false;
    }
  });

  append(
    root,
    pageHeading('Sign in'),
    options.message ? h('p', { class: 'notice', role: 'status' }, options.message) : null,
    form,
  );
}
