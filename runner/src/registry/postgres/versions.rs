//! Action versions: deploy (with quota planning and pruning), the live
//! pointer, listings, rollback and deletion.

use super::PgStore;
use crate::names::{ActionName, TenantName};
use crate::registry::columns::{StoredVersionColumns, records};
use crate::registry::storage_quota::{
    PlannedDeploy, StoredVersion, VERSION_ROW_OVERHEAD_BYTES, VersionRow, stored_bytes,
    usage_by_tenant,
};
use crate::registry::store::{NewVersion, StoreError, now_ms};
use crate::registry::traits::{StoreFuture, VersionStore};
use crate::registry::{ModuleDigest, Tenant};
use sqlx::PgConnection;

impl PgStore {
    crate::registry::shared_sql::live_version!();

    /// Every version the tenant keeps, with its module's size and its row's bytes.
    pub(super) async fn stored_versions(
        conn: &mut PgConnection,
        tenant: &TenantName,
    ) -> Result<Vec<StoredVersion>, StoreError> {
        let rows = sqlx::query_as::<_, StoredVersionColumns>(
            "SELECT v.action, v.version, v.module, m.size, \
             (octet_length(v.manifest) + octet_length(v.display_name) + octet_length(v.limits) \
              + octet_length(v.config) + octet_length(v.secrets) + octet_length(v.grants))::BIGINT \
             AS row_bytes FROM versions v JOIN modules m ON m.digest = v.module WHERE v.tenant = $1",
        )
        .bind(tenant.as_str())
        .fetch_all(conn)
        .await?;
        Ok(records(rows))
    }

    async fn plan_deploy(
        conn: &mut PgConnection,
        planned: PlannedDeploy<'_>,
    ) -> Result<Vec<u32>, StoreError> {
        let versions = Self::stored_versions(conn, &planned.tenant.name).await?;
        let secret_bytes = Self::secret_bytes(conn, &planned.tenant.name, None).await?;
        planned.check(&versions, secret_bytes)
    }
}

impl VersionStore for PgStore {
    crate::registry::shared_sql::version_reads!();

    /// Stores the module (if new) and a new version and makes it live in one
    /// transaction under the tenant's lock, with the quotas checked against
    /// the database rather than a snapshot another replica may have outdated.
    fn deploy<'a>(&'a self, new: NewVersion<'a>) -> StoreFuture<'a, u32> {
        Box::pin(async move {
            let mut tx = self.begin_write(new.tenant.as_str()).await?;
            let tenant = self.current(&mut tx, new.tenant).await?;
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
            let planned = PlannedDeploy {
                tenant: &tenant,
                name,
                digest: &digest,
                size,
                row_bytes: row.stored_bytes(),
            };
            let pruned = Self::plan_deploy(&mut tx, planned).await?;

            sqlx::query(
                "INSERT INTO modules (digest, size, abi, bytes, created_ms) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (digest) DO NOTHING",
            )
            .bind(digest.as_str())
            .bind(size as i64)
            .bind(new.abi)
            .bind(new.module)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            if let Some((artifact, engine)) = new.artifact {
                self.share_artifact(&mut tx, &digest, engine, artifact)
                    .await?;
            }
            let version: i64 = sqlx::query_scalar(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM versions WHERE tenant = $1 AND action = $2",
            )
            .bind(new.tenant.as_str())
            .bind(name.as_str())
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO actions (tenant, name, live_version) VALUES ($1, $2, $3) \
                 ON CONFLICT (tenant, name) DO UPDATE SET live_version = excluded.live_version",
            )
            .bind(new.tenant.as_str())
            .bind(name.as_str())
            .bind(version)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO versions (tenant, action, version, module, display_name, manifest, \
                 limits, config, secrets, grants, created_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
            if !pruned.is_empty() {
                let pruned_versions: Vec<i64> = pruned.iter().map(|v| i64::from(*v)).collect();
                sqlx::query(
                    "DELETE FROM versions WHERE tenant = $1 AND action = $2 AND version = ANY($3)",
                )
                .bind(new.tenant.as_str())
                .bind(name.as_str())
                .bind(&pruned_versions)
                .execute(&mut *tx)
                .await?;
            }
            self.commit_change(tx, new.tenant).await?;
            if !pruned.is_empty() {
                tracing::info!(tenant = %new.tenant, action = %name, ?pruned, "pruned old versions (maxVersions)");
                self.collect_garbage().await;
            }
            Ok(version as u32)
        })
    }

