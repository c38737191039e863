//! The shared storage suite's invocation log cases: appends, pruning by
//! count and by age, filters, cursor paging and tenant isolation.

use super::created;
use crate::capabilities::outbound::OutboundCall;
use crate::registry::Storage;
use crate::registry::records::{
    INVOCATIONS_KEPT, InvocationDetail, InvocationQuery, InvocationRecord, NewInvocation,
    RecordedAnswer, RecordedInput, Timing,
};
use std::time::Duration;

/// A detail with every part present, NUL and non-ASCII text included.
fn full_detail(request_id: &str) -> InvocationDetail {
    InvocationDetail {
        timing: Timing::of(
            Duration::from_micros(15),
            Duration::from_micros(250),
            Duration::from_millis(3),
        ),
        tier: Some("optimized".into()),
        outbound: vec![OutboundCall {
            method: "POST".into(),
            host: "api.example.com".into(),
            status: Some(201),
            outcome: "allowed".into(),
            ms: 12,
        }],
        answer: Some(RecordedAnswer::new(
            200,
            &serde_json::json!({ "status": "success", "message": "déjà \u{0}", "requestId": request_id }),
        )),
        input: Some(RecordedInput {
            document_id: "doc".into(),
            document_version_id: "v1".into(),
            username: "jane".into(),
            username_verified: true,
            params: [("folder".to_owned(), "Ünïcode".to_owned())].into(),
        }),
    }
}

/// A record of `tenant` as it is now in `store` (an unknown tenant's record
/// carries an id no tenant has).
fn invocation(store: &dyn Storage, tenant: &str, request_id: String, at_ms: i64) -> NewInvocation {
    NewInvocation {
        detail: full_detail(&request_id),
        tenant: tenant.into(),
        tenant_id: store
            .tenant(tenant)
            .map_or_else(|| "none".to_owned(), |t| t.id.to_string()),
        action: "greet".into(),
        version: 1,
        request_id,
        at_ms,
        outcome: "success",
        ms: 3,
        limit_hit: None,
        stderr: None,
    }
}

/// The log lists newest first, per tenant, keeps the newest
/// [`INVOCATIONS_KEPT`], and skips records of unknown tenants.
pub(super) async fn invocation_log_is_newest_first_and_pruned(store: &dyn Storage) {
    let [acme, globex] = created(store, ["acme", "globex"]).await;
    let total = INVOCATIONS_KEPT + 5;
    let batch: Vec<NewInvocation> = (0..total)
        .map(|i| invocation(store, "acme", format!("r{i}"), 1_000 + i))
        .chain([
            invocation(store, "globex", "g0".into(), 5),
            invocation(store, "nobody", "x0".into(), 5),
        ])
        .collect();
    store.record_invocations(&batch).await.unwrap();

    let recent = store.recent_invocations(&acme, 3).await.unwrap();
    let ids: Vec<&str> = recent.iter().map(|r| r.request_id.as_str()).collect();
    let newest = |back: i64| format!("r{}", total - 1 - back);
    assert_eq!(ids, [newest(0), newest(1), newest(2)]);
    assert_eq!(
        recent[0].detail,
        full_detail(&newest(0)),
        "the detail is kept whole"
    );

    let all = store.recent_invocations(&acme, u32::MAX).await.unwrap();
    assert_eq!(
        all.len() as i64,
        INVOCATIONS_KEPT,
        "older records are pruned"
    );
    assert_eq!(all.last().unwrap().request_id, "r5");
    let theirs = store.recent_invocations(&globex, 10).await.unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].request_id, "g0");
}

