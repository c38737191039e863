-- Pruning the invocation log by age (--invocation-max-age-days) deletes by
-- start time across tenants.
CREATE INDEX invocations_by_time ON invocations(at_ms);
