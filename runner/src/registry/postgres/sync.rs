//! Following the other replicas: LISTEN for changed tenants, a periodic
//! reconcile of generations as the safety net, the heartbeat that counts live
//! replicas, and the health `/readyz` reports.
//!
//! A notification reloads one tenant at once (a few milliseconds after the
//! writer commits), unless this replica's snapshot is at the generation the
//! notification names already: the writer's own replica installs its
//! snapshot as it commits, so its own notification costs nothing. Notifications are lost while the listening connection is
//! down, so every [`RECONCILE_EVERY`] the replica compares each tenant's
//! generation with its snapshot's and reloads what differs: a change reaches
//! every replica within that period even when no notification arrives. That
//! comparison reads every tenant only when one row of sums ([`Fingerprint`])
//! says something differs, and every [`FULL_COMPARE_EVERY`]th time.

use super::{CHANGES_CHANNEL, PgStore};
use crate::names::TenantName;
use crate::registry::StoreError;
use crate::registry::store::now_ms;
use serde::Serialize;
use sqlx::postgres::PgListener;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// How often a replica reconciles its snapshots and sends its heartbeat.
pub const RECONCILE_EVERY: Duration = Duration::from_millis(400);
/// A replica whose last successful reconcile is older than this is not ready.
const STALE_AFTER: Duration = Duration::from_secs(2);
/// A reconcile that takes longer than this counts as failed: a database that
/// stops answering (rather than refusing) must not leave the replica waiting.
const RECONCILE_TIMEOUT: Duration = Duration::from_millis(1500);
/// A replica that has not sent a heartbeat for this long no longer counts.
const REPLICA_EXPIRES_MS: i64 = 5_000;
/// More changed tenants than this in one reconcile reload everything at once.
const BULK_RELOAD: usize = 64;
/// Every this many reconciles, the tenants' generations are compared one by
/// one even when the sums match (see [`Fingerprint`]).
const FULL_COMPARE_EVERY: u32 = 25;

/// What `/readyz` says about this replica's view of the cluster.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterHealth {
    /// Database reachable, snapshots loaded and current.
    pub ready: bool,
    /// `reachable` or `unreachable`.
    pub database: &'static str,
    /// Why the database is unreachable, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Milliseconds since the snapshots were last confirmed current.
    pub synced_ms_ago: u64,
    /// Replicas with a recent heartbeat, this one included.
    pub replicas: u32,
    /// This replica's id (random per process).
    pub replica: String,
}

/// This replica's sync state.
pub(super) struct Health {
    replica: String,
    state: Mutex<SyncState>,
    replicas: AtomicU32,
    changes: tokio::sync::watch::Sender<u64>,
}

struct SyncState {
    synced_at: Instant,
    error: Option<String>,
}

impl Health {
    pub(super) fn new() -> Self {
        Self {
            replica: hex::encode(rand::random::<[u8; 6]>()),
            state: Mutex::new(SyncState {
                synced_at: Instant::now(),
                error: None,
            }),
            replicas: AtomicU32::new(1),
            changes: tokio::sync::watch::Sender::new(0),
        }
    }

    pub(super) fn report(&self) -> ClusterHealth {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let age = state.synced_at.elapsed();
        let ready = state.error.is_none() && age < STALE_AFTER;
        ClusterHealth {
            ready,
            database: if ready { "reachable" } else { "unreachable" },
            error: state.error.clone(),
            synced_ms_ago: age.as_millis() as u64,
            replicas: self.replicas.load(Ordering::Relaxed),
            replica: self.replica.clone(),
        }
    }

    /// This replica's part of a cluster-wide quota: an equal share of the live
    /// replicas', rounded up, at least 1.
    pub(super) fn share_of(&self, quota: u32) -> u32 {
        let replicas = self.replicas.load(Ordering::Relaxed).max(1);
        quota.div_ceil(replicas).max(1)
    }

