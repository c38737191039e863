-- The capabilities each version's manifest grants beyond secrets
-- (allowed outbound hosts, key-value scope), as JSON.
ALTER TABLE versions ADD COLUMN grants TEXT NOT NULL DEFAULT '{}';

-- Actions' key-value data: `scope` is '' for the tenant's shared namespace and
-- the action's name for an action's own. Deleted with the tenant.
CREATE TABLE kv (
    tenant      TEXT    NOT NULL REFERENCES tenants(name) ON DELETE CASCADE,
    scope       TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    value       BLOB    NOT NULL,
    updated_ms  INTEGER NOT NULL,
    PRIMARY KEY (tenant, scope, key)
);
