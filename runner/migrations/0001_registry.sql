-- Docket's registry: tenants, their keys, actions and every version, modules,
-- and the invocation log. Module bytes and compiled artifacts live on disk,
-- content-addressed; this schema records their digests.

CREATE TABLE tenants (
    name               TEXT PRIMARY KEY,
    display_name       TEXT,
    failure_word       TEXT    NOT NULL DEFAULT 'failure',
    suspended          INTEGER NOT NULL DEFAULT 0,
    declarative        INTEGER NOT NULL DEFAULT 0,
    max_concurrency    INTEGER,
    max_actions        INTEGER,
    max_module_bytes   INTEGER,
    max_storage_bytes  INTEGER,
    created_ms         INTEGER NOT NULL
);

-- Hashes only: admin tokens (kind = 'admin') and webhook keys (kind = 'webhook').
CREATE TABLE credentials (
    id          TEXT PRIMARY KEY,
    tenant      TEXT    NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    kind        TEXT    NOT NULL CHECK (kind IN ('admin', 'webhook')),
    hash        TEXT    NOT NULL,
    hint        TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL
);
CREATE INDEX credentials_by_tenant ON credentials(tenant, kind);

CREATE TABLE modules (
    digest           TEXT PRIMARY KEY,
    size             INTEGER NOT NULL,
    abi              TEXT    NOT NULL,
    created_ms       INTEGER NOT NULL
);

-- A compiled artifact per module and engine configuration, with the digest of
-- the artifact bytes: only artifacts whose bytes match are ever deserialized.
CREATE TABLE artifacts (
    module           TEXT NOT NULL REFERENCES modules(digest) ON DELETE CASCADE,
    engine           TEXT NOT NULL,
    artifact_digest  TEXT NOT NULL,
    PRIMARY KEY (module, engine)
);

CREATE TABLE actions (
    tenant        TEXT    NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    live_version  INTEGER NOT NULL,
    PRIMARY KEY (tenant, name)
);

CREATE TABLE versions (
    tenant        TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    module        TEXT    NOT NULL REFERENCES modules(digest),
    display_name  TEXT    NOT NULL,
    manifest      TEXT    NOT NULL,
    limits        TEXT    NOT NULL,
    config        TEXT    NOT NULL,
    created_ms    INTEGER NOT NULL,
    PRIMARY KEY (tenant, action, version),
    FOREIGN KEY (tenant, action) REFERENCES actions(tenant, name) ON DELETE CASCADE
);

CREATE TABLE invocations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant       TEXT    NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    action       TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    request_id   TEXT    NOT NULL,
    at_ms        INTEGER NOT NULL,
    outcome      TEXT    NOT NULL,
    duration_ms  INTEGER NOT NULL,
    limit_hit    TEXT
);
CREATE INDEX invocations_by_tenant ON invocations(tenant, id DESC);