    pub(super) fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Tells subscribers (the module warmer) that a snapshot changed.
    pub(super) fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    fn synced(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.error.take().is_some() {
            tracing::info!("database reachable again; snapshots are current");
        }
        state.synced_at = Instant::now();
    }

    fn failed(&self, err: &StoreError) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.error.is_none() {
            tracing::error!(error = %err, "database unreachable: serving live actions from the last snapshot; deploys and other changes are refused until it is back");
        }
        state.error = Some(err.to_string());
    }
}

/// Starts listening for changes and the reconcile loop. Both stop when the
/// store is dropped.
pub(super) async fn follow(store: &Arc<PgStore>) -> Result<(), StoreError> {
    let mut listener = PgListener::connect_with(&store.pool).await?;
    listener.listen(CHANGES_CHANNEL).await?;
    let weak = Arc::downgrade(store);
    tokio::spawn(listen(weak.clone(), listener));
    heartbeat(store).await?;
    store.health.synced();
    tokio::spawn(reconcile_forever(weak));
    Ok(())
}

async fn listen(store: Weak<PgStore>, mut listener: PgListener) {
    loop {
        let received = listener.recv().await;
        let Some(store) = store.upgrade() else {
            return;
        };
        match received {
            Ok(notification) => {
                let Some(change) = Change::parse(notification.payload()) else {
                    continue;
                };
                let loaded = store.loaded_generation(change.tenant.as_str());
                let own = change
                    .generation
                    .is_some_and(|at| store.is_committing(&change.tenant, at));
                if own || change.is_loaded(loaded) {
                    continue;
                }
                store
                    .notified_reloads
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // A failed reload is retried by the next reconcile.
                if let Err(err) = store.refresh(&change.tenant).await {
                    tracing::debug!(tenant = %change.tenant, error = %err, "reload after notification failed");
                }
            }
            Err(err) => {
                // sqlx reconnects on the next recv; what was sent meanwhile
                // is lost, and the reconcile loop picks it up.
                tracing::debug!(error = %err, "change notifications interrupted");
                drop(store);
                tokio::time::sleep(RECONCILE_EVERY).await;
            }
        }
    }
}

/// A change notification: the tenant, and the generation its change
/// committed at. The payload is `<name> <generation>`; a bare name (a
/// deletion, `docket migrate`, a replica before generations were sent)
/// always reloads.
#[derive(Debug, PartialEq)]
pub(super) struct Change {
    tenant: TenantName,
    generation: Option<i64>,
}

impl Change {
    /// The payload announcing `tenant`'s change at `generation`.
    pub(super) fn payload(tenant: &TenantName, generation: Option<i64>) -> String {
        match generation {
            Some(generation) => format!("{} {generation}", tenant.as_str()),
            None => tenant.as_str().to_owned(),
        }
    }

    /// The change a payload announces; `None` for one that names no tenant.
    fn parse(payload: &str) -> Option<Self> {
        let (name, generation) = match payload.split_once(' ') {
            Some((name, generation)) => (name, Some(generation.parse().ok()?)),
            None => (payload, None),
        };
        Some(Self {
            tenant: TenantName::new(name).ok()?,
            generation,
        })
    }

    /// Whether a snapshot loaded at `loaded` has this change already, so
    /// the notification costs nothing: this replica's own write (it
    /// installs its snapshot as it commits), or a change a reconcile or an
    /// earlier reload already brought. Generations only grow and a write
    /// holds its tenant's lock until it commits, so a snapshot at this
    /// generation or later has seen the change; another replica's change
    /// has a generation this one has not loaded, and is reloaded.
    fn is_loaded(&self, loaded: Option<i64>) -> bool {
        matches!((self.generation, loaded), (Some(changed), Some(have)) if have >= changed)
    }
}

