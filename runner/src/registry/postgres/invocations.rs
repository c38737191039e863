//! The invocation log: batched appends (one statement per batch, whatever its
//! size), pruned to each tenant's newest `maxInvocationRecords` and by age,
//! read newest first with filters.

use super::PgStore;
use crate::names::TenantName;
use crate::registry::Registry;
use crate::registry::columns::{
    INVOCATION_COLUMNS, InvocationColumns, records, select_invocations,
};
use crate::registry::store::{InvocationQuery, InvocationRecord, NewInvocation};
use crate::registry::traits::{InvocationLog, StoreFuture};

impl PgStore {
    /// How many invocation records `tenant` keeps (its quota).
    fn records_kept(&self, tenant: &str) -> i64 {
        let quotas = Registry::tenant(self, tenant).map_or(self.defaults, |t| t.quotas);
        i64::from(quotas.max_invocation_records)
    }
}

impl InvocationLog for PgStore {
    fn record_invocations<'a>(&'a self, batch: &'a [NewInvocation]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let column = |f: fn(&NewInvocation) -> String| batch.iter().map(f).collect::<Vec<_>>();
            let tenants = column(|r| r.tenant.clone());
            let actions = column(|r| r.action.clone());
            let request_ids = column(|r| r.request_id.clone());
            let outcomes = column(|r| r.outcome.to_owned());
            let versions: Vec<i64> = batch.iter().map(|r| i64::from(r.version)).collect();
            let at_ms: Vec<i64> = batch.iter().map(|r| r.at_ms).collect();
            let durations: Vec<i64> = batch.iter().map(|r| r.ms as i64).collect();
            let limit_hits: Vec<Option<String>> =
                batch.iter().map(|r| r.limit_hit.clone()).collect();
            // PostgreSQL text cannot hold NUL; a guest's stderr can.
            let stderrs: Vec<Option<String>> = batch
                .iter()
                .map(|r| r.stderr.as_ref().map(|s| s.replace('\0', "\u{fffd}")))
                .collect();
            let details = column(NewInvocation::detail_json);
            let mut tx = self.pool.begin().await?;
            // Records of tenants deleted meanwhile are skipped. Ids follow the
            // batch's order (the join may reorder rows), since lists and
            // streams order by id.
            sqlx::query(
                "INSERT INTO invocations (tenant, action, version, request_id, at_ms, outcome, \
                 duration_ms, limit_hit, stderr, detail) \
                 SELECT tenant, action, version, request_id, at_ms, outcome, duration_ms, \
                   limit_hit, stderr, detail \
                 FROM UNNEST($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[], \
                   $5::BIGINT[], $6::TEXT[], $7::BIGINT[], $8::TEXT[], $9::TEXT[], $10::TEXT[]) \
                 WITH ORDINALITY AS r(tenant, action, version, request_id, at_ms, outcome, \
                   duration_ms, limit_hit, stderr, detail, n) \
                 WHERE r.tenant IN (SELECT name FROM tenants) ORDER BY r.n",
            )
            .bind(&tenants)
            .bind(&actions)
            .bind(&versions)
            .bind(&request_ids)
            .bind(&at_ms)
            .bind(&outcomes)
            .bind(&durations)
            .bind(&limit_hits)
            .bind(&stderrs)
            .bind(&details)
            .execute(&mut *tx)
            .await?;
            let mut distinct = tenants.clone();
            distinct.sort_unstable();
            distinct.dedup();
            // Everything older than each tenant's kept-th newest id goes;
            // OFFSET finds that id without collecting the kept ids.
            let skipped: Vec<i64> = distinct
                .iter()
                .map(|t| self.records_kept(t).max(1) - 1)
                .collect();
            sqlx::query(
                "DELETE FROM invocations i USING UNNEST($1::TEXT[], $2::BIGINT[]) AS t(name, skipped) \
                 WHERE i.tenant = t.name AND i.id < (SELECT id FROM invocations \
                   WHERE tenant = t.name ORDER BY id DESC OFFSET t.skipped LIMIT 1)",
            )
            .bind(&distinct)
            .bind(&skipped)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    fn list_invocations<'a>(
        &'a self,
        tenant: &'a TenantName,
        query: &'a InvocationQuery,
    ) -> StoreFuture<'a, Vec<InvocationRecord>> {
        Box::pin(async move {
            self.require_tenant(tenant)?;
            let mut sql = sqlx::QueryBuilder::new("");
            select_invocations(&mut sql, tenant.as_str(), query);
            let rows = sql
                .build_query_as::<InvocationColumns>()
                .fetch_all(&self.pool)
                .await?;
            Ok(records(rows))
        })
    }

    fn invocation<'a>(
        &'a self,
        tenant: &'a TenantName,
        id: i64,
    ) -> StoreFuture<'a, Option<InvocationRecord>> {
        Box::pin(async move {
            let row = sqlx::query_as::<_, InvocationColumns>(&format!(
                "SELECT {INVOCATION_COLUMNS} FROM invocations WHERE tenant = $1 AND id = $2"
            ))
            .bind(tenant.as_str())
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
            Ok(row.map(InvocationRecord::from))
        })
    }

    fn prune_invocations(&self, older_than_ms: i64) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let done = sqlx::query("DELETE FROM invocations WHERE at_ms < $1")
                .bind(older_than_ms)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected())
        })
    }
}
