//! The SQL both backends run the same way, written once.
//!
//! SQLite and PostgreSQL differ in their placeholders (`?` against `$1`),
//! their locks and their notifications; most queries differ in nothing else.
//! Those are written here once, with `?` placeholders that [`Dialect::sql`]
//! numbers for PostgreSQL, as macros that expand to the same trait methods in
//! both backends' `impl` blocks (each backend has a `pool` of its own
//! database and a `require_tenant`). The backend files keep only what really
//! differs: writes with their transactions and locks, upserts,
//! notifications.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

/// A backend's database and how it writes placeholders.
pub(crate) trait Dialect {
    /// The sqlx database.
    type Database: sqlx::Database;
    /// `text`, written with `?` placeholders, in this backend's dialect.
    fn sql(text: &'static str) -> Cow<'static, str>;
}

impl Dialect for super::store::SqliteStore {
    type Database = sqlx::Sqlite;
    fn sql(text: &'static str) -> Cow<'static, str> {
        Cow::Borrowed(text)
    }
}

impl Dialect for super::postgres::PgStore {
    type Database = sqlx::Postgres;
    fn sql(text: &'static str) -> Cow<'static, str> {
        Cow::Borrowed(numbered(text))
    }
}

/// `text` with each `?` replaced by `$1`, `$2`, …, converted once per
/// query text (there are a few dozen) and kept for the process's life.
fn numbered(text: &'static str) -> &'static str {
    static CONVERTED: LazyLock<Mutex<HashMap<&'static str, &'static str>>> =
        LazyLock::new(Mutex::default);
    let mut converted = CONVERTED.lock().unwrap_or_else(|e| e.into_inner());
    converted.entry(text).or_insert_with(|| {
        let mut out = String::with_capacity(text.len() + 8);
        let mut n = 0;
        for c in text.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        Box::leak(out.into_boxed_str())
    })
}

/// The invocation log's reads and its prune by age: `list_invocations`,
/// `invocation`, `recently_called` and `prune_invocations` of
/// [`InvocationLog`](super::InvocationLog).
macro_rules! invocation_log_reads {
    () => {
        fn list_invocations<'a>(
            &'a self,
            tenant: &'a $crate::names::TenantName,
            query: &'a $crate::registry::InvocationQuery,
        ) -> $crate::registry::StoreFuture<'a, Vec<$crate::registry::InvocationRecord>> {
            Box::pin(async move {
                self.require_tenant(tenant)?;
                let mut sql = sqlx::QueryBuilder::new("");
                $crate::registry::columns::select_invocations(&mut sql, tenant.as_str(), query);
                let rows = sql
                    .build_query_as::<$crate::registry::columns::InvocationColumns>()
                    .fetch_all(&self.pool)
                    .await?;
                Ok($crate::registry::columns::records(rows))
            })
        }

        fn invocation<'a>(
            &'a self,
            tenant: &'a $crate::names::TenantName,
            id: i64,
        ) -> $crate::registry::StoreFuture<'a, Option<$crate::registry::InvocationRecord>> {
            Box::pin(async move {
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(concat!(
                    "SELECT seq AS id, action, version, request_id, at_ms, outcome, duration_ms, ",
                    "limit_hit, stderr, detail FROM invocations WHERE tenant = ? AND seq = ?"
                ));
                let row = sqlx::query_as::<_, $crate::registry::columns::InvocationColumns>(&text)
                    .bind(tenant.as_str())
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map($crate::registry::InvocationRecord::from))
            })
        }

        fn recently_called(
            &self,
            since_ms: i64,
            limit: u32,
        ) -> $crate::registry::StoreFuture<'_, Vec<$crate::registry::RecentCall>> {
            Box::pin(async move {
                // By the `at_ms` index, one row per version.
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(concat!(
                    "SELECT tenant, action, CAST(version AS BIGINT), MAX(at_ms) AS last_ms ",
                    "FROM invocations WHERE at_ms >= ? GROUP BY tenant, action, version ",
                    "ORDER BY last_ms DESC, tenant, action, version LIMIT ?"
                ));
                let rows = sqlx::query_as::<_, (String, String, i64, i64)>(&text)
                    .bind(since_ms)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(
                        |(tenant, action, version, last_ms)| $crate::registry::RecentCall {
                            tenant,
                            action,
                            version: u32::try_from(version).unwrap_or(u32::MAX),
                            last_ms,
                        },
                    )
                    .collect())
            })
        }

        fn invocation_samples<'a>(
            &'a self,
            tenant: Option<&'a $crate::names::TenantName>,
            since_ms: i64,
            limit: u32,
        ) -> $crate::registry::StoreFuture<'a, Vec<$crate::registry::InvocationSample>> {
            Box::pin(async move {
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(concat!(
                    "SELECT at_ms, duration_ms, outcome FROM invocations ",
                    "WHERE at_ms >= ? AND (? IS NULL OR tenant = ?) ",
                    "ORDER BY at_ms DESC LIMIT ?"
                ));
                let name = tenant.map(|t| t.as_str().to_owned());
                let rows = sqlx::query_as::<_, (i64, i64, String)>(&text)
                    .bind(since_ms)
                    .bind(name.clone())
                    .bind(name)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(
                        |(at_ms, duration_ms, outcome)| $crate::registry::InvocationSample {
                            at_ms,
                            duration_ms: duration_ms.max(0) as u64,
                            success: outcome == "success",
                        },
                    )
                    .collect())
            })
        }

        fn prune_invocations(&self, older_than_ms: i64) -> $crate::registry::StoreFuture<'_, u64> {
            Box::pin(async move {
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(
                    "DELETE FROM invocations WHERE at_ms < ?",
                );
                let done = sqlx::query(&text)
                    .bind(older_than_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            })
        }
    };
}

