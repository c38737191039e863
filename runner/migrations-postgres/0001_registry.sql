-- Docket's registry in PostgreSQL: the same records as the embedded SQLite
-- schema (runner/migrations), plus what replicas share through the database
-- alone: module bytes, authenticated compiled artifacts, and a generation per
-- tenant that every write bumps, so a replica can tell which snapshots are stale.

-- Every write to a tenant takes the next value: generations only grow, across
-- all tenants, so a tenant deleted and created again never looks unchanged.
CREATE SEQUENCE docket_generation;

CREATE TABLE tenants (
    name               TEXT PRIMARY KEY,
    display_name       TEXT,
    failure_word       TEXT    NOT NULL DEFAULT 'failure',
    suspended          BOOLEAN NOT NULL DEFAULT FALSE,
    declarative        BOOLEAN NOT NULL DEFAULT FALSE,
    max_concurrency    BIGINT,
    max_actions        BIGINT,
    max_module_bytes   BIGINT,
    max_storage_bytes  BIGINT,
    max_versions       BIGINT,
    created_ms         BIGINT  NOT NULL,
    generation         BIGINT  NOT NULL DEFAULT nextval('docket_generation')
);

-- Hashes only: admin tokens (kind = 'admin') and webhook keys (kind = 'webhook').
CREATE TABLE credentials (
    id          TEXT PRIMARY KEY,
    tenant      TEXT   NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    kind        TEXT   NOT NULL CHECK (kind IN ('admin', 'webhook')),
    hash        TEXT   NOT NULL,
    hint        TEXT   NOT NULL,
    created_ms  BIGINT NOT NULL
);
CREATE INDEX credentials_by_tenant ON credentials(tenant, kind);

-- Module bytes, content-addressed and shared by every tenant that uploads them.
CREATE TABLE modules (
    digest      TEXT PRIMARY KEY,
    size        BIGINT NOT NULL,
    abi         TEXT   NOT NULL,
    bytes       BYTEA  NOT NULL,
    created_ms  BIGINT NOT NULL
);

-- A compiled artifact per module and engine fingerprint, with an HMAC-SHA256
-- over (engine, module digest, artifact bytes) keyed by a key derived from the
-- operator's secret key, which is never in the database: a replica
-- deserializes only artifacts whose MAC it can verify.
CREATE TABLE artifacts (
    module      TEXT   NOT NULL REFERENCES modules(digest) ON DELETE CASCADE,
    engine      TEXT   NOT NULL,
    bytes       BYTEA  NOT NULL,
    mac         BYTEA  NOT NULL,
    created_ms  BIGINT NOT NULL,
    PRIMARY KEY (module, engine)
);

CREATE TABLE actions (
    tenant        TEXT   NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    name          TEXT   NOT NULL,
    live_version  BIGINT NOT NULL,
    PRIMARY KEY (tenant, name)
);

CREATE TABLE versions (
    tenant        TEXT   NOT NULL,
    action        TEXT   NOT NULL,
    version       BIGINT NOT NULL,
    module        TEXT   NOT NULL REFERENCES modules(digest),
    display_name  TEXT   NOT NULL,
    manifest      TEXT   NOT NULL,
    limits        TEXT   NOT NULL,
    config        TEXT   NOT NULL,
    secrets       TEXT   NOT NULL DEFAULT '[]',
    grants        TEXT   NOT NULL DEFAULT '{}',
    created_ms    BIGINT NOT NULL,
    PRIMARY KEY (tenant, action, version),
    FOREIGN KEY (tenant, action) REFERENCES actions(tenant, name) ON DELETE CASCADE
);
CREATE INDEX versions_by_module ON versions(module);

CREATE TABLE invocations (
    id           BIGSERIAL PRIMARY KEY,
    tenant       TEXT   NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    action       TEXT   NOT NULL,
    version      BIGINT NOT NULL,
    request_id   TEXT   NOT NULL,
    at_ms        BIGINT NOT NULL,
    outcome      TEXT   NOT NULL,
    duration_ms  BIGINT NOT NULL,
    limit_hit    TEXT,
    stderr       TEXT
);
CREATE INDEX invocations_by_tenant ON invocations(tenant, id DESC);

-- Tenant secrets, sealed with the operator's key (ChaCha20-Poly1305, tenant and
-- name bound in as associated data). Values are never returned by the API.
CREATE TABLE secrets (
    tenant      TEXT   NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    name        TEXT   NOT NULL,
    nonce       BYTEA  NOT NULL,
    ciphertext  BYTEA  NOT NULL,
    updated_ms  BIGINT NOT NULL,
    PRIMARY KEY (tenant, name)
);

-- Actions' key-value data: `scope` is '' for the tenant's shared namespace and
-- the action's name for an action's own.
CREATE TABLE kv (
    tenant      TEXT   NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    scope       TEXT   NOT NULL,
    key         TEXT   NOT NULL,
    value       BYTEA  NOT NULL,
    updated_ms  BIGINT NOT NULL,
    PRIMARY KEY (tenant, scope, key)
);

-- Replicas alive, for the cluster-wide share of each tenant's concurrency quota.
CREATE TABLE replicas (
    id            TEXT PRIMARY KEY,
    heartbeat_ms  BIGINT NOT NULL
);
