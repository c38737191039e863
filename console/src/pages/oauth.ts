// OAuth2 mode: the tenant's users sign in at its identity provider and
// every call carries their own token (README "OAuth2 mode: verified users").
// This page shows what to paste into Workfront and register at the identity
// provider, configures the mode, rotates Workfront's Client Secret, turns
// the mode off, and lists and disconnects connected users.
import { api, seg } from '../api';
import { h, replace, uid } from '../dom';
import type { Ctx, Mount } from '../types';
import {
  alertRegion,
  baseApiUrl,
  code,
  confirmButton,
  copyField,
  dataTable,
  describe,
  emptyState,
  field,
  loading,
  pageHeading,
  scrollingTable,
  showError,
  statusRegion,
  timeElement,
} from '../ui';

/** `GET …/oauth` (OAuthSettings): always 200; `enabled` false when the mode is off. */
interface OAuthSettings {
  enabled: boolean;
  authenticationUrl: string;
  tokenEndpointUrl: string;
  identityProviderRedirectUri: string;
  clientId?: string;
  /** Only in the answer that turned the mode on. */
  clientSecret?: string;
  clientSecretHint?: string;
  workfrontRedirectUri?: string;
  issuer?: string;
  identityProviderClientId?: string;
  usernameClaim?: string;
  accessTokenSeconds?: number;
  refreshTokenSeconds?: number;
  updatedAt?: string;
  /** In a 200 to PUT when a new identity revoked the old grants. */
  revokedGrants?: number;
}

interface ConnectedUser {
  username: string;
  subject: string;
  grants: number;
  connectedAt: string;
  lastIssuedAt: string;
}

const CLAIMS = ['email', 'preferred_username', 'sub'];

export const mount: Mount = (root, ctx) => {
  const page = new OAuthPage(root, ctx);
  void page.load();
  return () => page.stop();
};

class OAuthPage {
  private readonly base: string;
  private stopped = false;
  /** Results of what the user did; kept across re-renders. */
  private readonly status = statusRegion();
  /** The one-time Client Secret, while the user copies it. */
  private readonly secretBox = h('div');

  constructor(
    private readonly root: HTMLElement,
    private readonly ctx: Ctx,
  ) {
    this.base = `/tenants/${seg(ctx.tenant)}/oauth`;
  }

  stop(): void {
    this.stopped = true;
  }

  async load(): Promise<void> {
    replace(this.root, pageHeading('OAuth2 mode'), loading('the OAuth2 settings'));
    try {
      const settings = await api<OAuthSettings>('GET', this.base);
      if (!this.stopped) this.render(settings);
    } catch (err) {
      if (!this.stopped) replace(this.root, pageHeading('OAuth2 mode'), h('div', { role: 'alert', class: 'form-error' }, h('p', {}, describe(err))));
    }
  }

  private render(s: OAuthSettings): void {
    replace(
      this.root,
      pageHeading('OAuth2 mode'),
      h(
        'p',
        { class: 'lede' },
        'In OAuth2 mode each Workfront user connects once by signing in at your identity provider, and every call carries that user’s own token: actions get ',
        code('usernameVerified: true'),
        '. It works beside the webhook keys. ',
        s.enabled ? h('strong', {}, 'OAuth2 mode is on.') : h('strong', {}, 'OAuth2 mode is off.'),
      ),
      this.status,
      this.secretBox,
      s.enabled ? this.workfrontSection(s) : null,
      this.identityProviderSection(s),
      this.settingsSection(s),
      s.enabled ? this.secretAndOffSection() : null,
      s.enabled ? this.usersSection() : null,
    );
  }

  // ----- what to paste and register -----

  private section(title: string, ...children: (Node | null)[]): HTMLElement {
    const id = uid('oauth');
    return h('section', { class: 'panel', 'aria-labelledby': id }, h('h2', { id }, title), ...children);
  }

  private workfrontSection(s: OAuthSettings): HTMLElement {
    return this.section(
      'Paste into Workfront',
      h(
        'p',
        {},
        'In Workfront’s Custom Integration form (Authentication Type OAuth2), in this order. The Base API URL is ',
        code(baseApiUrl(this.ctx.session, this.ctx.tenant)),
        '.',
      ),
      copyField('Authentication URL', s.authenticationUrl),
      copyField('Token Endpoint URL', s.tokenEndpointUrl),
      s.clientId ? copyField('Client ID', s.clientId) : null,
      h(
        'p',
        {},
        'Client Secret: shown only when it is made',
        s.clientSecretHint ? h('span', {}, ' (the current one starts with ', code(s.clientSecretHint), ')') : null,
        '. Rotate it below for a new one.',
      ),
      s.workfrontRedirectUri
        ? h('p', {}, 'Workfront Redirect URI (as Workfront showed it, the only place Docket sends a browser back to): ', code(s.workfrontRedirectUri))
        : null,
      s.updatedAt ? h('p', { class: 'muted' }, 'Settings last changed ', timeElement(s.updatedAt), '.') : null,
    );
  }

