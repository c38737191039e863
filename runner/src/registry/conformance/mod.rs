//! The shared storage suite: every behaviour the storage traits promise,
//! written against [`Storage`] only, so each backend runs the same checks.
//!
//! A backend joins by one `conformance!` invocation that says how to open a
//! fresh, empty instance; each case then gets its own.

use super::keys::{self, KeyHash};
use super::records::NewVersion;
use super::{ModuleDigest, QuotaOverrides, Storage, StoreError};
use crate::limits::Ceilings;
use crate::manifest::ActionManifest;
use crate::names::{ActionName, TenantName};

mod console_sessions;
mod invocations;
mod kv;
mod oauth;
mod quotas;
mod snapshots;
use console_sessions::console_sessions_expire_end_and_go_with_their_tenant;
use invocations::{
    invocation_log_filters_pages_and_stays_with_its_tenant,
    invocation_log_is_newest_first_and_pruned, invocation_log_is_pruned_by_age,
    invocation_records_never_cross_into_a_new_tenant_of_the_same_name,
    recently_called_lists_versions_newest_first_across_tenants,
};
use kv::kv_counts_bytes_and_keeps_integers_exact;
use oauth::{
    oauth_clients_are_configured_rotated_and_disabled, oauth_one_time_values_are_spent_once,
    oauth_tokens_rotate_and_families_are_revoked,
};
use quotas::{
    deploys_prune_versions_past_the_quota, quotas_refuse_deploys_and_leave_nothing_behind,
};
use snapshots::snapshots_hold_their_tenants_rows_and_no_other;

fn tenant(name: &str) -> TenantName {
    TenantName::new(name).unwrap()
}

/// Distinct module bytes per `tag`, `size` bytes long. The store does not
/// validate WebAssembly; deploy does that before it gets here.
fn module(tag: u32, size: usize) -> Vec<u8> {
    let mut bytes = format!("module {tag};").into_bytes();
    bytes.resize(size.max(bytes.len()), b'.');
    bytes
}

/// Creates tenants with the operator's default quotas; returns their names.
pub(super) async fn created<const N: usize>(
    store: &dyn Storage,
    names: [&str; N],
) -> [TenantName; N] {
    let names = names.map(tenant);
    for name in &names {
        store
            .create_tenant(name, None, QuotaOverrides::default())
            .await
            .unwrap();
    }
    names
}

/// Deploys `module` as action `action` of `tenant`, returning its version.
pub(super) async fn deploy(
    store: &dyn Storage,
    tenant: &TenantName,
    action: &str,
    module: &[u8],
) -> Result<u32, StoreError> {
    let text = format!("name = \"{action}\"\n");
    let manifest = ActionManifest::parse(&text, &Ceilings::default()).expect("a valid manifest");
    store
        .deploy(NewVersion {
            tenant,
            manifest: &manifest,
            manifest_text: &text,
            module,
            abi: "command",
            artifact: None,
        })
        .await
}

fn live(store: &dyn Storage, tenant: &TenantName, action: &str) -> Option<u32> {
    let snapshot = store.tenant(tenant.as_str())?;
    let action = ActionName::new(action).ok()?;
    snapshot.actions.get(&action).map(|v| v.version)
}

/// Tenant names are unique; the snapshot follows creation, suspension and deletion.
pub(super) async fn tenants_are_unique_and_snapshots_follow_writes(store: &dyn Storage) {
    let acme = tenant("acme");
    let created = store
        .create_tenant(&acme, Some("Acme"), QuotaOverrides::default())
        .await
        .unwrap();
    assert_ne!(created.admin_token, created.api_key);
    let again = store
        .create_tenant(&acme, None, QuotaOverrides::default())
        .await;
    assert!(matches!(again, Err(StoreError::TenantExists(_))));

    let id = store.tenant("acme").unwrap().id.clone();
    store.update_tenant(&acme, Some(true), None).await.unwrap();
    assert!(store.tenant("acme").unwrap().suspended);
    assert_eq!(store.tenant("acme").unwrap().id, id, "writes keep the id");
    assert_eq!(store.list_tenants().await.unwrap().len(), 1);

    store.delete_tenant(&acme).await.unwrap();
    assert!(store.tenant("acme").is_none());
    assert!(store.tenants().is_empty());
    let gone = store.delete_tenant(&acme).await;
    assert!(matches!(gone, Err(StoreError::UnknownTenant(_))));
    store
        .create_tenant(&acme, None, QuotaOverrides::default())
        .await
        .unwrap();
    assert_ne!(
        store.tenant("acme").unwrap().id,
        id,
        "a tenant made again under the same name is another tenant"
    );
}