/// What the tenant rows add up to: how many, and the sum of their
/// generations. Compared with the same of the loaded snapshots, it tells in
/// one row whether anything changed, so a reconcile at 10,000 tenants reads
/// one row, not 10,000. Every write raises its tenant's generation (the sum
/// grows), a deletion or creation changes the count, and generations only
/// grow: for both to match while something changed, tenants must be deleted
/// and created and other writes made, all unannounced, with generations
/// that cancel exactly. Every [`FULL_COMPARE_EVERY`]th reconcile compares
/// tenant by tenant all the same, so even that is caught within seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
struct Fingerprint {
    tenants: i64,
    /// As text: PostgreSQL sums `bigint` into `numeric`.
    #[sqlx(try_from = "String")]
    generations: Generations,
}

/// A sum of generations (128 bits: 10,000 tenants of 63-bit generations fit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Generations(i128);

impl TryFrom<String> for Generations {
    type Error = std::num::ParseIntError;

    fn try_from(sum: String) -> Result<Self, Self::Error> {
        sum.parse().map(Self)
    }
}

impl Fingerprint {
    async fn stored(store: &PgStore) -> Result<Self, StoreError> {
        Ok(sqlx::query_as(
            "SELECT COUNT(*) AS tenants, COALESCE(SUM(generation), 0)::TEXT AS generations \
             FROM tenants",
        )
        .fetch_one(&store.pool)
        .await?)
    }

    fn loaded(store: &PgStore) -> Self {
        let snapshots = store.snapshots.read().unwrap_or_else(|e| e.into_inner());
        Self {
            tenants: snapshots.len() as i64,
            generations: Generations(snapshots.values().map(|l| i128::from(l.generation)).sum()),
        }
    }
}

async fn reconcile_forever(store: Weak<PgStore>) {
    let mut tick = tokio::time::interval(RECONCILE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut round: u32 = 0;
    loop {
        tick.tick().await;
        let Some(store) = store.upgrade() else {
            return;
        };
        round = round.wrapping_add(1);
        let full = round.is_multiple_of(FULL_COMPARE_EVERY);
        match tokio::time::timeout(RECONCILE_TIMEOUT, reconcile(&store, full)).await {
            Ok(Ok(())) => store.health.synced(),
            Ok(Err(err)) => store.health.failed(&err),
            Err(_) => store.health.failed(&StoreError::Unavailable(format!(
                "no answer within {} ms",
                RECONCILE_TIMEOUT.as_millis()
            ))),
        }
    }
}

/// Reloads every tenant whose generation differs from its snapshot's, drops
/// the snapshots of deleted tenants, and sends the heartbeat. Unless `full`,
/// the tenants are compared one by one only when their [`Fingerprint`]
/// differs from the snapshots'.
async fn reconcile(store: &PgStore, full: bool) -> Result<(), StoreError> {
    if !full && Fingerprint::stored(store).await? == Fingerprint::loaded(store) {
        return heartbeat(store).await;
    }
    let rows: Vec<(String, i64)> = sqlx::query_as("SELECT name, generation FROM tenants")
        .fetch_all(&store.pool)
        .await?;
    // Each row is compared with its snapshot in place, without a map of
    // every row: this runs every `RECONCILE_EVERY`, and at 10,000 tenants
    // that map cost 10,000 allocations each time. Names are unique, so when every
    // snapshot matched a row, no tenant is gone; only otherwise are the
    // names collected to find which.
    let (stale, gone) = {
        let snapshots = store.snapshots.read().unwrap_or_else(|e| e.into_inner());
        let mut matched = 0;
        let mut stale: Vec<String> = Vec::new();
        for (name, generation) in &rows {
            match snapshots.get(name.as_str()) {
                Some(loaded) => {
                    matched += 1;
                    if loaded.generation < *generation {
                        stale.push(name.clone());
                    }
                }
                None => stale.push(name.clone()),
            }
        }
        // With the generation each was compared at, for `remove_seen`.
        let gone: Vec<(TenantName, i64)> = if matched == snapshots.len() {
            Vec::new()
        } else {
            let stored: HashSet<&str> = rows.iter().map(|(name, _)| name.as_str()).collect();
            snapshots
                .iter()
                .filter(|(name, _)| !stored.contains(name.as_str()))
                .map(|(name, loaded)| (name.clone(), loaded.generation))
                .collect()
        };
        (stale, gone)
    };
    if stale.len() > BULK_RELOAD {
        store.reload_everything().await?;
        store.health.changed();
    } else {
        for name in stale.iter().filter_map(|n| TenantName::new(n.clone()).ok()) {
            store.refresh(&name).await?;
        }
        for (name, seen) in gone_still(store, &gone).await? {
            store.remove_seen(name, Some(*seen));
        }
    }
    if !stale.is_empty() || !gone.is_empty() {
        tracing::debug!(
            reloaded = stale.len(),
            removed = gone.len(),
            "reconcile caught changes"
        );
    }
    heartbeat(store).await
}

/// Those of `gone` the database still does not hold. The rows were read
/// before the snapshots were compared, so a create that committed and
/// installed its snapshot in between looks gone; asked again after the
/// comparison, the database holds it (a write commits before it installs).
pub(super) async fn gone_still<'a>(
    store: &PgStore,
    gone: &'a [(TenantName, i64)],
) -> Result<Vec<&'a (TenantName, i64)>, StoreError> {
    if gone.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<&str> = gone.iter().map(|(name, _)| name.as_str()).collect();
    let present: HashSet<String> =
        sqlx::query_scalar("SELECT name FROM tenants WHERE name = ANY($1)")
            .bind(&names)
            .fetch_all(&store.pool)
            .await?
            .into_iter()
            .collect();
    Ok(gone
        .iter()
        .filter(|(name, _)| !present.contains(name.as_str()))
        .collect())
}

