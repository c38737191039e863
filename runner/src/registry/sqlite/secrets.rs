//! Tenant secrets, sealed with the operator's key before they are stored.

use crate::names::TenantName;
use crate::registry::columns::{SecretColumns, records};
use crate::registry::storage_quota::{check_secret_fits, stored_bytes};
use crate::registry::store::{MAX_SECRETS, SecretInfo, SqliteStore, StoreError, now_ms};
use crate::registry::traits::{SecretStore, StoreFuture};
use sqlx::Row;

impl SqliteStore {
    /// Bytes of the tenant's secrets (name and ciphertext), but `except`'s.
    pub(super) async fn secret_bytes(
        &self,
        tenant: &TenantName,
        except: Option<&str>,
    ) -> Result<u64, StoreError> {
        let bytes: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(length(CAST(name AS BLOB)) + length(ciphertext)), 0) \
             FROM secrets WHERE tenant = ? AND name IS NOT ?",
        )
        .bind(tenant.as_str())
        .bind(except)
        .fetch_one(&self.pool)
        .await?;
        Ok(bytes as u64)
    }
}

impl SecretStore for SqliteStore {
    fn link_key(&self) -> [u8; 32] {
        self.secrets.link_key()
    }

    /// Sets (or replaces) a secret, encrypted at rest.
    fn put_secret<'a>(
        &'a self,
        tenant: &'a TenantName,
        name: &'a str,
        value: &'a [u8],
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let _write = self.writes.lock().await;
            let found = self.require_tenant(tenant)?;
            if !found.secrets.0.contains_key(name) && found.secrets.0.len() >= MAX_SECRETS {
                return Err(StoreError::Quota(format!(
                    "a tenant may keep {MAX_SECRETS} secrets; delete one first"
                )));
            }
            let (nonce, ciphertext) = self.secrets.seal(tenant.as_str(), name, value);
            // A replaced secret's old bytes are not counted: only what stays stored.
            let versions = self.stored_versions(tenant).await?;
            let other_bytes =
                stored_bytes(versions.iter(), None) + self.secret_bytes(tenant, Some(name)).await?;
            check_secret_fits(&found, other_bytes, (name.len() + ciphertext.len()) as u64)?;
            sqlx::query(
                "INSERT INTO secrets (tenant, name, nonce, ciphertext, updated_ms) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT(tenant, name) DO UPDATE SET nonce = excluded.nonce, \
                 ciphertext = excluded.ciphertext, updated_ms = excluded.updated_ms",
            )
            .bind(tenant.as_str())
            .bind(name)
            .bind(nonce)
            .bind(ciphertext)
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
            self.refresh(tenant).await
        })
    }

    /// Deletes a secret.
    fn delete_secret<'a>(&'a self, tenant: &'a TenantName, name: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let _write = self.writes.lock().await;
            self.require_tenant(tenant)?;
            let deleted = sqlx::query("DELETE FROM secrets WHERE tenant = ? AND name = ?")
                .bind(tenant.as_str())
                .bind(name)
                .execute(&self.pool)
                .await?;
            if deleted.rows_affected() == 0 {
                return Err(StoreError::UnknownSecret(name.to_owned()));
            }
            self.refresh(tenant).await
        })
    }

    /// Lists a tenant's secrets by name; values are never listed.
    fn list_secrets<'a>(&'a self, tenant: &'a TenantName) -> StoreFuture<'a, Vec<SecretInfo>> {
        Box::pin(async move {
            self.require_tenant(tenant)?;
            let rows = sqlx::query_as::<_, SecretColumns>(
                "SELECT name, updated_ms FROM secrets WHERE tenant = ? ORDER BY name",
            )
            .bind(tenant.as_str())
            .fetch_all(&self.pool)
            .await?;
            Ok(records(rows))
        })
    }

    /// A secret's value, for handing to the tenant's own actions; `None` when it
    /// is not set (or can no longer be decrypted because the operator key changed).
    fn read_secret<'a>(
        &'a self,
        tenant: &'a TenantName,
        name: &'a str,
    ) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let row =
                sqlx::query("SELECT nonce, ciphertext FROM secrets WHERE tenant = ? AND name = ?")
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