/// A declarative tenant has exactly the webhook key and admin token its
/// latest sync gave it: a token or key made through the store in between,
/// and the previous sync's, are gone. A tenant made through the admin API is
/// never turned into a declarative one.
pub(super) async fn declarative_tenants_keep_exactly_the_synced_key_and_token(store: &dyn Storage) {
    let demo = tenant("demo");
    let (key, first) = (KeyHash::of("webhook-key"), KeyHash::of("admin-token-1"));
    store
        .sync_declarative_tenant(&demo, Some("Demo"), "failure", &key, &first)
        .await
        .unwrap();
    let synced = store.tenant("demo").unwrap();
    assert!(synced.declarative);
    assert_eq!(synced.webhook_keys, std::slice::from_ref(&key));
    assert_eq!(synced.admin_tokens, std::slice::from_ref(&first));

    // What the store would do for the admin API in between (the routes
    // refuse these for a declarative tenant): an extra key, a new token.
    store.create_webhook_key(&demo).await.unwrap();
    let minted = store.rotate_admin_token(&demo).await.unwrap();
    let changed = store.tenant("demo").unwrap();
    assert!(keys::matches_any(&changed.admin_tokens, &minted));
    assert_eq!(changed.webhook_keys.len(), 2);

    // The next start: exactly its key and its (new) token, nothing else.
    let second = KeyHash::of("admin-token-2");
    store
        .sync_declarative_tenant(&demo, None, "error", &key, &second)
        .await
        .unwrap();
    let resynced = store.tenant("demo").unwrap();
    assert_eq!(resynced.webhook_keys, std::slice::from_ref(&key));
    assert_eq!(resynced.admin_tokens, std::slice::from_ref(&second));
    assert!(!keys::matches_any(&resynced.admin_tokens, &minted));
    assert_eq!(resynced.id, synced.id, "a sync keeps the tenant");
    assert_eq!(resynced.failure_word, "error");
    let listed = store.list_webhook_keys(&demo).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].id, "declarative-demo");

    // Another declarative tenant, named so that naive ids would collide.
    let other = tenant("admin-demo");
    let (other_key, other_token) = (KeyHash::of("k2"), KeyHash::of("t2"));
    store
        .sync_declarative_tenant(&other, None, "failure", &other_key, &other_token)
        .await
        .unwrap();
    let other_snapshot = store.tenant("admin-demo").unwrap();
    assert_eq!(other_snapshot.webhook_keys, [other_key]);
    assert_eq!(other_snapshot.admin_tokens, [other_token]);
    let demo_snapshot = store.tenant("demo").unwrap();
    assert_eq!(demo_snapshot.webhook_keys, std::slice::from_ref(&key));
    assert_eq!(demo_snapshot.admin_tokens, [second]);

    let [acme] = created(store, ["acme"]).await;
    let before = store.tenant("acme").unwrap();
    let refused = store
        .sync_declarative_tenant(&acme, None, "failure", &key, &first)
        .await;
    assert!(
        matches!(refused, Err(StoreError::Declarative(_))),
        "{refused:?}"
    );
    let after = store.tenant("acme").unwrap();
    assert!(!after.declarative);
    assert_eq!(after.admin_tokens, before.admin_tokens);
    assert_eq!(after.webhook_keys, before.webhook_keys);
}