/// Records this replica as alive and counts the live ones.
async fn heartbeat(store: &PgStore) -> Result<(), StoreError> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO replicas (id, heartbeat_ms) VALUES ($1, $2) \
         ON CONFLICT (id) DO UPDATE SET heartbeat_ms = excluded.heartbeat_ms",
    )
    .bind(&store.health.replica)
    .bind(now)
    .execute(&store.pool)
    .await?;
    let live: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM replicas WHERE heartbeat_ms > $1")
        .bind(now - REPLICA_EXPIRES_MS)
        .fetch_one(&store.pool)
        .await?;
    store.health.replicas.store(
        u32::try_from(live).unwrap_or(u32::MAX).max(1),
        Ordering::Relaxed,
    );
    // Replicas gone for an hour are forgotten.
    sqlx::query("DELETE FROM replicas WHERE heartbeat_ms < $1")
        .bind(now - 3_600_000)
        .execute(&store.pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Change;
    use crate::names::TenantName;

    #[test]
    fn a_payload_names_the_tenant_and_the_generation() {
        let acme = TenantName::new("acme").unwrap();
        let change = Change::parse(&Change::payload(&acme, Some(42))).unwrap();
        assert_eq!(change.generation, Some(42));
        assert_eq!(change.tenant, acme);
        assert_eq!(Change::parse("acme").unwrap().generation, None);
        assert_eq!(Change::parse("acme x"), None);
        assert_eq!(Change::parse("Not A Name"), None);
    }

    #[test]
    fn only_a_snapshot_at_the_generation_or_later_skips_the_reload() {
        let change = |generation| Change {
            tenant: TenantName::new("acme").unwrap(),
            generation,
        };
        // This replica's own write, or a change already reloaded.
        assert!(change(Some(7)).is_loaded(Some(7)));
        assert!(change(Some(7)).is_loaded(Some(9)));
        // Another replica's change, a tenant not loaded here, a bare name.
        assert!(!change(Some(7)).is_loaded(Some(6)));
        assert!(!change(Some(7)).is_loaded(None));
        assert!(!change(None).is_loaded(Some(7)));
    }
}
