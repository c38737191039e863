//! Actions' key-value data in PostgreSQL, shared by every replica.
//!
//! Writes run in a transaction holding the tenant's key-value advisory lock:
//! the quota check (a sum over the tenant's entries) and the write it allows
//! are atomic, and an increment's read and write cannot interleave with
//! another replica's, so concurrent increments from anywhere add up exactly.

use super::PgStore;
use crate::capabilities::kv::{
    ENTRY_OVERHEAD_BYTES, KvBackend, KvError, KvFuture, Namespace, entry_bytes, not_an_integer,
    quota_exceeded, stored_integer, would_overflow,
};
use crate::registry::store::now_ms;
use sqlx::{Postgres, Transaction};

fn database(err: sqlx::Error) -> KvError {
    tracing::error!(error = %err, "key-value store");
    KvError("the key-value store is unavailable; try again".into())
}

impl PgStore {
    /// A transaction holding the tenant's key-value lock.
    async fn kv_write(&self, tenant: &str) -> Result<Transaction<'static, Postgres>, KvError> {
        let mut tx = self.pool.begin().await.map_err(database)?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('kv:' || $1, 0))")
            .bind(tenant)
            .execute(&mut *tx)
            .await
            .map_err(database)?;
        Ok(tx)
    }

    /// Bytes the tenant's entries take, but (scope, key)'s.
    async fn kv_bytes_but(
        tx: &mut Transaction<'static, Postgres>,
        ns: &Namespace,
        key: &str,
    ) -> Result<u64, KvError> {
        let used: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(octet_length(key) + octet_length(value) + $4), 0)::BIGINT \
             FROM kv WHERE tenant = $1 AND NOT (scope = $2 AND key = $3)",
        )
        .bind(&ns.tenant)
        .bind(&ns.scope)
        .bind(key)
        .bind(ENTRY_OVERHEAD_BYTES as i64)
        .fetch_one(&mut **tx)
        .await
        .map_err(database)?;
        Ok(used as u64)
    }

    async fn kv_put(
        tx: &mut Transaction<'static, Postgres>,
        ns: &Namespace,
        key: &str,
        value: &[u8],
    ) -> Result<(), KvError> {
        sqlx::query(
            "INSERT INTO kv (tenant, scope, key, value, updated_ms) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant, scope, key) DO UPDATE \
             SET value = excluded.value, updated_ms = excluded.updated_ms",
        )
        .bind(&ns.tenant)
        .bind(&ns.scope)
        .bind(key)
        .bind(value)
        .bind(now_ms())
        .execute(&mut **tx)
        .await
        .map_err(database)?;
        Ok(())
    }
}

impl KvBackend for PgStore {
    fn get<'a>(&'a self, ns: &'a Namespace, key: &'a str) -> KvFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            sqlx::query_scalar("SELECT value FROM kv WHERE tenant = $1 AND scope = $2 AND key = $3")
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
            let mut tx = self.kv_write(&ns.tenant).await?;
            let used = Self::kv_bytes_but(&mut tx, ns, key).await?;
            if used + entry_bytes(key, value.len()) > max_tenant_bytes {
                return Err(quota_exceeded(max_tenant_bytes));
            }
            Self::kv_put(&mut tx, ns, key, value).await?;
            tx.commit().await.map_err(database)
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
            let mut tx = self.kv_write(&ns.tenant).await?;
            let stored: Option<Vec<u8>> = sqlx::query_scalar(
                "SELECT value FROM kv WHERE tenant = $1 AND scope = $2 AND key = $3",
            )
            .bind(&ns.tenant)
            .bind(&ns.scope)
            .bind(key)
            .fetch_optional(&mut *tx)
            .await
            .map_err(database)?;
            let sum = match stored {
                Some(value) => stored_integer(&value)
                    .ok_or_else(|| not_an_integer(key))?
                    .checked_add(delta)
                    .ok_or_else(|| would_overflow(key))?,
                None => delta,
            };
            let text = sum.to_string();
            // Charged as the SQLite backend charges a new counter: 20 bytes of value.
            let used = Self::kv_bytes_but(&mut tx, ns, key).await?;
            if used + entry_bytes(key, text.len().max(20)) > max_tenant_bytes {
                return Err(quota_exceeded(max_tenant_bytes));
            }
            Self::kv_put(&mut tx, ns, key, text.as_bytes()).await?;
            tx.commit().await.map_err(database)?;
            Ok(sum)
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
            // Byte order (COLLATE "C"), as SQLite sorts; starts_with, so `%`
            // and `_` in a prefix are literal.
            sqlx::query_scalar(
                "SELECT key FROM kv WHERE tenant = $1 AND scope = $2 AND starts_with(key, $3) \
                 ORDER BY key COLLATE \"C\" LIMIT $4 OFFSET $5",
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
