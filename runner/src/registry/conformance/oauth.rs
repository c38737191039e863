//! The shared storage suite's OAuth2 cases: clients, one-time values and
//! token families behave the same on every backend.

use super::{created, tenant};
use crate::names::TenantName;
use crate::registry::oauth::{
    Configured, NewGrant, OAuthSettings, PendingKind, Refreshed, Taken, TokenPair,
};
use crate::registry::{QuotaOverrides, Storage, StoreError, TenantId};

fn settings(secret: Option<&str>) -> OAuthSettings {
    OAuthSettings {
        redirect_uri: "https://wf.example/oauth/callback".into(),
        issuer: "https://idp.example".into(),
        idp_client_id: "docket".into(),
        idp_client_secret: secret.map(str::to_owned),
        username_claim: "email".into(),
        access_token_seconds: 3600,
        refresh_token_seconds: 86_400,
    }
}

async fn tenant_id(store: &dyn Storage, name: &str) -> TenantId {
    store
        .tenants()
        .into_iter()
        .find(|t| t.name.as_str() == name)
        .unwrap()
        .id
        .clone()
}

async fn grant(store: &dyn Storage, name: &str, user: &str, family: &str) -> TokenPair {
    let id = tenant_id(store, name).await;
    let grant = NewGrant {
        tenant_id: &id,
        username: user,
        subject: user,
        family,
        access_seconds: 3600,
        refresh_seconds: 86_400,
    };
    store.issue_tokens(&tenant(name), grant).await.unwrap()
}

/// Whether an access token is good at `tenant` now.
async fn live(store: &dyn Storage, tenant: &TenantName, token: &str) -> bool {
    store.bearer(tenant, token).await.unwrap().is_some()
}

/// Presents a refresh token at `tenant` for an hour's access and a day's refresh.
async fn refresh(
    store: &dyn Storage,
    tenant: &TenantName,
    id: &TenantId,
    token: &str,
) -> Refreshed {
    store
        .refresh_tokens(tenant, id, token, 3600, 86_400)
        .await
        .unwrap()
}

/// A client is made once (its secret shown once, stored hashed), updated
/// in place, rotated, and turned off with everything it issued; the IdP
/// secret comes back opened.
pub(in crate::registry::conformance) async fn oauth_clients_are_configured_rotated_and_disabled(
    store: &dyn Storage,
) {
    let [acme] = created(store, ["acme"]).await;
    assert!(store.oauth_client(&acme).await.unwrap().is_none());
    let refused = store.configure_oauth(&acme, &settings(None)).await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    let Configured::Created {
        client_id,
        client_secret,
    } = store
        .configure_oauth(&acme, &settings(Some("s1")))
        .await
        .unwrap()
    else {
        panic!("the first configuration makes a client");
    };
    let client = store.oauth_client(&acme).await.unwrap().unwrap();
    assert_eq!(client.client_id, client_id);
    assert!(crate::registry::keys::matches_any(
        &[client.secret_hash],
        &client_secret
    ));
    assert_eq!(client.settings.idp_client_secret.as_deref(), Some("s1"));
    let mut changed = settings(None);
    changed.username_claim = "sub".into();
    assert!(matches!(
        store.configure_oauth(&acme, &changed).await.unwrap(),
        Configured::Updated
    ));
    let client = store.oauth_client(&acme).await.unwrap().unwrap();
    assert_eq!(client.client_id, client_id, "an update keeps the client id");
    assert_eq!(client.settings.username_claim, "sub");
    assert_eq!(client.settings.idp_client_secret.as_deref(), Some("s1"));
    let rotated = store.rotate_oauth_secret(&acme).await.unwrap();
    let client = store.oauth_client(&acme).await.unwrap().unwrap();
    assert!(!crate::registry::keys::matches_any(
        std::slice::from_ref(&client.secret_hash),
        &client_secret
    ));
    assert!(crate::registry::keys::matches_any(
        &[client.secret_hash],
        &rotated
    ));
    let pair = grant(store, "acme", "ada", "f1").await;
    store.disable_oauth(&acme).await.unwrap();
    assert!(store.oauth_client(&acme).await.unwrap().is_none());
    assert!(!live(store, &acme, &pair.access_token).await);
    assert!(matches!(
        store.disable_oauth(&acme).await,
        Err(StoreError::OAuthOff)
    ));
    let id = tenant_id(store, "acme").await;
    let orphan = NewGrant {
        tenant_id: &id,
        username: "ada",
        subject: "ada",
        family: "f2",
        access_seconds: 60,
        refresh_seconds: 60,
    };
    assert!(
        store.issue_tokens(&acme, orphan).await.is_err(),
        "no token outlives (or races) turning OAuth2 mode off"
    );
    assert!(matches!(
        store.rotate_oauth_secret(&acme).await,
        Err(StoreError::OAuthOff)
    ));
}

