//! Tenant secrets, sealed with the operator's key before they are stored.

use super::PgStore;
use crate::names::TenantName;
use crate::registry::columns::{SecretColumns, records};
use crate::registry::storage_quota::{check_secret_fits, stored_bytes};
use crate::registry::store::{MAX_SECRETS, SecretInfo, StoreError, now_ms};
use crate::registry::traits::{SecretStore, StoreFuture};
use sqlx::{PgConnection, Row};

impl PgStore {
    /// Bytes of the tenant's secrets (name and ciphertext), but `except`'s.
    pub(super) async fn secret_bytes(
        conn: &mut PgConnection,
        tenant: &TenantName,
        except: Option<&str>,
    ) -> Result<u64, StoreError> {
        let bytes: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(octet_length(name) + octet_length(ciphertext)), 0)::BIGINT \
             FROM secrets WHERE tenant = $1 AND name IS DISTINCT FROM $2",
        )
        .bind(tenant.as_str())
        .bind(except)
        .fetch_one(conn)
        .await?;
        Ok(bytes as u64)
    }
}

impl SecretStore for PgStore {
    fn link_key(&self) -> [u8; 32] {
        self.secrets.link_key()
    }

    fn put_secret<'a>(
        &'a self,
        tenant: &'a TenantName,
        name: &'a str,
        value: &'a [u8],
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut tx = self.begin_write(tenant.as_str()).await?;
            let current = self.current(&mut tx, tenant).await?;
            if !current.secrets.0.contains_key(name) && current.secrets.0.len() >= MAX_SECRETS {
                return Err(StoreError::Quota(format!(
                    "a tenant may keep {MAX_SECRETS} secrets; delete one first"
                )));
            }
            let (nonce, ciphertext) = self.secrets.seal(tenant.as_str(), name, value);
            let versions = Self::stored_versions(&mut tx, tenant).await?;
            let other_bytes = stored_bytes(versions.iter(), None)
                + Self::secret_bytes(&mut tx, tenant, Some(name)).await?;
            check_secret_fits(
                &current,
                other_bytes,
                (name.len() + ciphertext.len()) as u64,
            )?;
            sqlx::query(
                "INSERT INTO secrets (tenant, name, nonce, ciphertext, updated_ms) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (tenant, name) DO UPDATE SET nonce = excluded.nonce, \
                 ciphertext = excluded.ciphertext, updated_ms = excluded.updated_ms",
            )
            .bind(tenant.as_str())
            .bind(name)
            .bind(nonce)
            .bind(ciphertext)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            self.commit_change(tx, tenant).await
        })
    }

    fn delete_secret<'a>(&'a self, tenant: &'a TenantName, name: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut tx = self.begin_write(tenant.as_str()).await?;
            self.current(&mut tx, tenant).await?;
            let deleted = sqlx::query("DELETE FROM secrets WHERE tenant = $1 AND name = $2")
                .bind(tenant.as_str())
                .bind(name)
                .execute(&mut *tx)
                .await?;
            if deleted.rows_affected() == 0 {
                return Err(StoreError::UnknownSecret(name.to_owned()));
            }
            self.commit_change(tx, tenant).await
        })
    }

    fn list_secrets<'a>(&'a self, tenant: &'a TenantName) -> StoreFuture<'a, Vec<SecretInfo>> {
        Box::pin(async move {
            self.require_tenant(tenant)?;
            let rows = sqlx::query_as::<_, SecretColumns>(
                "SELECT name, updated_ms FROM secrets WHERE tenant = $1 ORDER BY name",
            )
            .bind(tenant.as_str())
            .fetch_all(&self.pool)
            .await?;
            Ok(records(rows))
        })
    }

    fn read_secret<'a>(
        &'a self,
        tenant: &'a TenantName,
        name: &'a str,
    ) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT nonce, ciphertext FROM secrets WHERE tenant = $1 AND name = $2",
            )
            .bind(tenant.as_str())
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
            Ok(row.and_then(|row| {
                let nonce: Vec<u8> = row.try_get("nonce").ok()?;
                let ciphertext: Vec<u8> = row.try_get("ciphertext").ok()?;
                self.secrets
                    .open(tenant.as_str(), name, &nonce, &ciphertext)
            }))
        })
    }
}
