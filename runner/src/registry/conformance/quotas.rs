//! Quotas: the action-count and storage quotas refuse a deploy and leave
//! nothing behind, the operator's per-tenant storage count agrees with each
//! tenant's own, and deploys past `maxVersions` prune the oldest versions.

use super::{created, deploy, module, tenant};
use crate::names::ActionName;
use crate::registry::{ModuleDigest, QuotaOverrides, Storage, StoreError};

/// The action-count and storage quotas refuse a deploy, and a refused deploy
/// leaves nothing behind.
pub(super) async fn quotas_refuse_deploys_and_leave_nothing_behind(store: &dyn Storage) {
    let acme = tenant("acme");
    let quotas = QuotaOverrides {
        max_actions: Some(2),
        max_storage_bytes: Some(2_000),
        ..QuotaOverrides::default()
    };
    store.create_tenant(&acme, None, quotas).await.unwrap();
    deploy(store, &acme, "one", &module(1, 1_200))
        .await
        .unwrap();
    let used = store.storage_used(&acme).await.unwrap();
    assert!(used > 1_200, "module and row are counted: {used}");

    let too_big = deploy(store, &acme, "two", &module(2, 1_200)).await;
    assert!(matches!(too_big, Err(StoreError::Quota(_))));
    assert_eq!(store.storage_used(&acme).await.unwrap(), used);
    assert_eq!(store.list_actions(&acme).await.unwrap().len(), 1);

    // The same bytes again are stored once, so they fit.
    deploy(store, &acme, "two", &module(1, 1_200))
        .await
        .unwrap();
    let third = deploy(store, &acme, "three", &module(1, 1_200)).await;
    assert!(
        matches!(third, Err(StoreError::Quota(_))),
        "maxActions is 2"
    );
    let snapshot = store.tenant("acme").unwrap();
    let check = store
        .check_deploy_quota(
            &snapshot,
            &ActionName::new("three").unwrap(),
            &ModuleDigest::of(b"x"),
            1,
        )
        .await;
    assert!(matches!(check, Err(StoreError::Quota(_))));

    // The operator's list counts every tenant as `storage_used` does: a
    // module two tenants share is charged to each, secrets count, and a
    // tenant with nothing stored is absent or zero.
    let [globex, empty] = created(store, ["globex", "initech"]).await;
    deploy(store, &globex, "one", &module(1, 1_200))
        .await
        .unwrap();
    deploy(store, &globex, "two", &module(3, 500))
        .await
        .unwrap();
    store.put_secret(&globex, "TOKEN", b"s3cret").await.unwrap();
    let all = store.storage_by_tenant().await.unwrap();
    for name in [&acme, &globex, &empty] {
        assert_eq!(
            all.get(name.as_str()).copied().unwrap_or(0),
            store.storage_used(name).await.unwrap(),
            "{name:?} in {all:?}"
        );
    }
    assert!(
        all.get(empty.as_str()).copied().unwrap_or(0) == 0,
        "{all:?}"
    );
}

/// Past `maxVersions`, a deploy prunes the oldest versions, and a module no
/// version keeps is no longer the tenant's.
pub(super) async fn deploys_prune_versions_past_the_quota(store: &dyn Storage) {
    let acme = tenant("acme");
    let quotas = QuotaOverrides {
        max_versions: Some(2),
        ..QuotaOverrides::default()
    };
    store.create_tenant(&acme, None, quotas).await.unwrap();
    for tag in 1..=3 {
        deploy(store, &acme, "greet", &module(tag, 100))
            .await
            .unwrap();
    }
    let versions = store.list_versions(&acme, "greet").await.unwrap();
    let numbers: Vec<u32> = versions.iter().map(|v| v.version).collect();
    assert_eq!(numbers, [3, 2]);
    let first = ModuleDigest::of(&module(1, 100));
    assert!(!store.tenant_keeps_module(&acme, &first).await.unwrap());
    let pruned = store.version(&acme, "greet", 1).await;
    assert!(matches!(pruned, Err(StoreError::UnknownVersion { .. })));
}
