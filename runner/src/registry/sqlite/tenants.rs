//! Tenant rows: creation, listing, suspension and quota overrides, deletion,
//! and the declarative tenants synced from `--manifests`.

use super::credentials::insert_credential;
use super::overrides_from_row;
use crate::names::TenantName;
use crate::registry::keys::{self, KeyHash, declarative_credentials};
use crate::registry::store::{
    NewTenant, SqliteStore, StoreError, TenantInfo, new_id, now_ms, rfc3339,
};
use crate::registry::traits::{StoreFuture, TenantStore};
use crate::registry::{QuotaOverrides, Registry, Tenant, TenantId};
use sqlx::Row;
use std::sync::Arc;

impl SqliteStore {
    pub(super) fn require_tenant(&self, name: &TenantName) -> Result<Arc<Tenant>, StoreError> {
        self.tenant(name.as_str())
            .ok_or_else(|| StoreError::UnknownTenant(name.to_string()))
    }

    // ---- declarative tenants -------------------------------------------------
}

impl TenantStore for SqliteStore {
    /// Every tenant's snapshot.
    fn tenants(&self) -> Vec<Arc<Tenant>> {
        let snapshots = self.snapshots.read().unwrap_or_else(|e| e.into_inner());
        snapshots.values().cloned().collect()
    }

