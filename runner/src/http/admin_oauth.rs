//! The admin API of a tenant's OAuth2 mode (`/admin/v1/tenants/{tenant}/oauth…`):
//! configure the identity provider and Workfront's redirect URI, see what
//! to paste into Workfront, rotate the Client Secret, see connected users
//! and revoke their tokens (docs/architecture.md#oauth2-mode).

use super::admin::{AdminError, JsonBody};
use super::auth::TenantAdmin;
use crate::app::App;
use crate::oauth::{OAuthUrls, idp};
use crate::registry::oauth::{
    Configured, DEFAULT_ACCESS_TOKEN_SECONDS, DEFAULT_REFRESH_TOKEN_SECONDS,
    MAX_ACCESS_TOKEN_SECONDS, MAX_REFRESH_TOKEN_SECONDS, OAuthClient, OAuthSettings,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

type AdminResult<T = Response> = Result<T, AdminError>;

/// Body of `PUT /admin/v1/tenants/{tenant}/oauth`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigureOAuth {
    workfront_redirect_uri: String,
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
    username_claim: Option<String>,
    access_token_seconds: Option<u32>,
    refresh_token_seconds: Option<u32>,
}

/// `GET /admin/v1/tenants/{tenant}/oauth`: the settings, and the URLs to
/// paste into Workfront and register at the identity provider.
pub async fn show(State(app): State<Arc<App>>, TenantAdmin(found): TenantAdmin) -> AdminResult {
    let client = app.store.oauth_client(&found.name).await?;
    Ok(Json(describe(&app, found.name.as_str(), client.as_ref())).into_response())
}

/// `PUT /admin/v1/tenants/{tenant}/oauth`: turns OAuth2 mode on (201, with
/// the Client ID and Client Secret for Workfront, the secret shown once),
/// or replaces its settings (200).
pub async fn configure(
    State(app): State<Arc<App>>,
    admin: AdminResult<TenantAdmin>,
    JsonBody(body): JsonBody<ConfigureOAuth>,
) -> AdminResult {
    let TenantAdmin(found) = admin?;
    let existing = app.store.oauth_client(&found.name).await?;
    let settings = checked(&app, body)?;
    if existing.is_none() && settings.idp_client_secret.is_none() {
        return Err(AdminError::BadRequest(
            "clientSecret (the identity provider's client secret) is required to turn OAuth2 mode on"
                .into(),
        ));
    }
    // Another provider, or another claim, names other people: grants made
    // under the old settings must not carry over.
    let identity_changed = existing.as_ref().is_some_and(|old| {
        let old = &old.settings;
        old.issuer != settings.issuer
            || old.idp_client_id != settings.idp_client_id
            || old.username_claim != settings.username_claim
    });
    // The identity provider must answer now, not at a user's first sign-in.
    let mut probe = settings.clone();
    if probe.idp_client_secret.is_none() {
        probe.idp_client_secret = existing.and_then(|c| c.settings.idp_client_secret);
    }
    let urls = OAuthUrls::of(&app, found.name.as_str());
    idp::begin(
        &app.services.outbound,
        &probe,
        &urls.identity_provider_redirect_uri,
    )
    .await
    .map_err(|err| AdminError::BadRequest(format!("issuer {:?}: {err}", settings.issuer)))?;
    let configured = app.store.configure_oauth(&found.name, &settings).await?;
    let client = app.store.oauth_client(&found.name).await?;
    let mut body = describe(&app, found.name.as_str(), client.as_ref());
    match configured {
        Configured::Created { client_secret, .. } => {
            body["clientSecret"] = json!(client_secret);
            Ok((StatusCode::CREATED, Json(body)).into_response())
        }
        Configured::Updated => {
            if identity_changed {
                let revoked = app.store.revoke_user_tokens(&found.name, None).await?;
                body["revokedGrants"] = json!(revoked);
            }
            Ok(Json(body).into_response())
        }
    }
}

