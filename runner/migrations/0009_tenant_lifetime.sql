-- Tenant-scoped state over time (docs/architecture.md#tenant-scoped-state-over-time).
-- `uid` is a tenant's immutable internal id: a tenant deleted and created again
-- under the same name gets a new one, so nothing keyed by it carries over.
ALTER TABLE tenants ADD COLUMN uid TEXT;
UPDATE tenants SET uid = lower(hex(randomblob(16))) WHERE uid IS NULL;
CREATE UNIQUE INDEX tenants_by_uid ON tenants(uid);
-- Invocation records are numbered per tenant (`seq`), so the ids a tenant sees
-- say nothing about other tenants' calls; `invocation_seq` is the last number
-- a tenant's records were given.
ALTER TABLE tenants ADD COLUMN invocation_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE invocations ADD COLUMN seq INTEGER;
UPDATE invocations SET seq = (
    SELECT n FROM (
        SELECT id, row_number() OVER (PARTITION BY tenant ORDER BY id) AS n FROM invocations
    ) numbered WHERE numbered.id = invocations.id
);
UPDATE tenants SET invocation_seq = COALESCE(
    (SELECT MAX(seq) FROM invocations WHERE invocations.tenant = tenants.name), 0);
DROP INDEX invocations_by_tenant;
CREATE UNIQUE INDEX invocations_by_tenant_seq ON invocations(tenant, seq);