pub(crate) use invocation_log_reads;

/// What the invocation log's writers share (inherent methods of each
/// backend): how many records a tenant keeps, and numbering a batch's
/// records per tenant inside the writer's transaction.
macro_rules! invocation_numbering {
    () => {
        /// How many invocation records `tenant` keeps (its quota).
        fn records_kept(&self, tenant: &str) -> i64 {
            let quotas = $crate::registry::Registry::tenant(self, tenant)
                .map_or(self.defaults, |t| t.quotas);
            i64::from(quotas.max_invocation_records)
        }

        /// Reserves numbers for the batch's records, each tenant's from its
        /// own counter, in `tx`; returns the records with their numbers, in
        /// batch order. The counter row stays locked until the commit, so
        /// concurrent writers (replicas) number a tenant's records in commit
        /// order; tenants are taken in name order, so two batches never wait
        /// on each other in a cycle. A tenant deleted meanwhile (or deleted
        /// and made again) reserves nothing, and its records are left out.
        async fn number_batch<'b>(
            tx: &mut sqlx::Transaction<
                'static,
                <Self as $crate::registry::shared_sql::Dialect>::Database,
            >,
            batch: &'b [$crate::registry::NewInvocation],
        ) -> Result<Vec<(&'b $crate::registry::NewInvocation, i64)>, $crate::registry::StoreError> {
            let mut first = std::collections::BTreeMap::new();
            for (name, id, count) in $crate::registry::columns::batch_tenants(batch) {
                let mut reserve = sqlx::QueryBuilder::new("");
                $crate::registry::columns::reserve_numbers(&mut reserve, name, id, count);
                let last: Option<i64> = reserve
                    .build_query_scalar()
                    .fetch_optional(&mut **tx)
                    .await?;
                if let Some(last) = last {
                    first.insert((name, id), last - count + 1);
                }
            }
            Ok($crate::registry::columns::number_records(batch, first))
        }
    };
}

pub(crate) use invocation_numbering;

/// The live version number of an action (an inherent method of each
/// backend, for the reads below): [`StoreError::UnknownAction`] without one.
///
/// [`StoreError::UnknownAction`]: super::StoreError::UnknownAction
macro_rules! live_version {
    () => {
        async fn live_version(
            &self,
            tenant: &$crate::names::TenantName,
            action: &str,
        ) -> Result<u32, $crate::registry::StoreError> {
            self.require_tenant(tenant)?;
            let text = <Self as $crate::registry::shared_sql::Dialect>::sql(
                "SELECT live_version FROM actions WHERE tenant = ? AND name = ?",
            );
            let live: Option<i64> = sqlx::query_scalar(&text)
                .bind(tenant.as_str())
                .bind(action)
                .fetch_optional(&self.pool)
                .await?;
            live.map(|v| v as u32)
                .ok_or_else(|| $crate::registry::StoreError::UnknownAction(action.to_owned()))
        }
    };
}

pub(crate) use live_version;

