-- The web console's browser sessions (docs/architecture.md#the-console).
-- The cookie's value and the token signed in with are stored as SHA-256
-- only. A session is good while it has not expired and its token still is:
-- rotating the token, suspending or deleting the tenant ends it.
CREATE TABLE console_sessions (
    hash        TEXT PRIMARY KEY,
    tenant      TEXT REFERENCES tenants(name) ON DELETE CASCADE,
    token_hash  TEXT    NOT NULL,
    csrf        TEXT    NOT NULL,
    expires_ms  BIGINT  NOT NULL
);
CREATE INDEX console_sessions_by_expiry ON console_sessions(expires_ms);