/// `DELETE /admin/v1/tenants/{tenant}/oauth`: turns OAuth2 mode off; every
/// token stops working at once.
pub async fn disable(State(app): State<Arc<App>>, TenantAdmin(found): TenantAdmin) -> AdminResult {
    app.store.disable_oauth(&found.name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /admin/v1/tenants/{tenant}/oauth/client-secret`: a new Client
/// Secret, shown once; the old one stops working at once (paste the new one
/// into Workfront's integration).
pub async fn rotate_secret(
    State(app): State<Arc<App>>,
    TenantAdmin(found): TenantAdmin,
) -> AdminResult {
    let secret = app.store.rotate_oauth_secret(&found.name).await?;
    Ok((StatusCode::CREATED, Json(json!({ "clientSecret": secret }))).into_response())
}

/// `GET /admin/v1/tenants/{tenant}/oauth/users`: users with live tokens.
pub async fn users(State(app): State<Arc<App>>, TenantAdmin(found): TenantAdmin) -> AdminResult {
    let users = app.store.connected_users(&found.name).await?;
    Ok(Json(json!({ "users": users })).into_response())
}

/// `DELETE /admin/v1/tenants/{tenant}/oauth/users/{username}`: revokes one
/// user's tokens; Workfront asks them to connect again.
pub async fn revoke_user(
    State(app): State<Arc<App>>,
    Path((_, username)): Path<(String, String)>,
    TenantAdmin(found): TenantAdmin,
) -> AdminResult {
    let revoked = app
        .store
        .revoke_user_tokens(&found.name, Some(&username))
        .await?;
    Ok(Json(json!({ "username": username, "revokedGrants": revoked })).into_response())
}

/// `DELETE /admin/v1/tenants/{tenant}/oauth/users`: revokes every user's tokens.
pub async fn revoke_all(
    State(app): State<Arc<App>>,
    TenantAdmin(found): TenantAdmin,
) -> AdminResult {
    let revoked = app.store.revoke_user_tokens(&found.name, None).await?;
    Ok(Json(json!({ "revokedGrants": revoked })).into_response())
}

/// The settings as the admin API shows them: never a secret.
fn describe(app: &App, tenant: &str, client: Option<&OAuthClient>) -> Value {
    let urls = OAuthUrls::of(app, tenant);
    let mut body = json!({
        "enabled": client.is_some(),
        "authenticationUrl": urls.authentication_url,
        "tokenEndpointUrl": urls.token_endpoint_url,
        "identityProviderRedirectUri": urls.identity_provider_redirect_uri,
    });
    if let Some(client) = client {
        let s = &client.settings;
        let fields = json!({
            "clientId": client.client_id,
            "clientSecretHint": client.secret_hint,
            "workfrontRedirectUri": s.redirect_uri,
            "issuer": s.issuer,
            "identityProviderClientId": s.idp_client_id,
            "usernameClaim": s.username_claim,
            "accessTokenSeconds": s.access_token_seconds,
            "refreshTokenSeconds": s.refresh_token_seconds,
            "updatedAt": client.updated_at,
        });
        if let (Some(body), Some(fields)) = (body.as_object_mut(), fields.as_object()) {
            body.extend(fields.clone());
        }
    }
    body
}

/// The body checked field by field, each error naming its field.
fn checked(app: &App, body: ConfigureOAuth) -> AdminResult<OAuthSettings> {
    let bad = |why: String| AdminError::BadRequest(why);
    let redirect = url::Url::parse(&body.workfront_redirect_uri).map_err(|e| {
        bad(format!(
            "workfrontRedirectUri {:?} is not an absolute URL: {e}",
            body.workfront_redirect_uri
        ))
    })?;
    if redirect.fragment().is_some() {
        return Err(bad("workfrontRedirectUri must not have a #fragment".into()));
    }
    // The code travels in it: https, or http to this machine (a test set-up).
    let loopback = match redirect.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    if redirect.scheme() != "https" && !(redirect.scheme() == "http" && loopback) {
        return Err(bad(format!(
            "workfrontRedirectUri {:?} must use https (Workfront's always does)",
            body.workfront_redirect_uri
        )));
    }
    let issuer = url::Url::parse(&body.issuer).map_err(|e| {
        bad(format!(
            "issuer {:?} is not an absolute URL: {e}",
            body.issuer
        ))
    })?;
    app.services
        .outbound
        .destination_allowed(&issuer)
        .map_err(|why| bad(format!("issuer: {why}")))?;
    if body.client_id.trim().is_empty() {
        return Err(bad(
            "clientId (Docket's client id at the identity provider) must not be empty".into(),
        ));
    }
    if body.client_secret.as_deref().is_some_and(str::is_empty) {
        return Err(bad(
            "clientSecret must not be empty; leave it out to keep the stored one".into(),
        ));
    }
    let username_claim = body.username_claim.unwrap_or_else(|| "email".into());
    if !idp::USERNAME_CLAIMS.contains(&username_claim.as_str()) {
        return Err(bad(format!(
            "usernameClaim {username_claim:?} is not one of {}",
            idp::USERNAME_CLAIMS.join(", ")
        )));
    }
    let access = body
        .access_token_seconds
        .unwrap_or(DEFAULT_ACCESS_TOKEN_SECONDS);
    if !(1..=MAX_ACCESS_TOKEN_SECONDS).contains(&access) {
        return Err(bad(format!(
            "accessTokenSeconds must be 1 to {MAX_ACCESS_TOKEN_SECONDS}"
        )));
    }
    let refresh = body
        .refresh_token_seconds
        .unwrap_or(DEFAULT_REFRESH_TOKEN_SECONDS);
    if !(60..=MAX_REFRESH_TOKEN_SECONDS).contains(&refresh) {
        return Err(bad(format!(
            "refreshTokenSeconds must be 60 to {MAX_REFRESH_TOKEN_SECONDS}"
        )));
    }
    Ok(OAuthSettings {
        redirect_uri: body.workfront_redirect_uri,
        issuer: body.issuer,
        idp_client_id: body.client_id,
        idp_client_secret: body.client_secret,
        username_claim,
        access_token_seconds: access,
        refresh_token_seconds: refresh,
    })
}
