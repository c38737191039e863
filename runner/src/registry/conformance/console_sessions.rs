//! The shared storage suite's console-session case: sessions are found by
//! their cookie's hash until they expire or end, and go with their tenant.

use super::created;
use crate::registry::Storage;
use crate::registry::console_sessions::ConsoleSession;
use crate::registry::keys::KeyHash;
use crate::registry::now_ms;

pub(super) async fn console_sessions_expire_end_and_go_with_their_tenant(store: &dyn Storage) {
    let [acme] = created(store, ["acme"]).await;
    let session = |tenant, expires_ms| ConsoleSession {
        tenant,
        token_hash: KeyHash::of("dka_token"),
        csrf: "csrf".into(),
        expires_ms,
    };
    let later = now_ms() + 60_000;
    let tenant_session = session(Some(acme.clone()), later);
    let operator_session = session(None, later);
    let past = session(Some(acme.clone()), now_ms() - 1);
    for (cookie, value) in [
        ("tenant", &tenant_session),
        ("operator", &operator_session),
        ("expired", &past),
    ] {
        store
            .create_console_session(&KeyHash::of(cookie), value)
            .await
            .unwrap();
    }
    let found =
        |cookie: &'static str| async move { store.console_session(&KeyHash::of(cookie)).await };
    assert_eq!(found("tenant").await.unwrap(), Some(tenant_session));
    assert_eq!(found("operator").await.unwrap(), Some(operator_session));
    assert_eq!(found("expired").await.unwrap(), None, "expired");
    assert_eq!(found("unknown").await.unwrap(), None);

    assert!(
        store
            .end_console_session(&KeyHash::of("operator"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .end_console_session(&KeyHash::of("operator"))
            .await
            .unwrap()
    );
    assert_eq!(found("operator").await.unwrap(), None, "ended");

    store.delete_tenant(&acme).await.unwrap();
    assert_eq!(found("tenant").await.unwrap(), None, "gone with its tenant");
    let refused = store
        .create_console_session(&KeyHash::of("late"), &session(Some(acme.clone()), later))
        .await;
    assert!(refused.is_err(), "no session for a tenant that is gone");
}
