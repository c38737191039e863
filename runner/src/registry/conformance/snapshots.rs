//! Snapshots: what a tenant's snapshot holds after writes, the same whether
//! it was reloaded for that tenant alone (after a write) or loaded with every
//! tenant at once (at a start), and never another tenant's rows.

use super::{created, deploy, module};
use crate::registry::{QuotaOverrides, Registry, SecretStore, Storage, Tenant};

/// Gives three tenants everything a snapshot carries, different for each:
/// display name, failure word, suspension, quota overrides, webhook keys,
/// admin tokens, live versions (one rolled back) and secrets.
pub(crate) async fn populated(store: &dyn Storage) {
    let [acme, globex, _initech] = created(store, ["acme", "globex", "initech"]).await;
    store.create_webhook_key(&acme).await.unwrap();
    store.rotate_admin_token(&globex).await.unwrap();
    deploy(store, &acme, "greet", &module(1, 64)).await.unwrap();
    deploy(store, &acme, "greet", &module(2, 64)).await.unwrap();
    store.set_live(&acme, "greet", 1).await.unwrap();
    deploy(store, &acme, "bye", &module(3, 64)).await.unwrap();
    deploy(store, &globex, "greet", &module(4, 64))
        .await
        .unwrap();
    store.put_secret(&acme, "TOKEN", b"acme's").await.unwrap();
    store
        .put_secret(&globex, "TOKEN", b"globex's")
        .await
        .unwrap();
    store.put_secret(&globex, "OTHER", b"2").await.unwrap();
    let overrides = QuotaOverrides {
        max_actions: Some(7),
        max_versions: Some(3),
        ..QuotaOverrides::default()
    };
    store
        .update_tenant(&globex, Some(true), Some(overrides))
        .await
        .unwrap();
    store.set_failure_word(&acme, "oops").await.unwrap();
}

/// Everything a snapshot holds, as text comparable across loads
/// (credentials sorted: their order is the database's).
pub(crate) fn fingerprint(tenant: &Tenant) -> String {
    let mut keys: Vec<String> = tenant.webhook_keys.iter().map(|k| k.to_hex()).collect();
    let mut tokens: Vec<String> = tenant.admin_tokens.iter().map(|k| k.to_hex()).collect();
    keys.sort();
    tokens.sort();
    format!(
        "{:?} {} {:?} {} {} {} {:?} keys={keys:?} tokens={tokens:?} actions={:?} secrets={:?}",
        tenant.id,
        tenant.name,
        tenant.display_name,
        tenant.failure_word,
        tenant.suspended,
        tenant.declarative,
        tenant.quotas,
        tenant.actions,
        tenant.secrets.0,
    )
}

/// Every tenant's fingerprint, by name.
pub(crate) fn fingerprints(store: &dyn Storage) -> Vec<String> {
    let mut all: Vec<String> = store.tenants().iter().map(|t| fingerprint(t)).collect();
    all.sort();
    all
}

pub(super) async fn snapshots_hold_their_tenants_rows_and_no_other(store: &dyn Storage) {
    populated(store).await;
    let acme = store.tenant("acme").unwrap();
    let globex = store.tenant("globex").unwrap();
    let initech = store.tenant("initech").unwrap();

    assert_eq!(acme.webhook_keys.len(), 2, "created with one, one added");
    assert_eq!(acme.admin_tokens.len(), 1);
    assert_eq!(globex.webhook_keys.len(), 1);
    assert_eq!(globex.admin_tokens.len(), 1);
    assert!(
        acme.webhook_keys
            .iter()
            .all(|k| !globex.webhook_keys.contains(k))
    );
    assert!(
        acme.admin_tokens
            .iter()
            .all(|k| !globex.admin_tokens.contains(k))
    );

    let live: Vec<(String, u32)> = acme
        .actions
        .values()
        .map(|v| (v.name.to_string(), v.version))
        .collect();
    assert_eq!(live, [("bye".to_owned(), 1), ("greet".to_owned(), 1)]);
    assert_eq!(globex.actions.len(), 1);
    assert!(initech.actions.is_empty());

    assert_eq!(acme.secrets.0.len(), 1);
    assert_eq!(acme.secrets.0["TOKEN"], "acme's");
    assert_eq!(globex.secrets.0["TOKEN"], "globex's");
    assert!(initech.secrets.0.is_empty());

    assert!(globex.suspended && !acme.suspended);
    assert_eq!(globex.quotas.max_actions, 7);
    assert_eq!(globex.quotas.max_versions, 3);
    assert_ne!(acme.quotas.max_actions, 7);
    assert_eq!(acme.failure_word, "oops");
    assert_ne!(globex.failure_word, "oops");
    assert!(initech.webhook_keys.len() == 1 && !initech.suspended);
}

/// A start (every tenant loaded at once) finds exactly the snapshots the
/// writes left (each reloaded alone), on SQLite.
#[tokio::test]
async fn a_start_loads_the_snapshots_the_writes_left_on_sqlite() {
    use crate::registry::Quotas;
    use crate::registry::secrets::SecretBox;
    use crate::registry::store::SqliteStore;
    let dir = tempfile::tempdir().unwrap();
    let open = || SqliteStore::open(dir.path(), Quotas::default(), SecretBox::new([7; 32]));
    let first = open().await.unwrap();
    populated(&first).await;
    let written = fingerprints(&first);
    drop(first);
    let again = open().await.unwrap();
    assert_eq!(written.len(), 3);
    assert_eq!(fingerprints(&again), written);
}

/// The same on PostgreSQL, for a second replica loading every tenant while
/// the first keeps its own; and a write there reloads that tenant alone.
#[tokio::test]
async fn a_start_loads_the_snapshots_the_writes_left_on_postgres() {
    use crate::registry::test_postgres::TestDatabase;
    let db = TestDatabase::create().await;
    let first = db.open().await;
    populated(&*first).await;
    let written = fingerprints(&*first);
    let second = db.open().await;
    assert_eq!(written.len(), 3);
    assert_eq!(fingerprints(&*second), written);

    let globex = crate::names::TenantName::new("globex").unwrap();
    let acme_before = fingerprint(&first.tenant("acme").unwrap());
    first.put_secret(&globex, "THIRD", b"3").await.unwrap();
    assert_eq!(fingerprint(&first.tenant("acme").unwrap()), acme_before);
    assert_eq!(first.tenant("globex").unwrap().secrets.0["THIRD"], "3");
}
