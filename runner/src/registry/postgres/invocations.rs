//! The invocation log: batched appends (one statement per batch, whatever its
//! size), pruned to each tenant's newest `maxInvocationRecords` and by age,
//! read newest first with filters.

use super::PgStore;
use crate::registry::store::NewInvocation;
use crate::registry::traits::{InvocationLog, StoreFuture};

impl PgStore {
    crate::registry::shared_sql::invocation_numbering!();
}

impl InvocationLog for PgStore {
    fn record_invocations<'a>(&'a self, batch: &'a [NewInvocation]) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await?;
            // Each tenant's counter row stays locked until the commit, so
            // replicas writing the same tenant's records number them in
            // commit order; tenants are taken in name order, so two batches
            // never wait on each other in a cycle. A tenant deleted
            // meanwhile (or deleted and made again) reserves nothing, and
            // its records are skipped.
            let numbered = Self::number_batch(&mut tx, batch).await?;
            let column = |f: fn(&NewInvocation) -> String| {
                numbered.iter().map(|(r, _)| f(r)).collect::<Vec<_>>()
            };
            let tenant_names = column(|r| r.tenant.clone());
            let actions = column(|r| r.action.clone());
            let request_ids = column(|r| r.request_id.clone());
            let outcomes = column(|r| r.outcome.to_owned());
            let seqs: Vec<i64> = numbered.iter().map(|(_, seq)| *seq).collect();
            let versions: Vec<i64> = numbered.iter().map(|(r, _)| i64::from(r.version)).collect();
            let at_ms: Vec<i64> = numbered.iter().map(|(r, _)| r.at_ms).collect();
            let durations: Vec<i64> = numbered.iter().map(|(r, _)| r.ms as i64).collect();
            let limit_hits: Vec<Option<String>> =
                numbered.iter().map(|(r, _)| r.limit_hit.clone()).collect();
            // PostgreSQL text cannot hold NUL; a guest's stderr can.
            let stderrs: Vec<Option<String>> = numbered
                .iter()
                .map(|(r, _)| r.stderr.as_ref().map(|s| s.replace('\0', "\u{fffd}")))
                .collect();
            let details = column(NewInvocation::detail_json);
            sqlx::query(
                "INSERT INTO invocations (tenant, seq, action, version, request_id, at_ms, outcome, \
                 duration_ms, limit_hit, stderr, detail) \
                 SELECT * FROM UNNEST($1::TEXT[], $2::BIGINT[], $3::TEXT[], $4::BIGINT[], \
                   $5::TEXT[], $6::BIGINT[], $7::TEXT[], $8::BIGINT[], $9::TEXT[], $10::TEXT[], \
                   $11::TEXT[])",
            )
            .bind(&tenant_names)
            .bind(&seqs)
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
            // Only the tenants whose counter row this transaction holds.
            let distinct: Vec<String> = numbered
                .iter()
                .map(|(r, _)| r.tenant.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            // Everything older than each tenant's kept-th newest record goes;
            // OFFSET finds it without collecting the kept records.
            let skipped: Vec<i64> = distinct
                .iter()
                .map(|t| self.records_kept(t).max(1) - 1)
                .collect();
            sqlx::query(
                "DELETE FROM invocations i USING UNNEST($1::TEXT[], $2::BIGINT[]) AS t(name, skipped) \
                 WHERE i.tenant = t.name AND i.seq < (SELECT seq FROM invocations \
                   WHERE tenant = t.name ORDER BY seq DESC OFFSET t.skipped LIMIT 1)",
            )
            .bind(&distinct)
            .bind(&skipped)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    crate::registry::shared_sql::invocation_log_reads!();
}
