//! The PostgreSQL backend (`--database-url postgres://…`): every registry
//! concern in one database that any number of replicas share, and nothing else
//! shared between them.
//!
//! * Records, module bytes and compiled artifacts are rows (migrations in
//!   `runner/migrations-postgres`). Artifacts carry an HMAC keyed by the
//!   operator's secret key, which is not in the database (`artifacts.rs`).
//! * The request path reads per-tenant snapshots in memory, as with SQLite.
//!   Every write runs in a transaction that holds the tenant's advisory lock
//!   (so quota checks and the writes they allow are atomic across replicas),
//!   bumps the tenant's generation and notifies the other replicas, which
//!   reload that tenant (`sync.rs`); a periodic reconcile of generations
//!   catches whatever a notification missed.
//! * Each concern's queries are in the module of its name, like `sqlite/`.

mod artifacts;
mod console_sessions;
mod credentials;
mod invocations;
mod kv;
mod oauth;
mod secrets;
mod sync;
mod tenants;
#[cfg(test)]
mod tests;
mod versions;

pub use sync::ClusterHealth;

use super::secrets::SecretBox;
use super::store::StoreError;
use super::{Quotas, Registry, Tenant};
use crate::names::TenantName;
use artifacts::LocalArtifacts;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// The channel replicas announce changed tenants on (the payload is the name).
const CHANGES_CHANNEL: &str = "docket_changes";

/// How long a request for a database connection waits before the operation
/// fails as unavailable: an admin call during an outage gets its 503 quickly.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// How long after the start cached artifacts of deleted modules are swept:
/// long enough that the sweep does not compete with the start (short under
/// test, where a test waits for it).
#[cfg(not(test))]
const RETAIN_AFTER: Duration = Duration::from_secs(5);
#[cfg(test)]
const RETAIN_AFTER: Duration = Duration::from_millis(50);

/// A tenant's snapshot and the generation it was loaded at.
#[derive(Clone)]
struct Loaded {
    generation: i64,
    tenant: Arc<Tenant>,
}

/// The PostgreSQL store. See the module docs.
pub struct PgStore {
    pool: PgPool,
    defaults: Quotas,
    secrets: SecretBox,
    /// Compiled artifacts on this replica's disk, and the key that
    /// authenticates them wherever they come from.
    artifacts: LocalArtifacts,
    snapshots: RwLock<HashMap<TenantName, Loaded>>,
    health: sync::Health,
    /// The budget of on-demand tenant reloads (`TenantStore::catch_up`).
    catch_ups: std::sync::Mutex<tenants::CatchUps>,
    /// Reloads of one tenant's snapshot so far, for the tests of what a
    /// notification costs.
    reloads: std::sync::atomic::AtomicU64,
    /// Of those, the ones a notification caused.
    notified_reloads: std::sync::atomic::AtomicU64,
    /// This replica's writes being committed, with the generation each
    /// takes: its own notification may arrive before the write has
    /// installed its snapshot, and costs no reload then either.
    committing: std::sync::Mutex<Vec<(TenantName, i64)>>,
}

/// A write of this replica between its commit and its snapshot's install
/// (`PgStore::committing`); gone when dropped, committed or not.
struct Committing<'a> {
    store: &'a PgStore,
    tenant: TenantName,
    generation: i64,
}

impl<'a> Committing<'a> {
    /// Marks `tenant`'s write at `generation` as committing until dropped.
    fn begin(store: &'a PgStore, tenant: &TenantName, generation: i64) -> Self {
        let mut committing = store.committing.lock().unwrap_or_else(|e| e.into_inner());
        committing.push((tenant.clone(), generation));
        Self {
            store,
            tenant: tenant.clone(),
            generation,
        }
    }
}

impl Drop for Committing<'_> {
    fn drop(&mut self) {
        let mut committing = self
            .store
            .committing
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        committing.retain(|(tenant, generation)| {
            !(*tenant == self.tenant && *generation == self.generation)
        });
    }
}

impl Registry for PgStore {
    fn tenant(&self, name: &str) -> Option<Arc<Tenant>> {
        let snapshots = self.snapshots.read().unwrap_or_else(|e| e.into_inner());
        snapshots.get(name).map(|l| l.tenant.clone())
    }

    fn cluster_health(&self) -> Option<ClusterHealth> {
        Some(self.health.report())
    }

    fn concurrency_share(&self, quota: u32) -> u32 {
        self.health.share_of(quota)
    }

    fn changes(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        Some(self.health.changes())
    }
}