    /// Creates a tenant with an admin token and a first webhook key.
    fn create_tenant<'a>(
        &'a self,
        name: &'a TenantName,
        display_name: Option<&'a str>,
        overrides: QuotaOverrides,
    ) -> StoreFuture<'a, NewTenant> {
        Box::pin(async move {
            let _write = self.writes.lock().await;
            let admin_token = keys::generate_admin_token();
            let api_key = keys::generate_key();
            let mut tx = self.pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO tenants (name, uid, display_name, max_concurrency, max_actions, \
                 max_module_bytes, max_storage_bytes, max_versions, created_ms) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT(name) DO NOTHING",
            )
            .bind(name.as_str())
            .bind(TenantId::generate().as_str())
            .bind(display_name)
            .bind(overrides.max_concurrency.map(i64::from))
            .bind(overrides.max_actions.map(i64::from))
            .bind(overrides.max_module_bytes.map(|v| v as i64))
            .bind(overrides.max_storage_bytes.map(|v| v as i64))
            .bind(overrides.max_versions.map(i64::from))
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 0 {
                return Err(StoreError::TenantExists(name.to_string()));
            }
            insert_credential(&mut tx, name, "admin", &new_id(), &admin_token).await?;
            insert_credential(&mut tx, name, "webhook", &new_id(), &api_key).await?;
            tx.commit().await?;
            self.refresh(name).await?;
            Ok(NewTenant {
                name: name.clone(),
                admin_token,
                api_key,
            })
        })
    }

    /// Lists every tenant.
    fn list_tenants(&self) -> StoreFuture<'_, Vec<TenantInfo>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT t.name, t.display_name, t.failure_word, t.suspended, t.declarative, \
                 t.max_concurrency, t.max_actions, t.max_module_bytes, t.max_storage_bytes, t.max_versions, \
                 t.created_ms, \
                 (SELECT COUNT(*) FROM actions a WHERE a.tenant = t.name) AS action_count \
                 FROM tenants t ORDER BY t.name",
            )
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(TenantInfo {
                        name: row.try_get("name")?,
                        display_name: row.try_get("display_name")?,
                        suspended: row.try_get::<i64, _>("suspended")? != 0,
                        declarative: row.try_get::<i64, _>("declarative")? != 0,
                        failure_word: row.try_get("failure_word")?,
                        quotas: overrides_from_row(row)?.over(self.defaults),
                        actions: row.try_get::<i64, _>("action_count")? as u32,
                        created_at: rfc3339(row.try_get("created_ms")?),
                    })
                })
                .collect()
        })
    }

    /// Suspends or resumes a tenant, and changes its quota overrides.
    fn update_tenant<'a>(
        &'a self,
        name: &'a TenantName,
        suspended: Option<bool>,
        quotas: Option<QuotaOverrides>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let _write = self.writes.lock().await;
            let current = self.require_tenant(name)?;
            let row = sqlx::query(
                "SELECT max_concurrency, max_actions, max_module_bytes, max_storage_bytes, \
                 max_versions FROM tenants WHERE name = ?",
            )
            .bind(name.as_str())
            .fetch_one(&self.pool)
            .await?;
            let merged = match quotas {
                Some(patch) => overrides_from_row(&row)?.merge(&patch),
                None => overrides_from_row(&row)?,
            };
            sqlx::query(
                "UPDATE tenants SET suspended = ?, max_concurrency = ?, max_actions = ?, \
                 max_module_bytes = ?, max_storage_bytes = ?, max_versions = ? WHERE name = ?",
            )
            .bind(i64::from(suspended.unwrap_or(current.suspended)))
            .bind(merged.max_concurrency.map(i64::from))
            .bind(merged.max_actions.map(i64::from))
            .bind(merged.max_module_bytes.map(|v| v as i64))
            .bind(merged.max_storage_bytes.map(|v| v as i64))
            .bind(merged.max_versions.map(i64::from))
            .bind(name.as_str())
            .execute(&self.pool)
            .await?;
            self.refresh(name).await
        })
    }

    /// Sets a tenant's failure word (already checked by the caller).
    fn set_failure_word<'a>(&'a self, name: &'a TenantName, word: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let _write = self.writes.lock().await;
            self.require_tenant(name)?;
            sqlx::query("UPDATE tenants SET failure_word = ? WHERE name = ?")
                .bind(word)
                .bind(name.as_str())
                .execute(&self.pool)
                .await?;
            self.refresh(name).await
        })
    }

    /// Deletes a tenant with everything it owns. Module files shared by other
    /// tenants stay.
    fn delete_tenant<'a>(&'a self, name: &'a TenantName) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let _write = self.writes.lock().await;
            self.require_tenant(name)?;
            let mut tx = self.pool.begin().await?;
            sqlx::query("DELETE FROM versions WHERE tenant = ?")
                .bind(name.as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM tenants WHERE name = ?")
                .bind(name.as_str())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            self.refresh(name).await?;
            self.collect_garbage().await
        })
    }

    /// Creates or updates a tenant managed from `--manifests`, with its one
    /// webhook key hash. Refuses a name taken by an admin-API tenant.
    fn sync_declarative_tenant<'a>(
        &'a self,
        name: &'a TenantName,
        display_name: Option<&'a str>,
        failure_word: &'a str,
        webhook_key: &'a KeyHash,
        admin_token: &'a KeyHash,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let _write = self.writes.lock().await;
            if let Some(existing) = self.tenant(name.as_str())
                && !existing.declarative
            {
                return Err(StoreError::Declarative(format!(
                    "tenant {name:?} exists and is managed through the admin API; rename the manifests directory"
                )));
            }
            let mut tx = self.pool.begin().await?;
            sqlx::query(
                "INSERT INTO tenants (name, uid, display_name, failure_word, declarative, created_ms) \
                 VALUES (?, ?, ?, ?, 1, ?) \
                 ON CONFLICT(name) DO UPDATE SET display_name = excluded.display_name, \
                 failure_word = excluded.failure_word",
            )
            .bind(name.as_str())
            .bind(TenantId::generate().as_str())
            .bind(display_name)
            .bind(failure_word)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            // Exactly the key and token the start gave: any other (an admin
            // token minted before declarative tenants had their own) goes.
            sqlx::query("DELETE FROM credentials WHERE tenant = ?")
                .bind(name.as_str())
                .execute(&mut *tx)
                .await?;
            for (id, kind, hash) in declarative_credentials(name, webhook_key, admin_token) {
                sqlx::query(
                    "INSERT INTO credentials (id, tenant, kind, hash, hint, created_ms) \
                     VALUES (?, ?, ?, ?, 'declarative', ?)",
                )
                .bind(id)
                .bind(name.as_str())
                .bind(kind)
                .bind(hash.to_hex())
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            self.refresh(name).await
        })
    }
}