/// Filters combine, pages follow one another by cursor without gaps or
/// duplicates, `after` lists oldest first, and another tenant's records are
/// never listed or found.
pub(super) async fn invocation_log_filters_pages_and_stays_with_its_tenant(store: &dyn Storage) {
    let [acme, globex] = created(store, ["acme", "globex"]).await;
    let batch: Vec<NewInvocation> = (0..20)
        .map(|i| NewInvocation {
            action: if i % 2 == 0 { "greet" } else { "archive" }.into(),
            outcome: if i % 5 == 0 { "failure" } else { "success" },
            ..invocation(store, "acme", format!("r{i}"), 1_000 + i)
        })
        .chain((0..5).map(|i| invocation(store, "globex", format!("g{i}"), 1_000 + i)))
        .collect();
    store.record_invocations(&batch).await.unwrap();
    let acme_ref = &acme;
    let list = |query: InvocationQuery| async move {
        let found = store.list_invocations(acme_ref, &query).await.unwrap();
        found.into_iter().map(|r| r.request_id).collect::<Vec<_>>()
    };
    let query = |limit| InvocationQuery {
        limit,
        ..InvocationQuery::default()
    };
    let failed_greets = InvocationQuery {
        action: Some("greet".into()),
        outcome: Some("failure".into()),
        ..query(100)
    };
    assert_eq!(list(failed_greets).await, ["r10", "r0"]);
    let window = InvocationQuery {
        since_ms: Some(1_003),
        until_ms: Some(1_005),
        ..query(100)
    };
    assert_eq!(list(window).await, ["r5", "r4", "r3"]);
    let by_request = InvocationQuery {
        request_id: Some("r7".into()),
        ..query(100)
    };
    assert_eq!(list(by_request).await, ["r7"]);
    let theirs = InvocationQuery {
        request_id: Some("g1".into()),
        ..query(100)
    };
    assert!(list(theirs).await.is_empty(), "another tenant's record");

    let mut paged = Vec::new();
    let mut before = None;
    loop {
        let page = InvocationQuery { before, ..query(3) };
        let records = store.list_invocations(&acme, &page).await.unwrap();
        let Some(last) = records.last() else { break };
        before = Some(last.id);
        paged.extend(records.into_iter().map(|r| r.request_id));
    }
    let expected: Vec<String> = (0..20).rev().map(|i| format!("r{i}")).collect();
    assert_eq!(paged, expected, "pages without gaps or duplicates");

    let all = store.list_invocations(&acme, &query(100)).await.unwrap();
    let after = InvocationQuery {
        after: Some(all[2].id),
        ..query(100)
    };
    assert_eq!(
        list(after).await,
        ["r18", "r19"],
        "oldest first after an id"
    );
    let one = store.invocation(&acme, all[0].id).await.unwrap().unwrap();
    assert_eq!(one.request_id, "r19");
    let globex_all = store.list_invocations(&globex, &query(100)).await.unwrap();
    assert_eq!(globex_all.len(), 5);
    let ids = |records: &[InvocationRecord]| records.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(&globex_all),
        [5, 4, 3, 2, 1],
        "each tenant's records are numbered on their own, with no gaps for the other's"
    );
    assert_eq!(ids(&all), (1..=20).rev().collect::<Vec<_>>());
    let same_number = store.invocation(&acme, globex_all[0].id).await.unwrap();
    assert_eq!(
        same_number.unwrap().request_id,
        "r4",
        "a number names the asking tenant's record, never another's"
    );
    assert!(store.invocation(&acme, 21).await.unwrap().is_none());
}

/// A record made while a tenant existed is not written into a tenant made
/// again under the same name, and the new tenant's numbering starts afresh.
pub(super) async fn invocation_records_never_cross_into_a_new_tenant_of_the_same_name(
    store: &dyn Storage,
) {
    let [acme] = created(store, ["acme"]).await;
    let old = invocation(store, "acme", "old-1".into(), 1_000);
    store
        .record_invocations(std::slice::from_ref(&old))
        .await
        .unwrap();
    let late = invocation(store, "acme", "old-late".into(), 2_000);
    store.delete_tenant(&acme).await.unwrap();
    let [acme] = created(store, ["acme"]).await;
    let new = invocation(store, "acme", "new-1".into(), 3_000);
    store.record_invocations(&[late, new]).await.unwrap();
    let kept = store.recent_invocations(&acme, 10).await.unwrap();
    let seen: Vec<(i64, &str)> = kept.iter().map(|r| (r.id, r.request_id.as_str())).collect();
    assert_eq!(seen, [(1, "new-1")]);
}

/// Records older than the cutoff are pruned, every tenant's, and only those.
pub(super) async fn invocation_log_is_pruned_by_age(store: &dyn Storage) {
    let [acme, globex] = created(store, ["acme", "globex"]).await;
    let batch = [
        invocation(store, "acme", "old".into(), 1_000),
        invocation(store, "acme", "new".into(), 5_000),
        invocation(store, "globex", "old".into(), 2_000),
    ];
    store.record_invocations(&batch).await.unwrap();
    assert_eq!(store.prune_invocations(3_000).await.unwrap(), 2);
    let kept = store.recent_invocations(&acme, 10).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].request_id, "new");
    assert!(
        store
            .recent_invocations(&globex, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// `recently_called` names each (tenant, action, version) called since the
/// cut once, with its newest record's time, newest first across tenants, at
/// most as many as asked; older records do not count.
pub(super) async fn recently_called_lists_versions_newest_first_across_tenants(
    store: &dyn Storage,
) {
    created(store, ["acme", "globex"]).await;
    let at = |tenant: &str, action: &str, version: u32, at_ms: i64| NewInvocation {
        action: action.into(),
        version,
        ..invocation(
            store,
            tenant,
            format!("{tenant}-{action}-{version}-{at_ms}"),
            at_ms,
        )
    };
    let batch = vec![
        at("acme", "greet", 1, 500),
        at("acme", "greet", 1, 2_000),
        at("acme", "greet", 2, 2_500),
        at("acme", "archive", 1, 1_500),
        at("globex", "greet", 1, 3_000),
        at("globex", "greet", 1, 1_200),
        at("globex", "old", 1, 900),
    ];
    store.record_invocations(&batch).await.unwrap();
    let named = |calls: Vec<crate::registry::RecentCall>| {
        calls
            .into_iter()
            .map(|c| format!("{}/{}@{}:{}", c.tenant, c.action, c.version, c.last_ms))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        named(store.recently_called(1_000, 10).await.unwrap()),
        [
            "globex/greet@1:3000",
            "acme/greet@2:2500",
            "acme/greet@1:2000",
            "acme/archive@1:1500",
        ]
    );
    assert_eq!(
        named(store.recently_called(1_000, 2).await.unwrap()),
        ["globex/greet@1:3000", "acme/greet@2:2500"]
    );
    assert!(store.recently_called(5_000, 10).await.unwrap().is_empty());
}