impl PgStore {
    /// Connects to `url`, runs the migrations, loads every tenant's snapshot
    /// and starts following other replicas' changes. Compiled artifacts are
    /// cached under `scratch_dir`.
    pub async fn open(
        url: &str,
        scratch_dir: &Path,
        defaults: Quotas,
        secrets: SecretBox,
    ) -> Result<Arc<Self>, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Database(format!("the database URL is not usable: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations-postgres").run(&pool).await?;
        let artifacts = LocalArtifacts::open(scratch_dir, &secrets)?;
        let store = Arc::new(Self {
            pool,
            defaults,
            secrets,
            artifacts,
            snapshots: RwLock::new(HashMap::new()),
            health: sync::Health::new(),
            catch_ups: std::sync::Mutex::new(tenants::CatchUps::new()),
            reloads: std::sync::atomic::AtomicU64::new(0),
            notified_reloads: std::sync::atomic::AtomicU64::new(0),
            committing: std::sync::Mutex::new(Vec::new()),
        });
        store.reload_everything().await?;
        sync::follow(&store).await?;
        store.retain_local_artifacts_later();
        Ok(store)
    }

    /// Removes, in the background and [`RETAIN_AFTER`] from now, the cached
    /// artifacts of modules the database no longer holds (deleted while this
    /// replica was away), so the scratch directory follows what is stored.
    /// Off the start path: it lists every cached artifact. A file cached
    /// after the list of modules was read is kept (by its modification
    /// time); at worst a removal costs a fetch from the database.
    fn retain_local_artifacts_later(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let opened = std::time::SystemTime::now();
        tokio::spawn(async move {
            tokio::time::sleep(RETAIN_AFTER).await;
            let Some(store) = weak.upgrade() else {
                return;
            };
            let stored = sqlx::query_scalar::<_, String>("SELECT digest FROM modules")
                .fetch_all(&store.pool)
                .await;
            let stored: std::collections::HashSet<String> = match stored {
                Ok(stored) => stored.into_iter().collect(),
                Err(err) => {
                    tracing::debug!(error = %err, "cached artifacts not swept");
                    return;
                }
            };
            let swept =
                tokio::task::spawn_blocking(move || store.artifacts.retain(&stored, opened)).await;
            if let Ok(Err(err)) = swept {
                tracing::warn!(error = %err, "could not sweep cached artifacts");
            }
        });
    }

    /// Replaces every snapshot with what the database holds now, keeping
    /// the ones already at that generation or newer (as [`PgStore::install`]
    /// does): a bulk reload after a lost connection then replaces only what
    /// changed, and the followers compare only those.
    async fn reload_everything(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        let loaded = self.load(&mut conn, None).await?;
        let mut snapshots = self.snapshots.write().unwrap_or_else(|e| e.into_inner());
        let mut old = std::mem::take(&mut *snapshots);
        *snapshots = loaded
            .into_iter()
            .map(|new| match old.remove(&new.tenant.name) {
                Some(kept) if kept.generation >= new.generation => (new.tenant.name.clone(), kept),
                _ => (new.tenant.name.clone(), new),
            })
            .collect();
        Ok(())
    }

    /// Reloads one tenant's snapshot (removing it if the tenant is gone).
    async fn refresh(&self, name: &TenantName) -> Result<(), StoreError> {
        self.reloads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let seen = self.loaded_generation(name.as_str());
        let mut conn = self.pool.acquire().await?;
        let loaded = self.load(&mut conn, Some(name)).await?.pop();
        self.settle(name, loaded, seen);
        Ok(())
    }

    /// Puts what a load of `name` found in place: its snapshot installed,
    /// or, for a tenant the database no longer holds, the snapshot removed
    /// if it is still the one seen (at generation `seen`) before the load.
    fn settle(&self, name: &TenantName, loaded: Option<Loaded>, seen: Option<i64>) {
        match loaded {
            Some(loaded) => self.install(name, loaded),
            None => self.remove_seen(name, seen),
        }
    }

    /// Installs a loaded snapshot unless one of the same generation or a
    /// newer one is already there: a notification's reload and a local
    /// write's may finish in either order, and a snapshot kept keeps its
    /// `Arc`, so what is keyed by it (idle instances, the followers'
    /// comparisons) is not thrown away for the same contents. Subscribers
    /// hear of it only when something was replaced or removed.
    fn install(&self, name: &TenantName, new: Loaded) {
        let mut snapshots = self.snapshots.write().unwrap_or_else(|e| e.into_inner());
        let current = snapshots
            .get(name)
            .is_some_and(|old| old.generation >= new.generation);
        if !current {
            snapshots.insert(name.clone(), new);
        }
        drop(snapshots);
        if !current {
            self.health.changed();
        }
    }

