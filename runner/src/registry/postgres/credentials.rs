//! Webhook keys and admin tokens: stored hashed, with a hint to tell them apart.

use super::PgStore;
use crate::names::TenantName;
use crate::registry::columns::{CredentialColumns, records};
use crate::registry::keys::{self, KeyHash};
use crate::registry::store::{
    CredentialInfo, MAX_WEBHOOK_KEYS, StoreError, hint, new_id, now_ms, rfc3339,
};
use crate::registry::traits::{CredentialStore, StoreFuture};
use sqlx::{Postgres, Transaction};

pub(super) async fn insert_credential(
    tx: &mut Transaction<'static, Postgres>,
    tenant: &TenantName,
    kind: &str,
    id: &str,
    secret: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO credentials (id, tenant, kind, hash, hint, created_ms) \
         VALUES ($1, $2, $3, $4, $5, $6)",
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

impl CredentialStore for PgStore {
    fn create_webhook_key<'a>(
        &'a self,
        tenant: &'a TenantName,
    ) -> StoreFuture<'a, (CredentialInfo, String)> {
        Box::pin(async move {
            let mut tx = self.begin_write(tenant.as_str()).await?;
            let current = self.current(&mut tx, tenant).await?;
            if current.webhook_keys.len() >= MAX_WEBHOOK_KEYS {
                return Err(StoreError::Quota(format!(
                    "a tenant may have {MAX_WEBHOOK_KEYS} webhook keys; revoke one first"
                )));
            }
            let key = keys::generate_key();
            let id = new_id();
            insert_credential(&mut tx, tenant, "webhook", &id, &key).await?;
            self.commit_change(tx, tenant).await?;
            let info = CredentialInfo {
                id,
                hint: hint(&key),
                created_at: rfc3339(now_ms()),
            };
            Ok((info, key))
        })
    }

    fn list_webhook_keys<'a>(
        &'a self,
        tenant: &'a TenantName,
    ) -> StoreFuture<'a, Vec<CredentialInfo>> {
        Box::pin(async move {
            self.require_tenant(tenant)?;
            let rows = sqlx::query_as::<_, CredentialColumns>(
                "SELECT id, hint, created_ms FROM credentials \
                 WHERE tenant = $1 AND kind = 'webhook' ORDER BY created_ms, id",
            )
            .bind(tenant.as_str())
            .fetch_all(&self.pool)
            .await?;
            Ok(records(rows))
        })
    }

    fn revoke_webhook_key<'a>(
        &'a self,
        tenant: &'a TenantName,
        id: &'a str,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut tx = self.begin_write(tenant.as_str()).await?;
            self.current(&mut tx, tenant).await?;
            let deleted = sqlx::query(
                "DELETE FROM credentials WHERE tenant = $1 AND kind = 'webhook' AND id = $2",
            )
            .bind(tenant.as_str())
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if deleted.rows_affected() == 0 {
                return Err(StoreError::UnknownKey(id.to_owned()));
            }
            self.commit_change(tx, tenant).await
        })
    }

    fn rotate_admin_token<'a>(&'a self, tenant: &'a TenantName) -> StoreFuture<'a, String> {
        Box::pin(async move {
            let mut tx = self.begin_write(tenant.as_str()).await?;
            self.current(&mut tx, tenant).await?;
            let token = keys::generate_admin_token();
            sqlx::query("DELETE FROM credentials WHERE tenant = $1 AND kind = 'admin'")
                .bind(tenant.as_str())
                .execute(&mut *tx)
                .await?;
            insert_credential(&mut tx, tenant, "admin", &new_id(), &token).await?;
            self.commit_change(tx, tenant).await?;
            Ok(token)
        })
    }
}
