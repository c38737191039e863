//! Actions' key-value data in the registry's SQLite database.
//!
//! Each write is one statement, so it is atomic without a transaction: the
//! tenant's quota is checked by the statement that writes, and an increment
//! reads and writes the value in one step even when invocations race.
//! Sizes are counted in bytes (`length(CAST(… AS BLOB))`: SQLite's `length` of
//! text counts characters), each entry with [`ENTRY_OVERHEAD_BYTES`] on top.

use crate::capabilities::kv::{
    ENTRY_OVERHEAD_BYTES, KvBackend, KvError, KvFuture, Namespace, not_an_integer, quota_exceeded,
    stored_integer, would_overflow,
};
use crate::registry::store::{SqliteStore, now_ms};
use std::sync::LazyLock;

fn database(err: sqlx::Error) -> KvError {
    tracing::error!(error = %err, "key-value store");
    KvError("the key-value store is unavailable; try again".into())
}

/// The bytes the tenant ?1 uses in entries other than (scope ?2, key ?3),
/// then the SQL guard that the new entry (key ?3, value ?4) fits under ?6,
/// each entry costing ?7 on top of its key and value.
const FITS_UNDER_QUOTA: &str = "(SELECT COALESCE(SUM(length(CAST(key AS BLOB)) \
     + length(CAST(value AS BLOB)) + ?7), 0) FROM kv \
     WHERE tenant = ?1 AND NOT (scope = ?2 AND key = ?3)) \
     + length(CAST(?3 AS BLOB)) + length(CAST(?4 AS BLOB)) + ?7 <= ?6";

/// `set`: an upsert that writes only when the entry fits under the quota.
static SET_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO kv (tenant, scope, key, value, updated_ms) \
         SELECT ?1, ?2, ?3, ?4, ?5 WHERE {FITS_UNDER_QUOTA} \
         ON CONFLICT (tenant, scope, key) DO UPDATE \
         SET value = excluded.value, updated_ms = excluded.updated_ms"
    )
});

/// `increment` (?4 is the delta): the update applies only to a value that is an
/// integer's canonical text and whose sum stays an integer (SQLite turns an
/// overflowing sum into a float); otherwise the row is left alone and nothing
/// is returned. A new entry is charged 20 bytes of value.
static INCREMENT_SQL: LazyLock<String> = LazyLock::new(|| {
    let fits = FITS_UNDER_QUOTA.replace("length(CAST(?4 AS BLOB))", "20");
    format!(
        "INSERT INTO kv (tenant, scope, key, value, updated_ms) \
         SELECT ?1, ?2, ?3, CAST(?4 AS TEXT), ?5 WHERE {fits} \
         ON CONFLICT (tenant, scope, key) DO UPDATE \
         SET value = CAST(CAST(CAST(kv.value AS TEXT) AS INTEGER) + ?4 AS TEXT), \
             updated_ms = excluded.updated_ms \
         WHERE CAST(CAST(CAST(kv.value AS TEXT) AS INTEGER) AS TEXT) = CAST(kv.value AS TEXT) \
           AND typeof(CAST(CAST(kv.value AS TEXT) AS INTEGER) + ?4) = 'integer' \
         RETURNING CAST(value AS TEXT)"
    )
});

fn quota(max_tenant_bytes: u64) -> i64 {
    i64::try_from(max_tenant_bytes).unwrap_or(i64::MAX)
}

impl KvBackend for SqliteStore {
    fn get<'a>(&'a self, ns: &'a Namespace, key: &'a str) -> KvFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            sqlx::query_scalar(
                "SELECT CAST(value AS BLOB) FROM kv WHERE tenant = ?1 AND scope = ?2 AND key = ?3",
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
            let written = sqlx::query(&SET_SQL)
                .bind(&ns.tenant)
                .bind(&ns.scope)
                .bind(key)
                .bind(value)
                .bind(now_ms())
                .bind(quota(max_tenant_bytes))
                .bind(ENTRY_OVERHEAD_BYTES as i64)
                .execute(&self.pool)
                .await
                .map_err(database)?;
            match written.rows_affected() {
                0 => Err(quota_exceeded(max_tenant_bytes)),
                _ => Ok(()),
            }
        })
    }

    crate::registry::shared_sql::kv_delete!();

    fn increment<'a>(
        &'a self,
        ns: &'a Namespace,
        key: &'a str,
        delta: i64,
        max_tenant_bytes: u64,
    ) -> KvFuture<'a, i64> {
        Box::pin(async move {
            let row: Option<String> = sqlx::query_scalar(&INCREMENT_SQL)
                .bind(&ns.tenant)
                .bind(&ns.scope)
                .bind(key)
                .bind(delta)
                .bind(now_ms())
                .bind(quota(max_tenant_bytes))
                .bind(ENTRY_OVERHEAD_BYTES as i64)
                .fetch_optional(&self.pool)
                .await
                .map_err(database)?;
            if let Some(text) = row {
                return text.parse().map_err(|_| not_an_integer(key));
            }
            // Nothing written: say why.
            match self.get(ns, key).await? {
                None => Err(quota_exceeded(max_tenant_bytes)),
                Some(value) => match stored_integer(&value) {
                    None => Err(not_an_integer(key)),
                    Some(n) if n.checked_add(delta).is_none() => Err(would_overflow(key)),
                    Some(_) => Err(quota_exceeded(max_tenant_bytes)),
                },
            }
        })
    }

    fn keys<'a>(
        &'a self,
        ns: &'a Namespace,
        prefix: &'a str,
        offset: usize,
        limit: usize,
    ) -> KvFuture<'a, Vec<String>> {
        Box::pin(async move {
            // Compared with substr rather than LIKE, so `%` and `_` in a prefix are literal.
            sqlx::query_scalar(
                "SELECT key FROM kv WHERE tenant = ?1 AND scope = ?2 \
                 AND substr(key, 1, length(?3)) = ?3 ORDER BY key LIMIT ?4 OFFSET ?5",
            )
            .bind(&ns.tenant)
            .bind(&ns.scope)
            .bind(prefix)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(database)
        })
    }
}
