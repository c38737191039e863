//! Tenant rows: creation, listing, suspension and quota overrides, deletion,
//! and the declarative tenants synced from `--manifests`.

use super::PgStore;
use super::credentials::insert_credential;
use crate::names::TenantName;
use crate::registry::columns::{OverrideColumns, override_values};
use crate::registry::keys::{self, KeyHash, declarative_credentials};
use crate::registry::store::{NewTenant, StoreError, TenantInfo, new_id, now_ms, rfc3339};
use crate::registry::traits::{StoreFuture, TenantStore};
use crate::registry::{QuotaOverrides, Tenant, TenantId};
use sqlx::{FromRow, Row};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a replica may reload a tenant on demand, sustained (see `catch_up`).
const CATCH_UP_EVERY: Duration = Duration::from_millis(50);
/// How many on-demand reloads may come back to back: tenants made one after
/// another through other replicas are each caught up at once, while a flood
/// of made-up names still costs the database one reload per `CATCH_UP_EVERY`.
const CATCH_UP_BURST: u32 = 8;

/// The budget of on-demand reloads: [`CATCH_UP_BURST`] at most, one more
/// earned every [`CATCH_UP_EVERY`].
#[derive(Debug)]
pub(super) struct CatchUps {
    available: u32,
    refilled_at: Instant,
}

impl CatchUps {
    pub(super) fn new() -> Self {
        Self {
            available: CATCH_UP_BURST,
            refilled_at: Instant::now(),
        }
    }

    /// Takes one reload from the budget at `now`; false when it is spent.
    fn take(&mut self, now: Instant) -> bool {
        let periods =
            now.saturating_duration_since(self.refilled_at).as_nanos() / CATCH_UP_EVERY.as_nanos();
        if periods > 0 {
            let earned = u32::try_from(periods).unwrap_or(u32::MAX);
            self.available = self.available.saturating_add(earned).min(CATCH_UP_BURST);
            self.refilled_at = if self.available == CATCH_UP_BURST {
                now
            } else {
                self.refilled_at + CATCH_UP_EVERY * earned
            };
        }
        if self.available == 0 {
            return false;
        }
        self.available -= 1;
        true
    }
}

impl TenantStore for PgStore {
    fn tenants(&self) -> Vec<Arc<Tenant>> {
        let snapshots = self.snapshots.read().unwrap_or_else(|e| e.into_inner());
        snapshots.values().map(|l| l.tenant.clone()).collect()
    }