/// Each deploy is a new live version; rollback moves the live pointer only to
/// a version that exists.
pub(super) async fn deploys_are_versions_and_rollback_moves_the_live_pointer(store: &dyn Storage) {
    let acme = tenant("acme");
    store
        .create_tenant(&acme, None, QuotaOverrides::default())
        .await
        .unwrap();
    assert_eq!(
        deploy(store, &acme, "greet", &module(1, 100))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        deploy(store, &acme, "greet", &module(2, 100))
            .await
            .unwrap(),
        2
    );
    assert_eq!(live(store, &acme, "greet"), Some(2));

    let versions = store.list_versions(&acme, "greet").await.unwrap();
    let listed: Vec<(u32, bool)> = versions.iter().map(|v| (v.version, v.live)).collect();
    assert_eq!(listed, [(2, true), (1, false)], "newest first, one live");

    store.set_live(&acme, "greet", 1).await.unwrap();
    assert_eq!(live(store, &acme, "greet"), Some(1));
    let v1 = store.version(&acme, "greet", 1).await.unwrap();
    assert_eq!(v1.module, ModuleDigest::of(&module(1, 100)));

    let missing = store.set_live(&acme, "greet", 9).await;
    assert!(matches!(
        missing,
        Err(StoreError::UnknownVersion { version: 9, .. })
    ));
    assert_eq!(live(store, &acme, "greet"), Some(1));

    store.delete_action(&acme, "greet").await.unwrap();
    assert_eq!(live(store, &acme, "greet"), None);
    let gone = store.list_versions(&acme, "greet").await;
    assert!(matches!(gone, Err(StoreError::UnknownAction(_))));
}

/// Secrets round-trip, are listed by name only, and belong to one tenant.
pub(super) async fn secrets_round_trip_and_stay_with_their_tenant(store: &dyn Storage) {
    let [acme, globex] = created(store, ["acme", "globex"]).await;
    store.put_secret(&acme, "TOKEN", b"s3cret").await.unwrap();
    assert_eq!(
        store.read_secret(&acme, "TOKEN").await.unwrap().as_deref(),
        Some(&b"s3cret"[..])
    );
    assert_eq!(store.read_secret(&globex, "TOKEN").await.unwrap(), None);
    assert!(store.list_secrets(&globex).await.unwrap().is_empty());
    let listed = store.list_secrets(&acme).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "TOKEN");
    let snapshot = store.tenant("acme").unwrap();
    assert_eq!(
        snapshot.secrets.0.get("TOKEN").map(String::as_str),
        Some("s3cret")
    );

    store.put_secret(&acme, "TOKEN", b"rotated").await.unwrap();
    assert_eq!(
        store.read_secret(&acme, "TOKEN").await.unwrap().as_deref(),
        Some(&b"rotated"[..])
    );
    let foreign = store.delete_secret(&globex, "TOKEN").await;
    assert!(matches!(foreign, Err(StoreError::UnknownSecret(_))));
    store.delete_secret(&acme, "TOKEN").await.unwrap();
    assert_eq!(store.read_secret(&acme, "TOKEN").await.unwrap(), None);
}

/// Webhook keys are listed by hint, revoked by id, and never cross tenants.
pub(super) async fn webhook_keys_are_created_listed_and_revoked(store: &dyn Storage) {
    let [acme, globex] = created(store, ["acme", "globex"]).await;
    let (info, key) = store.create_webhook_key(&acme).await.unwrap();
    assert!(!info.hint.contains(&key), "only a hint is listed");
    assert_eq!(store.list_webhook_keys(&acme).await.unwrap().len(), 2);
    assert_eq!(store.tenant("acme").unwrap().webhook_keys.len(), 2);

    let foreign = store.revoke_webhook_key(&globex, &info.id).await;
    assert!(matches!(foreign, Err(StoreError::UnknownKey(_))));
    store.revoke_webhook_key(&acme, &info.id).await.unwrap();
    assert_eq!(store.tenant("acme").unwrap().webhook_keys.len(), 1);
}