/// The version reads of [`VersionStore`](super::VersionStore):
/// `tenant_keeps_module`, `live_source`, `list_actions`, `list_versions` and
/// `version`.
macro_rules! version_reads {
    () => {
        fn tenant_keeps_module<'a>(
            &'a self,
            tenant: &'a $crate::names::TenantName,
            digest: &'a $crate::registry::ModuleDigest,
        ) -> $crate::registry::StoreFuture<'a, bool> {
            Box::pin(async move {
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(
                    "SELECT EXISTS(SELECT 1 FROM versions WHERE tenant = ? AND module = ?)",
                );
                Ok(sqlx::query_scalar(&text)
                    .bind(tenant.as_str())
                    .bind(digest.as_str())
                    .fetch_one(&self.pool)
                    .await?)
            })
        }

        fn live_source<'a>(
            &'a self,
            tenant: &'a $crate::names::TenantName,
            action: &'a $crate::names::ActionName,
        ) -> $crate::registry::StoreFuture<'a, Option<(String, $crate::registry::ModuleDigest)>>
        {
            Box::pin(async move {
                use sqlx::Row;
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(concat!(
                    "SELECT v.manifest, v.module FROM actions a JOIN versions v ",
                    "ON v.tenant = a.tenant AND v.action = a.name AND v.version = a.live_version ",
                    "WHERE a.tenant = ? AND a.name = ?"
                ));
                let row = sqlx::query(&text)
                    .bind(tenant.as_str())
                    .bind(action.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|row| {
                    Ok((
                        row.try_get("manifest")?,
                        $crate::registry::ModuleDigest::from_stored(row.try_get("module")?),
                    ))
                })
                .transpose()
            })
        }

        fn list_actions<'a>(
            &'a self,
            tenant: &'a $crate::names::TenantName,
        ) -> $crate::registry::StoreFuture<'a, Vec<$crate::registry::ActionInfo>> {
            Box::pin(async move {
                self.require_tenant(tenant)?;
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(concat!(
                    "SELECT a.name, a.live_version, v.display_name, ",
                    "(SELECT COUNT(*) FROM versions c WHERE c.tenant = a.tenant AND c.action = a.name) AS n ",
                    "FROM actions a JOIN versions v ",
                    "ON v.tenant = a.tenant AND v.action = a.name AND v.version = a.live_version ",
                    "WHERE a.tenant = ? ORDER BY a.name"
                ));
                let rows = sqlx::query_as::<_, $crate::registry::columns::ActionColumns>(&text)
                    .bind(tenant.as_str())
                    .fetch_all(&self.pool)
                    .await?;
                Ok($crate::registry::columns::records(rows))
            })
        }

        fn list_versions<'a>(
            &'a self,
            tenant: &'a $crate::names::TenantName,
            action: &'a str,
        ) -> $crate::registry::StoreFuture<'a, Vec<$crate::registry::VersionInfo>> {
            Box::pin(async move {
                let live = self.live_version(tenant, action).await?;
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(concat!(
                    "SELECT v.version, v.module, v.created_ms, m.size, m.abi FROM versions v ",
                    "JOIN modules m ON m.digest = v.module ",
                    "WHERE v.tenant = ? AND v.action = ? ORDER BY v.version DESC"
                ));
                let rows =
                    sqlx::query_as::<_, $crate::registry::columns::VersionListColumns>(&text)
                        .bind(tenant.as_str())
                        .bind(action)
                        .fetch_all(&self.pool)
                        .await?;
                Ok(rows.into_iter().map(|row| row.into_info(live)).collect())
            })
        }

        fn version<'a>(
            &'a self,
            tenant: &'a $crate::names::TenantName,
            action: &'a str,
            version: u32,
        ) -> $crate::registry::StoreFuture<'a, $crate::registry::ActionVersion> {
            Box::pin(async move {
                use sqlx::FromRow;
                self.live_version(tenant, action).await?;
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(concat!(
                    "SELECT action, version, module, display_name, limits, config, secrets, ",
                    "grants FROM versions WHERE tenant = ? AND action = ? AND version = ?"
                ));
                let row = sqlx::query(&text)
                    .bind(tenant.as_str())
                    .bind(action)
                    .bind(i64::from(version))
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or_else(|| $crate::registry::StoreError::UnknownVersion {
                        action: action.to_owned(),
                        version,
                    })?;
                $crate::registry::columns::VersionColumns::from_row(&row)?.into_version()
            })
        }
    };
}

pub(crate) use version_reads;

/// `delete` of [`KvBackend`](crate::capabilities::kv::KvBackend).
macro_rules! kv_delete {
    () => {
        fn delete<'a>(
            &'a self,
            ns: &'a $crate::capabilities::kv::Namespace,
            key: &'a str,
        ) -> $crate::capabilities::kv::KvFuture<'a, bool> {
            Box::pin(async move {
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(
                    "DELETE FROM kv WHERE tenant = ? AND scope = ? AND key = ?",
                );
                let deleted = sqlx::query(&text)
                    .bind(&ns.tenant)
                    .bind(&ns.scope)
                    .bind(key)
                    .execute(&self.pool)
                    .await
                    .map_err(database)?;
                Ok(deleted.rows_affected() > 0)
            })
        }
    };
}

pub(crate) use kv_delete;

#[cfg(test)]
mod tests {
    use super::numbered;

    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(
            numbered("SELECT a FROM t WHERE b = ? AND c = ? LIMIT ?"),
            "SELECT a FROM t WHERE b = $1 AND c = $2 LIMIT $3"
        );
        assert_eq!(numbered("SELECT 1"), "SELECT 1");
    }
}
