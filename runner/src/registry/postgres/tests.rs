//! What only a shared database can get wrong: replicas seeing each other's
//! writes, artifacts they must not trust, quotas and counters across replicas.
//! (Everything a single store promises is in the shared `conformance` suite.)

use crate::capabilities::kv::{KvBackend, KvBucket, KvLimits, KvScope};
use crate::names::TenantName;
use crate::registry::test_postgres::TestDatabase;
use crate::registry::{
    BlobStore, ModuleDigest, QuotaOverrides, Registry, TenantStore, VersionStore,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn acme() -> TenantName {
    TenantName::new("acme").unwrap()
}

/// Waits up to `limit` for `check` to hold, returning how long it took.
async fn within(limit: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

/// Two replicas of a fresh database, with tenant acme made on the first
/// and seen by the second. Keep the database while they run.
async fn two_replicas_with_acme() -> (TestDatabase, Arc<super::PgStore>, Arc<super::PgStore>) {
    let db = TestDatabase::create().await;
    let (one, two) = (db.open().await, db.open().await);
    one.create_tenant(&acme(), None, QuotaOverrides::default())
        .await
        .unwrap();
    within(Duration::from_secs(1), || two.tenant("acme").is_some()).await;
    (db, one, two)
}

#[tokio::test]
async fn a_write_on_one_replica_reaches_the_other_within_a_second() {
    let (_db, one, two) = two_replicas_with_acme().await;
    one.update_tenant(&acme(), Some(true), None).await.unwrap();
    within(Duration::from_secs(1), || {
        two.tenant("acme").is_some_and(|t| t.suspended)
    })
    .await;
    two.delete_tenant(&acme()).await.unwrap();
    within(Duration::from_secs(1), || one.tenant("acme").is_none()).await;
}

#[tokio::test]
async fn a_missed_notification_is_caught_by_the_reconcile() {
    let (_db, one, two) = two_replicas_with_acme().await;
    // A write no notification announces, as if the listener were disconnected.
    sqlx::query(
        "UPDATE tenants SET failure_word = 'oops', generation = nextval('docket_generation') \
         WHERE name = 'acme'",
    )
    .execute(&one.pool)
    .await
    .unwrap();
    within(Duration::from_secs(2), || {
        two.tenant("acme").is_some_and(|t| t.failure_word == "oops")
    })
    .await;
}

/// Unannounced: tenant acme deleted and globex made by copying its row, so
/// the number of tenants is the same and only the names differ; globex's
/// generation is `generation` (an SQL expression over acme's row).
async fn swap_acme_for_globex_unannounced(store: &super::PgStore, generation: &str) {
    sqlx::query(&format!(
        "INSERT INTO tenants (name, uid, display_name, failure_word, suspended, declarative, \
         max_concurrency, max_actions, max_module_bytes, max_storage_bytes, max_versions, \
         created_ms, generation) SELECT 'globex', uid || '-g', display_name, failure_word, \
         suspended, declarative, max_concurrency, max_actions, max_module_bytes, \
         max_storage_bytes, max_versions, created_ms, {generation} FROM tenants WHERE name = 'acme'"
    ))
    .execute(&store.pool)
    .await
    .unwrap();
    sqlx::query("DELETE FROM tenants WHERE name = 'acme'")
        .execute(&store.pool)
        .await
        .unwrap();
}

/// Swaps acme for globex unannounced on one replica (`generation` as in
/// [`swap_acme_for_globex_unannounced`]) and waits up to `limit` for the
/// other to follow.
async fn an_unannounced_swap_is_followed_within(generation: &str, limit: Duration) {
    let (_db, one, two) = two_replicas_with_acme().await;
    swap_acme_for_globex_unannounced(&one, generation).await;
    within(limit, || {
        two.tenant("acme").is_none() && two.tenant("globex").is_some()
    })
    .await;
}

#[tokio::test]
async fn a_missed_deletion_and_creation_are_caught_by_the_reconcile() {
    an_unannounced_swap_is_followed_within("nextval('docket_generation')", Duration::from_secs(2))
        .await;
}

/// The steps by which a snapshot leaves: a tenant the reconcile found gone
/// is asked for again (a create may have committed and installed it since
/// the rows were read), and only the generation the remover saw is removed.
#[tokio::test]
async fn a_snapshot_is_removed_only_when_gone_and_as_seen() {
    let db = TestDatabase::create().await;
    let one = db.open().await;
    one.create_tenant(&acme(), None, QuotaOverrides::default())
        .await
        .unwrap();
    let seen = one.loaded_generation("acme").expect("acme is loaded");
    let found_gone = [(acme(), seen)];
    let still_gone = super::sync::gone_still(&one, &found_gone).await.unwrap();
    assert!(still_gone.is_empty(), "acme exists: {still_gone:?}");
    one.remove_seen(&acme(), Some(seen - 1));
    one.remove_seen(&acme(), None);
    assert!(
        one.tenant("acme").is_some(),
        "removed at a generation not seen"
    );
    sqlx::query("DELETE FROM tenants WHERE name = 'acme'")
        .execute(&one.pool)
        .await
        .unwrap();
    let still_gone = super::sync::gone_still(&one, &found_gone).await.unwrap();
    assert_eq!(still_gone, [&found_gone[0]]);
    one.remove_seen(&acme(), Some(seen));
    assert!(one.tenant("acme").is_none());
}

/// A change the reconcile's fingerprint cannot see (the same number of
/// tenants, the same sum of generations: not something Docket's own writes
/// make, as a write always takes a new generation) is still caught by the
/// reconcile that compares tenant by tenant (`FULL_COMPARE_EVERY`).
#[tokio::test]
async fn a_change_the_fingerprint_misses_is_caught_by_the_full_comparison() {
    an_unannounced_swap_is_followed_within("generation", Duration::from_secs(15)).await;
}

/// A replica's own notification costs no reload (its write installed the
/// snapshot as it committed), while another replica's change still reloads:
/// the generation in the payload tells them apart.
#[tokio::test]
async fn a_replica_skips_its_own_notification_and_reloads_anothers() {
    use std::sync::atomic::Ordering::Relaxed;
    let (_db, one, two) = two_replicas_with_acme().await;
    let settle = || tokio::time::sleep(Duration::from_millis(300));
    settle().await;
    // None after a notification for the writer (its reconcile may still
    // reload, if it runs between the commit and the install); at least one
    // reload for the other replica (by the notification or its reconcile).
    let own = |store: &super::PgStore| store.notified_reloads.load(Relaxed);
    let (one_before, two_before) = (own(&one), two.reloads.load(Relaxed));
    one.update_tenant(&acme(), Some(true), None).await.unwrap();
    within(Duration::from_secs(1), || {
        two.tenant("acme").is_some_and(|t| t.suspended)
    })
    .await;
    settle().await;
    assert_eq!(own(&one), one_before, "its own change");
    assert!(two.reloads.load(Relaxed) > two_before, "the other's change");

    let (one_before, two_before) = (one.reloads.load(Relaxed), own(&two));
    two.update_tenant(&acme(), Some(false), None).await.unwrap();
    within(Duration::from_secs(1), || {
        one.tenant("acme").is_some_and(|t| !t.suspended)
    })
    .await;
    settle().await;
    assert!(one.reloads.load(Relaxed) > one_before, "the other's change");
    assert_eq!(own(&two), two_before, "its own change");
}

#[tokio::test]
async fn quotas_are_checked_against_the_database_not_a_stale_snapshot() {
    let db = TestDatabase::create().await;
    let (one, two) = (db.open().await, db.open().await);
    let quotas = QuotaOverrides {
        max_actions: Some(1),
        ..QuotaOverrides::default()
    };
    one.create_tenant(&acme(), None, quotas).await.unwrap();
    within(Duration::from_secs(1), || two.tenant("acme").is_some()).await;
    // Both replicas deploy a different first action at once: one must lose.
    let tenant = acme();
    let (a, b) = tokio::join!(
        super::super::conformance::deploy(&*one, &tenant, "first", b"module one"),
        super::super::conformance::deploy(&*two, &tenant, "second", b"module two"),
    );
    assert!(
        a.is_ok() != b.is_ok(),
        "exactly one deploy fits maxActions = 1: {a:?} {b:?}"
    );
}

/// A store on `db` with tenant acme's action `greet` deployed and an
/// artifact saved for its module (engine "engine", bytes "compiled").
async fn deployed_with_artifact(db: &TestDatabase) -> (Arc<super::PgStore>, ModuleDigest) {
    let one = db.open().await;
    one.create_tenant(&acme(), None, QuotaOverrides::default())
        .await
        .unwrap();
    let bytes = b"module bytes".to_vec();
    let digest = ModuleDigest::of(&bytes);
    super::super::conformance::deploy(&*one, &acme(), "greet", &bytes)
        .await
        .unwrap();
    one.save_artifact(&digest, "engine", b"compiled")
        .await
        .unwrap();
    (one, digest)
}

#[tokio::test]
async fn artifacts_load_only_with_this_clusters_key() {
    let db = TestDatabase::create().await;
    let (one, digest) = deployed_with_artifact(&db).await;

    // Another replica (empty disk cache) with the same key: fetched and verified.
    let (two, _two_scratch) = db.open_elsewhere([7; 32]).await;
    assert_eq!(
        two.read_artifact(&digest, "engine")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"compiled"[..])
    );
    // A replica with another key does not trust it.
    let (stranger, _stranger_scratch) = db.open_elsewhere([8; 32]).await;
    assert_eq!(
        stranger.read_artifact(&digest, "engine").await.unwrap(),
        None
    );
    // Nor does anyone trust bytes altered in the database.
    sqlx::query("UPDATE artifacts SET bytes = 'evil'::BYTEA")
        .execute(&one.pool)
        .await
        .unwrap();
    let (three, _three_scratch) = db.open_elsewhere([7; 32]).await;
    assert_eq!(three.read_artifact(&digest, "engine").await.unwrap(), None);
}

#[tokio::test]
async fn increments_from_several_replicas_add_up_exactly() {
    let db = TestDatabase::create().await;
    let replicas = [db.open().await, db.open().await, db.open().await];
    replicas[0]
        .create_tenant(&acme(), None, QuotaOverrides::default())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for replica in &replicas {
        for _ in 0..4 {
            let backend: Arc<dyn KvBackend> = replica.clone();
            tasks.push(tokio::spawn(async move {
                let bucket = KvBucket::new(
                    backend,
                    "acme",
                    "count",
                    KvScope::Tenant,
                    KvLimits {
                        max_ops_per_invocation: 1000,
                        ..KvLimits::default()
                    },
                );
                for _ in 0..25 {
                    bucket.increment("hits", 1).await.unwrap();
                }
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    let bucket = KvBucket::new(
        replicas[1].clone(),
        "acme",
        "count",
        KvScope::Tenant,
        KvLimits::default(),
    );
    assert_eq!(bucket.get("hits").await.unwrap().unwrap(), b"300");
}

#[tokio::test]
async fn a_replica_forgets_cached_artifacts_of_modules_deleted_while_it_was_away() {
    let db = TestDatabase::create().await;
    let (one, _) = deployed_with_artifact(&db).await;
    let cached = || {
        std::fs::read_dir(db.scratch.path().join("artifacts"))
            .unwrap()
            .count()
    };
    assert_eq!(cached(), 1);
    one.delete_action(&acme(), "greet").await.unwrap();
    drop(one);
    let _again = db.open().await;
    // The sweep runs in the background after the start (`RETAIN_AFTER`).
    within(Duration::from_secs(3), || cached() == 0).await;
}
