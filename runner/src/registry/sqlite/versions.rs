//! Action versions: deploy (with quota planning and pruning), the live
//! pointer, listings, rollback and deletion.

use crate::names::{ActionName, TenantName};
use crate::registry::columns::{StoredVersionColumns, records};
use crate::registry::storage_quota::{
    PlannedDeploy, StoredVersion, VERSION_ROW_OVERHEAD_BYTES, VersionRow, stored_bytes,
    usage_by_tenant,
};
use crate::registry::store::{NewVersion, SqliteStore, StoreError, now_ms};
use crate::registry::traits::{StoreFuture, VersionStore};
use crate::registry::{ModuleDigest, Tenant};
use sha2::{Digest, Sha256};

/// The bytes of version row `v`'s text columns, as SQL; with
/// [`VERSION_ROW_OVERHEAD_BYTES`] added, what [`VersionRow::stored_bytes`]
/// counts for a row about to be written. Text is cast to BLOB because
/// SQLite's `length` of text counts characters.
const VERSION_ROW_BYTES_SQL: &str = "(length(CAST(v.manifest AS BLOB)) \
     + length(CAST(v.display_name AS BLOB)) + length(CAST(v.limits AS BLOB)) \
     + length(CAST(v.config AS BLOB)) + length(CAST(v.secrets AS BLOB)) \
     + length(CAST(v.grants AS BLOB)))";

impl SqliteStore {
    crate::registry::shared_sql::live_version!();

    /// Checks the quotas for a new version and returns the versions of its
    /// action the deploy must prune.
    async fn plan_deploy(&self, planned: PlannedDeploy<'_>) -> Result<Vec<u32>, StoreError> {
        let versions = self.stored_versions(&planned.tenant.name).await?;
        let secret_bytes = self.secret_bytes(&planned.tenant.name, None).await?;
        planned.check(&versions, secret_bytes)
    }

    /// Every version the tenant keeps, with its module's size and its row's bytes.
    pub(super) async fn stored_versions(
        &self,
        tenant: &TenantName,
    ) -> Result<Vec<StoredVersion>, StoreError> {
        let rows = sqlx::query_as::<_, StoredVersionColumns>(&format!(
            "SELECT v.action, v.version, v.module, m.size, {VERSION_ROW_BYTES_SQL} AS row_bytes \
             FROM versions v JOIN modules m ON m.digest = v.module WHERE v.tenant = ?"
        ))
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(records(rows))
    }
}

impl VersionStore for SqliteStore {
    crate::registry::shared_sql::version_reads!();

    /// Stores a new version and makes it live, atomically, pruning the action's
    /// oldest versions past the tenant's `maxVersions` in the same transaction.
    /// Checks the action-count and storage quotas under the write lock, with the
    /// pruning already counted, before anything is written: a refused deploy
    /// leaves no file and no row behind.
    fn deploy<'a>(&'a self, new: NewVersion<'a>) -> StoreFuture<'a, u32> {
        Box::pin(async move {
            let _write = self.writes.lock().await;
            let tenant = self.require_tenant(new.tenant)?;
            let name = &new.manifest.name;
            let digest = ModuleDigest::of(new.module);
            let size = new.module.len() as u64;
            let row = VersionRow {
                display_name: &new.manifest.display_name,
                manifest: new.manifest_text,
                limits: serde_json::to_string(&new.manifest.limits).unwrap_or_default(),
                config: serde_json::to_string(&new.manifest.config).unwrap_or_default(),
                secrets: serde_json::to_string(&new.manifest.secrets).unwrap_or_default(),
                grants: serde_json::to_string(&new.manifest.grants).unwrap_or_default(),
            };
            let pruned = self
                .plan_deploy(PlannedDeploy {
                    tenant: &tenant,
                    name,
                    digest: &digest,
                    size,
                    row_bytes: row.stored_bytes(),
                })
                .await?;

            // Files first: a crash after this point leaves an unreferenced file, never
            // a version without its module.
            self.blobs.write_module(&digest, new.module)?;
            if let Some((artifact, engine)) = new.artifact {
                self.blobs.write_artifact(&digest, engine, artifact)?;
            }

            let mut tx = self.pool.begin().await?;
            sqlx::query(
                "INSERT INTO modules (digest, size, abi, created_ms) VALUES (?, ?, ?, ?) \
                 ON CONFLICT(digest) DO NOTHING",
            )
            .bind(digest.as_str())
            .bind(size as i64)
            .bind(new.abi)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            if let Some((artifact, engine)) = new.artifact {
                sqlx::query(
                    "INSERT OR REPLACE INTO artifacts (module, engine, artifact_digest) VALUES (?, ?, ?)",
                )
                .bind(digest.as_str())
                .bind(engine)
                .bind(hex::encode(Sha256::digest(artifact)))
                .execute(&mut *tx)
                .await?;
            }
            let version: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM versions WHERE tenant = ? AND action = ?",
            )
            .bind(new.tenant.as_str())
            .bind(name.as_str())
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO actions (tenant, name, live_version) VALUES (?, ?, ?) \
                 ON CONFLICT(tenant, name) DO UPDATE SET live_version = excluded.live_version",
            )
            .bind(new.tenant.as_str())
            .bind(name.as_str())
            .bind(version)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO versions (tenant, action, version, module, display_name, manifest, \
                 limits, config, secrets, grants, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(new.tenant.as_str())
            .bind(name.as_str())
            .bind(version)
            .bind(digest.as_str())
            .bind(row.display_name)
            .bind(row.manifest)
            .bind(&row.limits)
            .bind(&row.config)
            .bind(&row.secrets)
            .bind(&row.grants)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            for old in &pruned {
                sqlx::query("DELETE FROM versions WHERE tenant = ? AND action = ? AND version = ?")
                    .bind(new.tenant.as_str())
                    .bind(name.as_str())
                    .bind(i64::from(*old))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            self.refresh(new.tenant).await?;
            if !pruned.is_empty() {
                tracing::info!(tenant = %new.tenant, action = %name, ?pruned, "pruned old versions (maxVersions)");
                self.collect_garbage().await?;
            }
            Ok(version as u32)
        })
    }

