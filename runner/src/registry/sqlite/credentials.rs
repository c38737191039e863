//! Webhook keys and admin tokens: stored hashed, with a hint to tell them apart.

use crate::names::TenantName;
use crate::registry::columns::{CredentialColumns, records};
use crate::registry::keys::{self, KeyHash};
use crate::registry::store::{
    CredentialInfo, MAX_WEBHOOK_KEYS, SqliteStore, StoreError, hint, new_id, now_ms, rfc3339,
};
use crate::registry::traits::{CredentialStore, StoreFuture};

pub(super) async fn insert_credential(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    tenant: &TenantName,
    kind: &str,
    id: &str,
    secret: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO credentials (id, tenant, kind, hash, hint, created_ms) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(tenant.as_str())
    .bind(kind)
    .bind(KeyHash::of(secret).to_hex())
    .bind(hint(secret))
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl CredentialStore for SqliteStore {
    /// Creates a webhook key; the plain key is returned once.
    fn create_webhook_key<'a>(
        &'a self,
        tenant: &'a TenantName,
    ) -> StoreFuture<'a, (CredentialInfo, String)> {
        Box::pin(async move {
            let _write = self.writes.lock().await;
            let found = self.require_tenant(tenant)?;
            if found.webhook_keys.len() >= MAX_WEBHOOK_KEYS {
                return Err(StoreError::Quota(format!(
                    "a tenant may have {MAX_WEBHOOK_KEYS} webhook keys; revoke one first"
                )));
            }
            let key = keys::generate_key();
            let id = new_id();
            let mut tx = self.pool.begin().await?;
            insert_credential(&mut tx, tenant, "webhook", &id, &key).await?;
            tx.commit().await?;
            self.refresh(tenant).await?;
            let info = CredentialInfo {
                id,
                hint: hint(&key),
                created_at: rfc3339(now_ms()),
            };
            Ok((info, key))
        })
    }

    /// Lists a tenant's webhook keys (hints only).
    fn list_webhook_keys<'a>(
        &'a self,
        tenant: &'a TenantName,
    ) -> StoreFuture<'a, Vec<CredentialInfo>> {
        Box::pin(async move {
            self.require_tenant(tenant)?;
            let rows = sqlx::query_as::<_, CredentialColumns>(
                "SELECT id, hint, created_ms FROM credentials \
                 WHERE tenant = ? AND kind = 'webhook' ORDER BY created_ms, id",
            )
            .bind(tenant.as_str())
            .fetch_all(&self.pool)
            .await?;
            Ok(records(rows))
        })
    }

    /// Revokes one webhook key of a tenant.
    fn revoke_webhook_key<'a>(
        &'a self,
        tenant: &'a TenantName,
        id: &'a str,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let _write = self.writes.lock().await;
            self.require_tenant(tenant)?;
            let deleted = sqlx::query(
                "DELETE FROM credentials WHERE tenant = ? AND kind = 'webhook' AND id = ?",
            )
            .bind(tenant.as_str())
            .bind(id)
            .execute(&self.pool)
            .await?;
            if deleted.rows_affected() == 0 {
                return Err(StoreError::UnknownKey(id.to_owned()));
            }
            self.refresh(tenant).await
        })
    }

    /// Replaces the tenant's admin tokens with a new one.
    fn rotate_admin_token<'a>(&'a self, tenant: &'a TenantName) -> StoreFuture<'a, String> {
        Box::pin(async move {
            let _write = self.writes.lock().await;
            self.require_tenant(tenant)?;
            let token = keys::generate_admin_token();
            let mut tx = self.pool.begin().await?;
            sqlx::query("DELETE FROM credentials WHERE tenant = ? AND kind = 'admin'")
                .bind(tenant.as_str())
                .execute(&mut *tx)
                .await?;
            insert_credential(&mut tx, tenant, "admin", &new_id(), &token).await?;
            tx.commit().await?;
            self.refresh(tenant).await?;
            Ok(token)
        })
    }
}
