-- Versions kept per action, a per-tenant override of the operator's default
-- (`--tenant-max-versions`); NULL keeps the default.
ALTER TABLE tenants ADD COLUMN max_versions INTEGER;
