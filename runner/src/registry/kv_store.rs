//! Actions' key-value data in the registry's SQLite database.
//!
//! Each write is one statement, so it is atomic without a transaction: the
//! tenant's quota is checked by the statement that writes, and an increment
//! reads and writes the value in one step even when invocations race.

use super::store::{Store, now_ms};
use crate::capabilities::kv::{
    KvBackend, KvError, KvFuture, Namespace, not_an_integer, quota_exceeded,
};
use sqlx::Row;

fn database(err: sqlx::Error) -> KvError {
    tracing::error!(error = %err, "key-value store");
    KvError("the key-value store is unavailable; try again".into())
}

/// Bytes of the tenant's data other than `key` in `ns`, as an SQL expression
/// taking (tenant, scope, key) parameters.
const OTHER_BYTES: &str = "(SELECT COALESCE(SUM(length(key) + length(value)), 0) FROM kv \
     WHERE tenant = ?1 AND NOT (scope = ?2 AND key = ?3))";

impl KvBackend for Store {
    fn get<'a>(&'a self, ns: &'a Namespace, key: &'a str) -> KvFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            sqlx::query_scalar(
                "SELECT CAST(value AS BLOB) FROM kv WHERE tenant = ? AND scope = ? AND key = ?",
            )
            .bind(&ns.tenant)
            .bind(&ns.scope)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(database)
        })
    }

    fn set<'a>(
        &'a self,
        ns: &'a Namespace,
        key: &'a str,
        value: &'a [u8],
        max_tenant_bytes: u64,
    ) -> KvFuture<'a, ()> {
        Box::pin(async move {
            let written = sqlx::query(&format!(
                "INSERT INTO kv (tenant, scope, key, value, updated_ms) \
                 SELECT ?1, ?2, ?3, ?4, ?5 WHERE {OTHER_BYTES} + length(?3) + length(?4) <= ?6 \
                 ON CONFLICT (tenant, scope, key) DO UPDATE \
                 SET value = excluded.value, updated_ms = excluded.updated_ms"
            ))
            .bind(&ns.tenant)
            .bind(&ns.scope)
            .bind(key)
            .bind(value)
            .bind(now_ms())
            .bind(i64::try_from(max_tenant_bytes).unwrap_or(i64::MAX))
            .execute(&self.pool)
            .await
            .map_err(database)?;
            match written.rows_affected() {
                0 => Err(quota_exceeded(max_tenant_bytes)),
                _ => Ok(()),
            }
        })
    }

    fn delete<'a>(&'a self, ns: &'a Namespace, key: &'a str) -> KvFuture<'a, bool> {
        Box::pin(async move {
            let deleted = sqlx::query("DELETE FROM kv WHERE tenant = ? AND scope = ? AND key = ?")
                .bind(&ns.tenant)
                .bind(&ns.scope)
                .bind(key)
                .execute(&self.pool)
                .await
                .map_err(database)?;
            Ok(deleted.rows_affected() > 0)
        })
    }

    fn increment<'a>(
        &'a self,
        ns: &'a Namespace,
        key: &'a str,
        delta: i64,
        max_tenant_bytes: u64,
    ) -> KvFuture<'a, i64> {
        Box::pin(async move {
            // The update applies only to a value that is an integer's text;
            // anything else leaves the row alone and returns nothing.
            let row = sqlx::query(&format!(
                "INSERT INTO kv (tenant, scope, key, value, updated_ms) \
                 SELECT ?1, ?2, ?3, CAST(?4 AS TEXT), ?5 \
                 WHERE {OTHER_BYTES} + length(?3) + 20 <= ?6 \
                 ON CONFLICT (tenant, scope, key) DO UPDATE \
                 SET value = CAST(CAST(CAST(kv.value AS TEXT) AS INTEGER) + ?4 AS TEXT), \
                     updated_ms = excluded.updated_ms \
                 WHERE CAST(CAST(CAST(kv.value AS TEXT) AS INTEGER) AS TEXT) = CAST(kv.value AS TEXT) \
                 RETURNING CAST(value AS TEXT) AS value"
            ))
            .bind(&ns.tenant)
            .bind(&ns.scope)
            .bind(key)
            .bind(delta)
            .bind(now_ms())
            .bind(i64::try_from(max_tenant_bytes).unwrap_or(i64::MAX))
            .fetch_optional(&self.pool)
            .await
            .map_err(database)?;
            match row {
                Some(row) => {
                    let text: String = row.try_get("value").map_err(database)?;
                    text.parse().map_err(|_| not_an_integer(key))
                }
                // Nothing written: either the value is not an integer, or the
                // tenant's quota left no room.
                None => match self.get(ns, key).await? {
                    Some(value)
                        if std::str::from_utf8(&value)
                            .map_or(true, |v| v.parse::<i64>().is_err()) =>
                    {
                        Err(not_an_integer(key))
                    }
                    _ => Err(quota_exceeded(max_tenant_bytes)),
                },
            }
        })
    }

    fn keys<'a>(
        &'a self,
        ns: &'a Namespace,
        prefix: &'a str,
        limit: usize,
    ) -> KvFuture<'a, Vec<String>> {
        Box::pin(async move {
            // Compared with substr rather than LIKE, so `%` and `_` in a prefix are literal.
            sqlx::query_scalar(
                "SELECT key FROM kv WHERE tenant = ? AND scope = ? \
                 AND substr(key, 1, length(?3)) = ?3 ORDER BY key LIMIT ?4",
            )
            .bind(&ns.tenant)
            .bind(&ns.scope)
            .bind(prefix)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(database)
        })
    }
}