    fn check_deploy_quota<'a>(
        &'a self,
        tenant: &'a Tenant,
        name: &'a ActionName,
        digest: &'a ModuleDigest,
        size: u64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut conn = self.pool.acquire().await?;
            let planned = PlannedDeploy {
                tenant,
                name,
                digest,
                size,
                row_bytes: VERSION_ROW_OVERHEAD_BYTES,
            };
            Self::plan_deploy(&mut conn, planned).await.map(|_| ())
        })
    }

    fn storage_by_tenant(&self) -> StoreFuture<'_, std::collections::HashMap<String, u64>> {
        Box::pin(async move {
            let modules = sqlx::query_as(
                "SELECT tenant, SUM(size)::BIGINT FROM (SELECT DISTINCT v.tenant AS tenant, \
                 v.module, m.size AS size FROM versions v JOIN modules m ON m.digest = v.module) \
                 AS kept GROUP BY tenant",
            )
            .fetch_all(&self.pool)
            .await?;
            let rows = sqlx::query_as(
                "SELECT v.tenant, SUM(octet_length(v.manifest) + octet_length(v.display_name) \
                 + octet_length(v.limits) + octet_length(v.config) + octet_length(v.secrets) \
                 + octet_length(v.grants))::BIGINT, COUNT(*)::BIGINT FROM versions v \
                 GROUP BY v.tenant",
            )
            .fetch_all(&self.pool)
            .await?;
            let secrets = sqlx::query_as(
                "SELECT tenant, SUM(octet_length(name) + octet_length(ciphertext))::BIGINT \
                 FROM secrets GROUP BY tenant",
            )
            .fetch_all(&self.pool)
            .await?;
            Ok(usage_by_tenant(modules, rows, secrets))
        })
    }

    fn storage_used<'a>(&'a self, tenant: &'a TenantName) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let mut conn = self.pool.acquire().await?;
            let versions = Self::stored_versions(&mut conn, tenant).await?;
            Ok(stored_bytes(versions.iter(), None)
                + Self::secret_bytes(&mut conn, tenant, None).await?)
        })
    }

    fn set_live<'a>(
        &'a self,
        tenant: &'a TenantName,
        action: &'a str,
        version: u32,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut tx = self.begin_write(tenant.as_str()).await?;
            let updated = sqlx::query(
                "UPDATE actions SET live_version = $1 WHERE tenant = $2 AND name = $3 AND EXISTS \
                 (SELECT 1 FROM versions WHERE tenant = $2 AND action = $3 AND version = $1)",
            )
            .bind(i64::from(version))
            .bind(tenant.as_str())
            .bind(action)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::UnknownVersion {
                    action: action.to_owned(),
                    version,
                });
            }
            self.commit_change(tx, tenant).await
        })
    }

    fn delete_action<'a>(&'a self, tenant: &'a TenantName, action: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut tx = self.begin_write(tenant.as_str()).await?;
            self.current(&mut tx, tenant).await?;
            sqlx::query("DELETE FROM versions WHERE tenant = $1 AND action = $2")
                .bind(tenant.as_str())
                .bind(action)
                .execute(&mut *tx)
                .await?;
            let deleted = sqlx::query("DELETE FROM actions WHERE tenant = $1 AND name = $2")
                .bind(tenant.as_str())
                .bind(action)
                .execute(&mut *tx)
                .await?;
            if deleted.rows_affected() == 0 {
                return Err(StoreError::UnknownAction(action.to_owned()));
            }
            // The action's own key-value namespace goes with it; the tenant's stays.
            sqlx::query("DELETE FROM kv WHERE tenant = $1 AND scope = $2")
                .bind(tenant.as_str())
                .bind(action)
                .execute(&mut *tx)
                .await?;
            self.commit_change(tx, tenant).await?;
            self.collect_garbage().await;
            Ok(())
        })
    }

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
