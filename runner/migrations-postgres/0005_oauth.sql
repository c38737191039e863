-- OAuth2 mode (docs/architecture.md#oauth2-mode). Every plain secret Docket
-- hands out (Workfront's client secret, codes, tokens) is stored as its
-- SHA-256 only; the identity provider's client secret is sealed like a
-- tenant secret.
CREATE TABLE oauth_clients (
    tenant            TEXT PRIMARY KEY REFERENCES tenants(name) ON DELETE CASCADE,
    client_id         TEXT    NOT NULL UNIQUE,
    secret_hash       TEXT    NOT NULL,
    secret_hint       TEXT    NOT NULL,
    redirect_uri      TEXT    NOT NULL,
    issuer            TEXT    NOT NULL,
    idp_client_id     TEXT    NOT NULL,
    idp_secret_nonce  BYTEA   NOT NULL,
    idp_secret        BYTEA   NOT NULL,
    username_claim    TEXT    NOT NULL,
    access_seconds    BIGINT  NOT NULL,
    refresh_seconds   BIGINT  NOT NULL,
    updated_ms        BIGINT  NOT NULL
);

-- One-time values of a sign-in: the state sent to the identity provider, the
-- consent form, the authorization code. Spent ones stay until they expire, so
-- a replay is told from a stranger.
CREATE TABLE oauth_pending (
    hash        TEXT PRIMARY KEY,
    tenant      TEXT    NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    kind        TEXT    NOT NULL CHECK (kind IN ('sign-in', 'consent', 'code')),
    data        TEXT    NOT NULL,
    expires_ms  BIGINT  NOT NULL,
    used_ms     BIGINT
);
CREATE INDEX oauth_pending_by_expiry ON oauth_pending(expires_ms);

-- Access and refresh tokens; a family is one grant and everything refreshed
-- from it, revoked together. `tenant_uid` ties them to one incarnation.
-- Tokens go with their tenant's OAuth2 client: turning the mode off (or a
-- token inserted by a grant racing that) leaves none behind.
CREATE TABLE oauth_tokens (
    hash        TEXT PRIMARY KEY,
    tenant      TEXT    NOT NULL REFERENCES oauth_clients(tenant) ON DELETE CASCADE,
    tenant_uid  TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('access', 'refresh')),
    family      TEXT    NOT NULL,
    username    TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    created_ms  BIGINT  NOT NULL,
    expires_ms  BIGINT  NOT NULL,
    spent_ms    BIGINT
);
CREATE INDEX oauth_tokens_by_family ON oauth_tokens(family);
CREATE INDEX oauth_tokens_by_user ON oauth_tokens(tenant, username);
CREATE INDEX oauth_tokens_by_expiry ON oauth_tokens(expires_ms);
