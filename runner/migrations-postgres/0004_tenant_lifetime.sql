-- Tenant-scoped state over time (docs/architecture.md#tenant-scoped-state-over-time).
-- `uid` is a tenant's immutable internal id: a tenant deleted and created again
-- under the same name gets a new one, so nothing keyed by it carries over.
ALTER TABLE tenants ADD COLUMN uid TEXT NOT NULL DEFAULT md5(random()::text || clock_timestamp()::text);
CREATE UNIQUE INDEX tenants_by_uid ON tenants(uid);
-- Invocation records are numbered per tenant (`seq`), so the ids a tenant sees
-- say nothing about other tenants' calls; `invocation_seq` is the last number
-- a tenant's records were given (its row lock orders concurrent replicas' batches).
ALTER TABLE tenants ADD COLUMN invocation_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE invocations ADD COLUMN seq BIGINT;
UPDATE invocations i SET seq = numbered.n FROM (
    SELECT id, row_number() OVER (PARTITION BY tenant ORDER BY id) AS n FROM invocations
) numbered WHERE numbered.id = i.id;
UPDATE tenants t SET invocation_seq = COALESCE(
    (SELECT MAX(seq) FROM invocations WHERE invocations.tenant = t.name), 0);
ALTER TABLE invocations ALTER COLUMN seq SET NOT NULL;
DROP INDEX invocations_by_tenant;
CREATE UNIQUE INDEX invocations_by_tenant_seq ON invocations(tenant, seq);