    fn create_tenant<'a>(
        &'a self,
        name: &'a TenantName,
        display_name: Option<&'a str>,
        overrides: QuotaOverrides,
    ) -> StoreFuture<'a, NewTenant> {
        Box::pin(async move {
            let admin_token = keys::generate_admin_token();
            let api_key = keys::generate_key();
            let mut tx = self.begin_write(name.as_str()).await?;
            let [concurrency, actions, module_bytes, storage_bytes, versions] =
                override_values(&overrides);
            let inserted = sqlx::query(
                "INSERT INTO tenants (name, display_name, max_concurrency, max_actions, \
                 max_module_bytes, max_storage_bytes, max_versions, created_ms, uid) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name.as_str())
            .bind(display_name)
            .bind(concurrency)
            .bind(actions)
            .bind(module_bytes)
            .bind(storage_bytes)
            .bind(versions)
            .bind(now_ms())
            .bind(TenantId::generate().as_str())
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 0 {
                return Err(StoreError::TenantExists(name.to_string()));
            }
            insert_credential(&mut tx, name, "admin", &new_id(), &admin_token).await?;
            insert_credential(&mut tx, name, "webhook", &new_id(), &api_key).await?;
            self.commit_change(tx, name).await?;
            Ok(NewTenant {
                name: name.clone(),
                admin_token,
                api_key,
            })
        })
    }

    /// On-demand reloads come out of one budget ([`CatchUps`]), whoever asks,
    /// so requests with made-up tenants or tokens cannot load the database.
    fn catch_up<'a>(&'a self, name: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let Ok(name) = TenantName::new(name) else {
                return Ok(false);
            };
            let allowed = self
                .catch_ups
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(Instant::now());
            if !allowed {
                return Ok(false);
            }
            self.refresh(&name).await?;
            Ok(true)
        })
    }

    fn list_tenants(&self) -> StoreFuture<'_, Vec<TenantInfo>> {
        Box::pin(async move {
            let rows = sqlx::query(
                "SELECT t.name, t.display_name, t.failure_word, t.suspended, t.declarative, \
                 t.max_concurrency, t.max_actions, t.max_module_bytes, t.max_storage_bytes, \
                 t.max_versions, t.created_ms, \
                 (SELECT COUNT(*) FROM actions a WHERE a.tenant = t.name) AS action_count \
                 FROM tenants t ORDER BY t.name",
            )
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|row| {
                    let overrides: QuotaOverrides = OverrideColumns::from_row(row)?.into();
                    Ok(TenantInfo {
                        name: row.try_get("name")?,
                        display_name: row.try_get("display_name")?,
                        suspended: row.try_get("suspended")?,
                        declarative: row.try_get("declarative")?,
                        failure_word: row.try_get("failure_word")?,
                        quotas: overrides.over(self.defaults),
                        actions: row.try_get::<i64, _>("action_count")? as u32,
                        created_at: rfc3339(row.try_get("created_ms")?),
                    })
                })
                .collect()
        })
    }

    fn update_tenant<'a>(
        &'a self,
        name: &'a TenantName,
        suspended: Option<bool>,
        quotas: Option<QuotaOverrides>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut tx = self.begin_write(name.as_str()).await?;
            let row = sqlx::query(
                "SELECT suspended, max_concurrency, max_actions, max_module_bytes, \
                 max_storage_bytes, max_versions FROM tenants WHERE name = $1",
            )
            .bind(name.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::UnknownTenant(name.to_string()))?;
            let stored: QuotaOverrides = OverrideColumns::from_row(&row)?.into();
            let merged = match quotas {
                Some(patch) => stored.merge(&patch),
                None => stored,
            };
            let [concurrency, actions, module_bytes, storage_bytes, versions] =
                override_values(&merged);
            sqlx::query(
                "UPDATE tenants SET suspended = $1, max_concurrency = $2, max_actions = $3, \
                 max_module_bytes = $4, max_storage_bytes = $5, max_versions = $6 WHERE name = $7",
            )
            .bind(suspended.unwrap_or(row.try_get("suspended")?))
            .bind(concurrency)
            .bind(actions)
            .bind(module_bytes)
            .bind(storage_bytes)
            .bind(versions)
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
            self.commit_change(tx, name).await
        })
    }

    fn set_failure_word<'a>(&'a self, name: &'a TenantName, word: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut tx = self.begin_write(name.as_str()).await?;
            let updated = sqlx::query("UPDATE tenants SET failure_word = $1 WHERE name = $2")
                .bind(word)
                .bind(name.as_str())
                .execute(&mut *tx)
                .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::UnknownTenant(name.to_string()));
            }
            self.commit_change(tx, name).await
        })
    }

    fn delete_tenant<'a>(&'a self, name: &'a TenantName) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut tx = self.begin_write(name.as_str()).await?;
            sqlx::query("DELETE FROM versions WHERE tenant = $1")
                .bind(name.as_str())
                .execute(&mut *tx)
                .await?;
            let deleted = sqlx::query("DELETE FROM tenants WHERE name = $1")
                .bind(name.as_str())
                .execute(&mut *tx)
                .await?;
            if deleted.rows_affected() == 0 {
                return Err(StoreError::UnknownTenant(name.to_string()));
            }
            self.commit_change(tx, name).await?;
            self.collect_garbage().await;
            Ok(())
        })
    }

    fn sync_declarative_tenant<'a>(
        &'a self,
        name: &'a TenantName,
        display_name: Option<&'a str>,
        failure_word: &'a str,
        webhook_key: &'a KeyHash,
        admin_token: &'a KeyHash,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut tx = self.begin_write(name.as_str()).await?;
            let declarative: Option<bool> =
                sqlx::query_scalar("SELECT declarative FROM tenants WHERE name = $1")
                    .bind(name.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            if declarative == Some(false) {
                return Err(StoreError::Declarative(format!(
                    "tenant {name:?} exists and is managed through the admin API; rename the manifests directory"
                )));
            }
            sqlx::query(
                "INSERT INTO tenants (name, display_name, failure_word, declarative, created_ms, uid) \
                 VALUES ($1, $2, $3, TRUE, $4, $5) \
                 ON CONFLICT (name) DO UPDATE SET display_name = excluded.display_name, \
                 failure_word = excluded.failure_word",
            )
            .bind(name.as_str())
            .bind(display_name)
            .bind(failure_word)
            .bind(now_ms())
            .bind(TenantId::generate().as_str())
            .execute(&mut *tx)
            .await?;
            // Exactly the key and token the start gave: any other (an admin
            // token minted before declarative tenants had their own) goes.
            sqlx::query("DELETE FROM credentials WHERE tenant = $1")
                .bind(name.as_str())
                .execute(&mut *tx)
                .await?;
            for (id, kind, hash) in declarative_credentials(name, webhook_key, admin_token) {
                sqlx::query(
                    "INSERT INTO credentials (id, tenant, kind, hash, hint, created_ms) \
                     VALUES ($1, $2, $3, $4, 'declarative', $5)",
                )
                .bind(id)
                .bind(name.as_str())
                .bind(kind)
                .bind(hash.to_hex())
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            }
            self.commit_change(tx, name).await
        })
    }
}

#[cfg(test)]
mod catch_up_tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_one_reload_per_period() {
        let mut budget = CatchUps::new();
        let start = budget.refilled_at;
        for i in 0..CATCH_UP_BURST {
            assert!(budget.take(start), "reload {i} of the burst");
        }
        assert!(!budget.take(start), "past the burst");
        assert!(
            !budget.take(start + CATCH_UP_EVERY / 2),
            "half a period later"
        );
        assert!(budget.take(start + CATCH_UP_EVERY), "one period later");
        assert!(!budget.take(start + CATCH_UP_EVERY), "only one was earned");
        let much_later = start + CATCH_UP_EVERY * 1000;
        for i in 0..CATCH_UP_BURST {
            assert!(budget.take(much_later), "refilled reload {i}");
        }
        assert!(!budget.take(much_later), "the refill stops at the burst");
    }
}