    /// Whether one more version (of `name`, with this module) fits the tenant's
    /// action-count and storage quotas, counting the versions the deploy would
    /// prune. For a check before compiling, to spare the work: the manifest is
    /// counted at its row overhead only, so this refuses only what [`Self::deploy`]
    /// would surely refuse.
    fn check_deploy_quota<'a>(
        &'a self,
        tenant: &'a Tenant,
        name: &'a ActionName,
        digest: &'a ModuleDigest,
        size: u64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.plan_deploy(PlannedDeploy {
                tenant,
                name,
                digest,
                size,
                row_bytes: VERSION_ROW_OVERHEAD_BYTES,
            })
            .await
            .map(|_| ())
        })
    }

    /// Stored bytes the tenant controls, as the storage quota counts them: its
    /// distinct modules, its version rows (manifest, config and the rest, plus
    /// [`VERSION_ROW_OVERHEAD_BYTES`] each) and its secrets (name and ciphertext).
    fn storage_by_tenant(&self) -> StoreFuture<'_, std::collections::HashMap<String, u64>> {
        Box::pin(async move {
            let modules = sqlx::query_as(
                "SELECT tenant, SUM(size) FROM (SELECT DISTINCT v.tenant AS tenant, v.module, \
                 m.size AS size FROM versions v JOIN modules m ON m.digest = v.module) \
                 GROUP BY tenant",
            )
            .fetch_all(&self.pool)
            .await?;
            let rows = sqlx::query_as(&format!(
                "SELECT v.tenant, SUM({VERSION_ROW_BYTES_SQL}), COUNT(*) FROM versions v \
                 GROUP BY v.tenant"
            ))
            .fetch_all(&self.pool)
            .await?;
            let secrets = sqlx::query_as(
                "SELECT tenant, SUM(length(CAST(name AS BLOB)) + length(ciphertext)) \
                 FROM secrets GROUP BY tenant",
            )
            .fetch_all(&self.pool)
            .await?;
            Ok(usage_by_tenant(modules, rows, secrets))
        })
    }

    fn storage_used<'a>(&'a self, tenant: &'a TenantName) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let versions = self.stored_versions(tenant).await?;
            Ok(stored_bytes(versions.iter(), None) + self.secret_bytes(tenant, None).await?)
        })
    }

    /// Makes an earlier (or later) version live.
    fn set_live<'a>(
        &'a self,
        tenant: &'a TenantName,
        action: &'a str,
        version: u32,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let _write = self.writes.lock().await;
            let updated = sqlx::query(
                "UPDATE actions SET live_version = ? WHERE tenant = ? AND name = ? AND EXISTS \
                 (SELECT 1 FROM versions WHERE tenant = ? AND action = ? AND version = ?)",
            )
            .bind(i64::from(version))
            .bind(tenant.as_str())
            .bind(action)
            .bind(tenant.as_str())
            .bind(action)
            .bind(i64::from(version))
            .execute(&self.pool)
            .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::UnknownVersion {
                    action: action.to_owned(),
                    version,
                });
            }
            self.refresh(tenant).await
        })
    }

    /// Deletes an action and all its versions.
    fn delete_action<'a>(&'a self, tenant: &'a TenantName, action: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let _write = self.writes.lock().await;
            self.require_tenant(tenant)?;
            let mut tx = self.pool.begin().await?;
            sqlx::query("DELETE FROM versions WHERE tenant = ? AND action = ?")
                .bind(tenant.as_str())
                .bind(action)
                .execute(&mut *tx)
                .await?;
            let deleted = sqlx::query("DELETE FROM actions WHERE tenant = ? AND name = ?")
                .bind(tenant.as_str())
                .bind(action)
                .execute(&mut *tx)
                .await?;
            // The action's own key-value namespace goes with it; the tenant's stays.
            sqlx::query("DELETE FROM kv WHERE tenant = ? AND scope = ?")
                .bind(tenant.as_str())
                .bind(action)
                .execute(&mut *tx)
                .await?;
            if deleted.rows_affected() == 0 {
                return Err(StoreError::UnknownAction(action.to_owned()));
            }
            tx.commit().await?;
            self.refresh(tenant).await?;
            self.collect_garbage().await
        })
    }

    /// Removes a declarative tenant's actions that are no longer in its manifests.
    fn retain_actions<'a>(
        &'a self,
        name: &'a TenantName,
        keep: &'a [ActionName],
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let tenant = self.require_tenant(name)?;
            for action in tenant.actions.keys() {
                if !keep.contains(action) {
                    self.delete_action(name, action.as_str()).await?;
                }
            }
            Ok(())
        })
    }
}
