//! The invocation log: batched appends, pruned to each tenant's newest
//! `maxInvocationRecords` and by age, read newest first with filters.

use crate::names::TenantName;
use crate::registry::Registry;
use crate::registry::columns::{
    INVOCATION_COLUMNS, InvocationColumns, records, select_invocations,
};
use crate::registry::store::{InvocationQuery, InvocationRecord, NewInvocation, Store};
use crate::registry::traits::{InvocationLog, StoreFuture};

impl Store {
    /// How many invocation records `tenant` keeps (its quota).
    fn records_kept(&self, tenant: &str) -> i64 {
        let quotas = Registry::tenant(self, tenant).map_or(self.defaults, |t| t.quotas);
        i64::from(quotas.max_invocation_records)
    }
}

impl InvocationLog for Store {
    /// Appends invocation records in one transaction, a few multi-row
    /// statements rather than one statement per record (each statement is a
    /// round trip to SQLite's worker thread). Records of tenants deleted
    /// meanwhile are skipped.
    fn record_invocations<'a>(&'a self, batch: &'a [NewInvocation]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            // 10 bound values per row, well under SQLite's limit of 32766 per statement.
            const ROWS_PER_STATEMENT: usize = 2000;
            let mut tx = self.pool.begin().await?;
            for chunk in batch.chunks(ROWS_PER_STATEMENT) {
                let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                    "INSERT INTO invocations (tenant, action, version, request_id, at_ms, outcome, \
                     duration_ms, limit_hit, stderr, detail) SELECT * FROM (",
                );
                insert.push_values(chunk, |mut row, record| {
                    row.push_bind(&record.tenant)
                        .push_bind(&record.action)
                        .push_bind(i64::from(record.version))
                        .push_bind(&record.request_id)
                        .push_bind(record.at_ms)
                        .push_bind(record.outcome)
                        .push_bind(record.ms as i64)
                        .push_bind(&record.limit_hit)
                        .push_bind(&record.stderr)
                        .push_bind(record.detail_json());
                });
                insert.push(") WHERE column1 IN (SELECT name FROM tenants)");
                insert.build().execute(&mut *tx).await?;
            }
            let tenants: std::collections::BTreeSet<&str> =
                batch.iter().map(|r| r.tenant.as_str()).collect();
            for tenant in tenants {
                sqlx::query(
                    "DELETE FROM invocations WHERE tenant = ? AND id < (SELECT MIN(id) FROM \
                     (SELECT id FROM invocations WHERE tenant = ? ORDER BY id DESC LIMIT ?))",
                )
                .bind(tenant)
                .bind(tenant)
                .bind(self.records_kept(tenant))
                .execute(&mut *tx)
                .await?;
            }
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
                "SELECT {INVOCATION_COLUMNS} FROM invocations WHERE tenant = ? AND id = ?"
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
            let done = sqlx::query("DELETE FROM invocations WHERE at_ms < ?")
                .bind(older_than_ms)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected())
        })
    }
}
