// A real OpenID Connect provider (npm `oidc-provider`) for Docket's black-box
// tests: `node tests/oidc/idp.mjs <config.json>` (tests/common/oidc.rs starts it).
//
// It listens on 127.0.0.1 on a port the OS picks, with issuer
// http://127.0.0.1:<port>, and prints one JSON line to stdout once it does:
// {"issuer":"http://127.0.0.1:<port>"}. It exits when its stdin reaches EOF
// (so a test that dies never leaves it behind) and on SIGTERM or SIGINT.
//
// Config: {"clients": [{"client_id", "client_secret", "redirect_uris", ...any
// other client metadata}], "ttl": {"AccessToken": 60, ...}, "accounts":
// {"<login>": {claims that replace the defaults}}, "pkce_required": true}.
//
// Sign-in is oidc-provider's development interaction: any login and password
// are accepted, then a consent screen. The account's `sub` is the login as
// typed; its claims are email = the login, email_verified = true and name =
// the part of the login before any "@", first letter upper-cased ("Ada" for
// ada@example.com), unless "accounts" says otherwise for that login.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

// The quick-start notices (development interactions, in-memory adapter) say
// nothing a test needs: keep stderr for real errors.
for (const level of ['warn', 'info']) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    if (typeof args[0] === 'string' && /^oidc-provider (WARNING|NOTICE):/.test(args[0])) return;
    original(...args);
  };
}

const { default: Provider } = await import('oidc-provider');

const configPath = process.argv[2];
if (!configPath) {
  console.error('usage: node idp.mjs <config.json>');
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const accounts = config.accounts ?? {};

function defaultName(login) {
  const local = login.split('@')[0];
  return local.charAt(0).toUpperCase() + local.slice(1);
}

const clients = (config.clients ?? []).map((client) => ({
  // Either client_secret_basic or client_secret_post authenticates a client
  // registered with either (oidc-provider treats the two as one family).
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  // A web client may register http:// redirect URIs on any host (loopback
  // included) as long as it does not use the implicit flow.
  application_type: 'web',
  ...client,
}));

// A signing key of our own, so the quick-start development key is not used.
const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  .export({ format: 'jwk' });

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients,
    jwks: { keys: [{ ...signingKey, use: 'sig', alg: 'RS256' }] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: ['openid', 'email', 'profile', 'offline_access'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    // The scope's claims go into the ID token of the code flow too, not only
    // to the userinfo endpoint.
    conformIdTokenClaims: false,
    pkce: { required: () => config.pkce_required !== false },
    features: {
      devInteractions: { enabled: true },
      userinfo: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
    },
    ttl: config.ttl ?? {},
    async findAccount(ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            email: sub,
            email_verified: true,
            name: defaultName(sub),
            ...(accounts[sub] ?? {}),
          };
        },
      };
    },
  });
  for (const event of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error']) {
    provider.on(event, (ctx, error) => {
      console.error(`idp ${event}: ${error?.message ?? error} ${error?.error_description ?? ''}`);
    });
  }
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

function stop() {
  server.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