    /// Removes the snapshot of a tenant the database no longer holds, but
    /// only the one the caller saw (`seen`, its generation) before it read
    /// the database: a write of this replica may have made the tenant again
    /// meanwhile and installed its snapshot as it committed (a deletion's
    /// notification, or the reconcile's list of gone tenants, can come after
    /// a create of the same name).
    fn remove_seen(&self, name: &TenantName, seen: Option<i64>) {
        let mut snapshots = self.snapshots.write().unwrap_or_else(|e| e.into_inner());
        // With no snapshot seen there is nothing to remove: `None == None`
        // finds no entry to take out.
        let removed =
            snapshots.get(name).map(|l| l.generation) == seen && snapshots.remove(name).is_some();
        drop(snapshots);
        if removed {
            self.health.changed();
        }
    }

    /// The generation this replica's snapshot of `name` was loaded at.
    fn loaded_generation(&self, name: &str) -> Option<i64> {
        let snapshots = self.snapshots.read().unwrap_or_else(|e| e.into_inner());
        snapshots.get(name).map(|l| l.generation)
    }

    /// Starts a write to `tenant`: a transaction holding the tenant's advisory
    /// lock, so writes to one tenant are serialized across every replica.
    async fn begin_write(
        &self,
        tenant: &str,
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// The tenant as the database holds it inside a write: fresher than the
    /// snapshot, which another replica's write may have outdated.
    async fn current(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        name: &TenantName,
    ) -> Result<Arc<Tenant>, StoreError> {
        self.load(tx, Some(name))
            .await?
            .pop()
            .map(|l| l.tenant)
            .ok_or_else(|| StoreError::UnknownTenant(name.to_string()))
    }

    /// Ends a write: bumps the tenant's generation, tells the other replicas
    /// (the payload names the generation, so this replica skips its own
    /// notification: `sync::Change`), loads the tenant's new snapshot,
    /// commits, and installs the snapshot here.
    ///
    /// The snapshot is loaded inside the transaction, under the tenant's
    /// lock: it is exactly what the commit makes current, and it is in place
    /// a moment after the commit, usually before the notification comes
    /// back, rather than a reload later.
    async fn commit_change(
        &self,
        mut tx: Transaction<'static, Postgres>,
        tenant: &TenantName,
    ) -> Result<(), StoreError> {
        let generation: Option<i64> = sqlx::query_scalar(
            "UPDATE tenants SET generation = nextval('docket_generation') WHERE name = $1 \
             RETURNING generation",
        )
        .bind(tenant.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANGES_CHANNEL)
            .bind(sync::Change::payload(tenant, generation))
            .execute(&mut *tx)
            .await?;
        let loaded = self.load(&mut tx, Some(tenant)).await?.pop();
        // A deletion removes the snapshot of the tenant it deleted, not one
        // a create of the same name installs just after this commit.
        let seen = self.loaded_generation(tenant.as_str());
        let _committing = generation.map(|generation| Committing::begin(self, tenant, generation));
        tx.commit().await?;
        self.settle(tenant, loaded, seen);
        Ok(())
    }

    /// Whether this replica is committing `tenant`'s change at `generation`
    /// (its own notification, come before its install).
    fn is_committing(&self, tenant: &TenantName, generation: i64) -> bool {
        let committing = self.committing.lock().unwrap_or_else(|e| e.into_inner());
        committing
            .iter()
            .any(|(name, at)| name == tenant && *at == generation)
    }

    /// Loads snapshots: one tenant's, or every tenant's in four queries
    /// (a new replica joining a large cluster loads them all at once).
    async fn load(
        &self,
        conn: &mut PgConnection,
        only: Option<&TenantName>,
    ) -> Result<Vec<Loaded>, StoreError> {
        Ok(self
            .load_snapshots(conn, only)
            .await?
            .into_iter()
            .map(|l| Loaded {
                generation: l.generation,
                tenant: Arc::new(l.tenant),
            })
            .collect())
    }

    crate::registry::snapshots::snapshot_loading!(
        PgConnection,
        concat!(
            "SELECT ",
            crate::registry::snapshots::tenant_columns!(),
            ", generation FROM tenants"
        ),
        concat!(
            "SELECT ",
            crate::registry::snapshots::tenant_columns!(),
            ", generation FROM tenants WHERE name = ?"
        )
    );

    /// The snapshot of a tenant, or [`StoreError::UnknownTenant`].
    fn require_tenant(&self, name: &TenantName) -> Result<Arc<Tenant>, StoreError> {
        self.tenant(name.as_str())
            .ok_or_else(|| StoreError::UnknownTenant(name.to_string()))
    }

    /// Deletes modules no version refers to any more (their artifacts go with
    /// them). Best effort: a module another replica's deploy is about to use
    /// again is kept by the foreign key, and a later collection retries.
    async fn collect_garbage(&self) {
        let deleted = sqlx::query(
            "DELETE FROM modules m WHERE NOT EXISTS (SELECT 1 FROM versions v WHERE v.module = m.digest)",
        )
        .execute(&self.pool)
        .await;
        if let Err(err) = deleted {
            tracing::debug!(error = %err, "module collection deferred");
        }
    }
}