/// Modules are stored once by digest, shared across tenants, and removed
/// with the last version that uses them; artifacts round-trip.
pub(super) async fn blobs_are_content_addressed_and_collected(store: &dyn Storage) {
    let [acme, globex] = created(store, ["acme", "globex"]).await;
    let bytes = module(7, 300);
    let digest = ModuleDigest::of(&bytes);
    deploy(store, &acme, "greet", &bytes).await.unwrap();
    deploy(store, &globex, "hello", &bytes).await.unwrap();
    assert_eq!(
        store.version(&globex, "hello", 1).await.unwrap().module,
        digest
    );
    assert_eq!(store.read_module(&digest).await.unwrap(), bytes);
    assert_eq!(
        store.module_abi(&digest).await.unwrap().as_deref(),
        Some("command")
    );

    assert_eq!(
        store.read_artifact(&digest, "engine-a").await.unwrap(),
        None
    );
    store
        .save_artifact(&digest, "engine-a", b"compiled")
        .await
        .unwrap();
    assert_eq!(
        store
            .read_artifact(&digest, "engine-a")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"compiled"[..])
    );
    assert_eq!(
        store.read_artifact(&digest, "engine-b").await.unwrap(),
        None
    );
    // Opened for memory-mapping (a checked file) or read: the same bytes.
    let opened = match store.open_artifact(&digest, "engine-a").await.unwrap() {
        Some(super::CheckedArtifact::Bytes(bytes)) => bytes,
        Some(super::CheckedArtifact::File(mut file)) => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut file, &mut bytes).unwrap();
            bytes
        }
        None => panic!("the saved artifact opens"),
    };
    assert_eq!(opened, b"compiled");
    assert!(
        store
            .open_artifact(&digest, "engine-b")
            .await
            .unwrap()
            .is_none()
    );

    store.delete_action(&acme, "greet").await.unwrap();
    assert_eq!(
        store.read_module(&digest).await.unwrap(),
        bytes,
        "globex keeps it"
    );
    store.delete_tenant(&globex).await.unwrap();
    assert!(store.read_module(&digest).await.is_err());
    assert_eq!(store.module_abi(&digest).await.unwrap(), None);
}

/// Runs every case of the suite against a backend; `$open` is an async
/// expression giving `(guard, Arc<dyn Storage>)` for a fresh, empty store,
/// the guard kept alive for the test (a temp dir, a throwaway schema).
macro_rules! conformance {
    ($open:expr) => {
        conformance!(@cases $open;
            tenants_are_unique_and_snapshots_follow_writes,
            snapshots_hold_their_tenants_rows_and_no_other,
            declarative_tenants_keep_exactly_the_synced_key_and_token,
            deploys_are_versions_and_rollback_moves_the_live_pointer,
            quotas_refuse_deploys_and_leave_nothing_behind,
            deploys_prune_versions_past_the_quota,
            secrets_round_trip_and_stay_with_their_tenant,
            webhook_keys_are_created_listed_and_revoked,
            invocation_log_is_newest_first_and_pruned,
            invocation_log_filters_pages_and_stays_with_its_tenant,
            invocation_log_is_pruned_by_age,
            invocation_records_never_cross_into_a_new_tenant_of_the_same_name,
            recently_called_lists_versions_newest_first_across_tenants,
            blobs_are_content_addressed_and_collected,
            oauth_clients_are_configured_rotated_and_disabled,
            oauth_one_time_values_are_spent_once,
            oauth_tokens_rotate_and_families_are_revoked,
            console_sessions_expire_end_and_go_with_their_tenant,
        );

        #[tokio::test]
        async fn kv_counts_bytes_and_keeps_integers_exact() {
            let (_guard, store) = $open.await;
            super::kv_counts_bytes_and_keeps_integers_exact(store).await;
        }
    };
    (@cases $open:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (_guard, store) = $open.await;
                super::$case(&*store).await;
            }
        )*
    };
}

/// The embedded backend: SQLite and files in a temp dir per test.
mod sqlite {
    use crate::registry::Quotas;
    use crate::registry::Storage;
    use crate::registry::secrets::SecretBox;
    use crate::registry::store::SqliteStore;
    use std::sync::Arc;

    async fn open() -> (tempfile::TempDir, Arc<dyn Storage>) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path(), Quotas::default(), SecretBox::new([7; 32]))
            .await
            .unwrap();
        (dir, Arc::new(store))
    }

    conformance!(open());
}

/// The PostgreSQL backend: a database of its own per test.
mod postgres {
    use crate::registry::Storage;
    use crate::registry::test_postgres::TestDatabase;
    use std::sync::Arc;

    async fn open() -> (TestDatabase, Arc<dyn Storage>) {
        let database = TestDatabase::create().await;
        let store = database.open().await;
        (database, store)
    }

    conformance!(open());
}