/// A one-time value is spent once, by its own tenant and kind only; a
/// second take is told apart as a replay.
pub(in crate::registry::conformance) async fn oauth_one_time_values_are_spent_once(
    store: &dyn Storage,
) {
    let [acme, globex] = created(store, ["acme", "globex"]).await;
    store
        .put_pending(&acme, PendingKind::Code, "c1", "{\"u\":1}", 60_000)
        .await
        .unwrap();
    assert_eq!(
        store
            .take_pending(&globex, PendingKind::Code, "c1")
            .await
            .unwrap(),
        Taken::Missing
    );
    assert_eq!(
        store
            .take_pending(&acme, PendingKind::SignIn, "c1")
            .await
            .unwrap(),
        Taken::Missing
    );
    assert_eq!(
        store
            .take_pending(&acme, PendingKind::Code, "c1")
            .await
            .unwrap(),
        Taken::Fresh("{\"u\":1}".into())
    );
    assert_eq!(
        store
            .take_pending(&acme, PendingKind::Code, "c1")
            .await
            .unwrap(),
        Taken::Spent
    );
    for value in ["s1", "s2"] {
        store
            .put_pending(&acme, PendingKind::SignIn, value, "{}", 60_000)
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .live_pending(&acme, PendingKind::SignIn)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .take_pending(&acme, PendingKind::SignIn, "s1")
            .await
            .unwrap(),
        Taken::Fresh("{}".into())
    );
    assert_eq!(
        store
            .live_pending(&acme, PendingKind::SignIn)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .live_pending(&globex, PendingKind::SignIn)
            .await
            .unwrap(),
        0
    );
    store
        .put_pending(&acme, PendingKind::Code, "old", "{}", -1)
        .await
        .unwrap();
    assert_eq!(
        store
            .take_pending(&acme, PendingKind::Code, "old")
            .await
            .unwrap(),
        Taken::Missing
    );
}

/// Tokens: a bearer lookup finds only its tenant's; a refresh rotates, and
/// presenting a spent refresh token revokes its whole family (not others');
/// users are listed and revoked; a tenant made again under the same name
/// inherits nothing.
pub(in crate::registry::conformance) async fn oauth_tokens_rotate_and_families_are_revoked(
    store: &dyn Storage,
) {
    let [acme, globex] = created(store, ["acme", "globex"]).await;
    for name in [&acme, &globex] {
        store
            .configure_oauth(name, &settings(Some("s")))
            .await
            .unwrap();
    }
    let id = tenant_id(store, "acme").await;
    let first = grant(store, "acme", "ada@example.com", "fam-a").await;
    let other = grant(store, "acme", "bob@example.com", "fam-b").await;
    let bearer = store
        .bearer(&acme, &first.access_token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bearer.username, "ada@example.com");
    assert_eq!(bearer.tenant_id, id);
    assert!(!live(store, &globex, &first.access_token).await);
    assert!(
        !live(store, &acme, &first.refresh_token).await,
        "a refresh token is no bearer"
    );

    let Refreshed::Rotated(second) = refresh(store, &acme, &id, &first.refresh_token).await else {
        panic!("a fresh refresh token rotates");
    };
    assert!(live(store, &acme, &second.access_token).await);
    let globex_id = tenant_id(store, "globex").await;
    assert!(matches!(
        refresh(store, &globex, &globex_id, &second.refresh_token).await,
        Refreshed::Invalid
    ));
    assert!(matches!(
        refresh(store, &acme, &id, &first.refresh_token).await,
        Refreshed::Reused
    ));
    assert!(
        !live(store, &acme, &second.access_token).await,
        "the family is revoked"
    );
    assert!(!live(store, &acme, &first.access_token).await);
    assert!(matches!(
        refresh(store, &acme, &id, &second.refresh_token).await,
        Refreshed::Invalid
    ));
    assert!(
        live(store, &acme, &other.access_token).await,
        "other families stay"
    );

    let users = store.connected_users(&acme).await.unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].username, "bob@example.com");
    assert_eq!(
        store
            .revoke_user_tokens(&acme, Some("bob@example.com"))
            .await
            .unwrap(),
        1
    );
    assert!(!live(store, &acme, &other.access_token).await);

    let kept = grant(store, "acme", "cy@example.com", "fam-c").await;
    assert_eq!(store.revoke_family(&acme, "fam-c").await.unwrap(), 2);
    assert!(!live(store, &acme, &kept.access_token).await);

    let last = grant(store, "acme", "dee@example.com", "fam-d").await;
    store.delete_tenant(&acme).await.unwrap();
    store
        .create_tenant(&acme, None, QuotaOverrides::default())
        .await
        .unwrap();
    store
        .configure_oauth(&acme, &settings(Some("s")))
        .await
        .unwrap();
    assert!(!live(store, &acme, &last.access_token).await);
    assert!(store.connected_users(&acme).await.unwrap().is_empty());
    assert_eq!(store.revoke_user_tokens(&acme, None).await.unwrap(), 0);
}