  private identityProviderSection(s: OAuthSettings): HTMLElement {
    return this.section(
      'Register at your identity provider',
      h('p', {}, 'Register a web application for Docket at your OpenID Connect identity provider (Okta, Entra ID, Google Workspace, Keycloak…) with this redirect URI and the scopes ', code('openid email profile'), '. Note its issuer URL, client id and client secret for the form below.'),
      copyField('Identity provider redirect URI', s.identityProviderRedirectUri),
    );
  }

  // ----- configure -----

  private settingsSection(s: OAuthSettings): HTMLElement {
    const input = (name: string, type: string, value: string | number | undefined, required: boolean) =>
      h('input', { name, type, value: value === undefined ? '' : String(value), required, autocomplete: 'off', spellcheck: 'false' });
    const redirect = input('workfrontRedirectUri', 'url', s.workfrontRedirectUri, true);
    const issuer = input('issuer', 'url', s.issuer, true);
    const clientId = input('clientId', 'text', s.identityProviderClientId, true);
    const clientSecret = input('clientSecret', 'password', undefined, !s.enabled);
    clientSecret.setAttribute('autocomplete', 'new-password');
    const claim = h('select', { name: 'usernameClaim' }, ...CLAIMS.map((c) => h('option', { value: c, selected: (s.usernameClaim ?? 'email') === c }, c)));
    const accessSeconds = input('accessTokenSeconds', 'number', s.accessTokenSeconds ?? 3600, false);
    accessSeconds.min = '1';
    accessSeconds.max = '86400';
    const refreshSeconds = input('refreshTokenSeconds', 'number', s.refreshTokenSeconds ?? 2592000, false);
    refreshSeconds.min = '60';
    refreshSeconds.max = '31536000';
    const error = alertRegion();
    const submit = h('button', { type: 'submit' }, s.enabled ? 'Save settings' : 'Turn on OAuth2 mode');
    // The server checks every field and names the wrong one; its words are
    // what the user sees, so the browser's own validation stays out of the way.
    const form = h(
      'form',
      { novalidate: true, class: 'oauth-settings' },
      field('Workfront Redirect URI', redirect, 'Shown read-only in Workfront’s Custom Integration form once you pick Authentication Type OAuth2. https (http only to this machine).'),
      field('Issuer URL', issuer, 'Your identity provider’s OpenID Connect issuer, e.g. https://acme.okta.com. Docket checks that it answers.'),
      field('Client ID at the identity provider', clientId, 'The client id of the web application you registered for Docket.'),
      field(
        'Client secret at the identity provider',
        clientSecret,
        s.enabled ? 'Leave blank to keep the stored one. Stored sealed; never shown.' : 'Required to turn the mode on. Stored sealed; never shown.',
      ),
      field('Username claim', claim, 'The ID-token claim actions see as the username (default email).'),
      field('Access-token lifetime (seconds)', accessSeconds, '1 to 86400; default 3600 (an hour).'),
      field('Refresh-token lifetime (seconds)', refreshSeconds, '60 to 31536000; default 2592000 (30 days); not used today.'),
      s.enabled ? h('p', { class: 'help' }, 'Changing the issuer, client ID or username claim disconnects every connected user: they name other people.') : null,
      error,
      h('div', { class: 'actions' }, submit),
    );
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      showError(error, null);
      const body: Record<string, unknown> = {
        workfrontRedirectUri: redirect.value.trim(),
        issuer: issuer.value.trim(),
        clientId: clientId.value.trim(),
        usernameClaim: claim.value,
      };
      if (clientSecret.value) body.clientSecret = clientSecret.value;
      if (accessSeconds.value) body.accessTokenSeconds = numberOrText(accessSeconds.value);
      if (refreshSeconds.value) body.refreshTokenSeconds = numberOrText(refreshSeconds.value);
      submit.disabled = true;
      replace(this.status, s.enabled ? 'Saving…' : 'Checking the issuer and turning OAuth2 mode on…');
      try {
        const saved = await api<OAuthSettings>('PUT', this.base, body);
        if (this.stopped) return;
        const revoked = saved.revokedGrants ? ` The identity changed, so ${saved.revokedGrants} connection(s) were revoked.` : '';
        replace(this.status, (s.enabled ? 'Settings saved.' : 'OAuth2 mode is on.') + revoked);
        if (saved.clientSecret) this.showSecretOnce(saved.clientSecret);
        this.render(saved);
        this.focusResult(!!saved.clientSecret);
      } catch (err) {
        replace(this.status);
        showError(error, err);
        submit.disabled = false;
      }
    });
    return this.section(s.enabled ? 'Settings' : 'Turn on OAuth2 mode', form);
  }

  /** After a re-render, focus lands on the one-time secret or the page heading. */
  private focusResult(secret: boolean): void {
    const target = secret ? this.secretBox.querySelector('h2') : this.root.querySelector('h1');
    if (target instanceof HTMLElement) {
      target.tabIndex = -1;
      target.focus();
    }
  }

  /** After the users table is redrawn, the Revoke button that had focus is gone: focus its section's heading. */
  private focusSectionHeading(inside: HTMLElement): void {
    const heading = inside.closest('section')?.querySelector('h2');
    if (heading) {
      heading.tabIndex = -1;
      heading.focus();
    }
  }

  private showSecretOnce(secret: string): void {
    const id = uid('secret');
    const done = h('button', { type: 'button', class: 'secondary' }, 'I have copied it');
    done.addEventListener('click', () => {
      replace(this.secretBox);
      this.root.querySelector('h1')?.focus();
    });
    replace(
      this.secretBox,
      h(
        'section',
        { class: 'panel once', 'aria-labelledby': id },
        h('h2', { id }, 'New Client Secret — shown once'),
        h('p', {}, 'Paste it into Workfront’s integration (Client Secret) now: Docket will not show it again.'),
        copyField('Client Secret', secret, { secret: true }),
        h('div', { class: 'actions' }, done),
      ),
    );
  }

  // ----- rotate and turn off -----

  private secretAndOffSection(): HTMLElement {
    const rotate = confirmButton({
      label: 'Rotate Client Secret',
      question: 'Make a new Client Secret? The current one stops working at once, until you paste the new one into Workfront.',
      confirmLabel: 'Rotate',
      act: async () => {
        const { clientSecret } = await api<{ clientSecret: string }>('POST', `${this.base}/client-secret`);
        if (this.stopped) return;
        replace(this.status, 'A new Client Secret was made; the old one no longer works.');
        this.showSecretOnce(clientSecret);
        await this.load();
        this.focusResult(true);
      },
    });
    const disable = confirmButton({
      label: 'Turn off OAuth2 mode',
      question: 'Turn OAuth2 mode off? Every user’s token stops working at once; webhook keys keep working.',
      confirmLabel: 'Turn off',
      act: async () => {
        await api('DELETE', this.base);
        if (this.stopped) return;
        replace(this.secretBox);
        replace(this.status, 'OAuth2 mode is off.');
        await this.load();
        this.focusResult(false);
      },
    });
    return this.section(
      'Client Secret and turning off',
      h('p', {}, 'Rotate the Client Secret when it may have leaked. Turning the mode off stops every OAuth2 call; webhook keys keep working.'),
      h('div', { class: 'actions' }, rotate, disable),
    );
  }

  // ----- connected users -----

  private usersSection(): HTMLElement {
    const body = h('div', {}, loading('connected users'));
    const section = this.section('Connected users', body);
    void this.loadUsers(body);
    return section;
  }

  private async loadUsers(body: HTMLElement): Promise<void> {
    let users: ConnectedUser[];
    try {
      ({ users } = await api<{ users: ConnectedUser[] }>('GET', `${this.base}/users`));
    } catch (err) {
      if (!this.stopped) replace(body, h('div', { role: 'alert', class: 'form-error' }, h('p', {}, describe(err))));
      return;
    }
    if (this.stopped) return;
    if (users.length === 0) {
      replace(body, emptyState('No user has connected yet. Each connects once from Workfront: Add Documents → Add Service → this integration.'));
      return;
    }
    const rows = users.map((user) => [
      document.createTextNode(user.username),
      code(user.subject),
      document.createTextNode(String(user.grants)),
      timeElement(user.connectedAt),
      timeElement(user.lastIssuedAt),
      confirmButton({
        label: 'Revoke',
        ariaLabel: `Revoke ${user.username}`,
        question: `Disconnect ${user.username}? Workfront asks them to connect again.`,
        confirmLabel: 'Revoke',
        act: async () => {
          const revoked = await api<{ revokedGrants: number }>('DELETE', `${this.base}/users/${seg(user.username)}`);
          replace(this.status, `${user.username}: ${revoked.revokedGrants} connection(s) revoked.`);
          await this.loadUsers(body);
          this.focusSectionHeading(body);
        },
      }),
    ]);
    const revokeAll = confirmButton({
      label: 'Revoke all users',
      question: `Disconnect all ${users.length} user(s)? Each must connect again from Workfront.`,
      confirmLabel: 'Revoke all',
      act: async () => {
        const revoked = await api<{ revokedGrants: number }>('DELETE', `${this.base}/users`);
        replace(this.status, `${revoked.revokedGrants} connection(s) revoked.`);
        await this.loadUsers(body);
        this.focusSectionHeading(body);
      },
    });
    replace(
      body,
      scrollingTable(
        'Connected users',
        dataTable('Users with live tokens', ['User', 'Subject at the identity provider', 'Connections', 'Connected', 'Last token issued', 'Revoke'], rows, { hiddenCaption: true }),
      ),
      h('div', { class: 'actions' }, revokeAll),
    );
  }
}

/** A whole number as a number; anything else as typed, for the server to name. */
function numberOrText(value: string): number | string {
  return /^\d+$/.test(value) ? Number(value) : value;
}
