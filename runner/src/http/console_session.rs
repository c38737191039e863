//! `/admin/v1/session`: the web console's sign-in. A tenant admin token (or
//! the operator's) is exchanged once for an HttpOnly, SameSite=Strict
//! session cookie and a CSRF token; the browser never keeps the token
//! itself. Sessions live in the database, so they work on every replica
//! (docs/architecture.md#the-console).

use super::admin_error::AdminError;
use super::auth::{self, SESSION_ENDED};
use super::cookies;
use crate::app::App;
use crate::names::TenantName;
use crate::registry::console_sessions::ConsoleSession;
use crate::registry::keys::{self, KeyHash};
use crate::registry::{now_ms, rfc3339};
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// Where the session cookie is sent back: the admin API only.
const COOKIE_PATH: &str = "/admin/v1";

/// `POST /admin/v1/session`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// The tenant to sign in to; absent for the operator.
    tenant: Option<String>,
    /// The tenant's admin token, or the operator's token.
    token: String,
}

/// `POST /admin/v1/session`: checks the token as a bearer call would and
/// answers with the session (201) and its cookie.
pub async fn sign_in(
    State(app): State<Arc<App>>,
    body: Result<Json<SignIn>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, AdminError> {
    let Json(sign_in) = body.map_err(|e| AdminError::BadRequest(e.body_text()))?;
    let token = sign_in.token.as_str();
    if token.is_empty() {
        return Err(AdminError::BadRequest("token is empty".into()));
    }
    let tenant = match sign_in.tenant.as_deref().map(str::trim) {
        None | Some("") => {
            if !auth::is_operator(&app, token) {
                return Err(AdminError::Forbidden(
                    "this is not the operator token (to sign in to a tenant, name the tenant)"
                        .into(),
                ));
            }
            None
        }
        Some(name) => Some(tenant_for(&app, name, token).await?),
    };
    let cookie_value = hex::encode(rand::random::<[u8; 32]>());
    let session = ConsoleSession {
        tenant,
        token_hash: KeyHash::of(token),
        csrf: hex::encode(rand::random::<[u8; 24]>()),
        expires_ms: now_ms()
            .saturating_add(i64::try_from(app.console_session.as_millis()).unwrap_or(i64::MAX)),
    };
    app.store
        .create_console_session(&KeyHash::of(&cookie_value), &session)
        .await?;
    let cookie = cookies::set(
        &app,
        cookies::SESSION,
        &cookie_value,
        COOKIE_PATH,
        "Strict",
        app.console_session.as_secs(),
    );
    let mut response = (StatusCode::CREATED, Json(describe(&app, &session))).into_response();
    set_cookie(&mut response, &cookie);
    Ok(response)
}

/// The tenant `name` if `token` is its admin token and it is not suspended
/// (the same answers a bearer call gets).
async fn tenant_for(app: &App, name: &str, token: &str) -> Result<TenantName, AdminError> {
    let check = |app: &App| -> Result<TenantName, AdminError> {
        let denied = || {
            AdminError::Forbidden(format!(
                "this token does not grant access to tenant {name:?}"
            ))
        };
        let found = app.tenant(name).ok_or_else(denied)?;
        if !keys::matches_any(&found.admin_tokens, token) {
            return Err(denied());
        }
        if found.suspended {
            return Err(AdminError::Forbidden("this tenant is suspended".into()));
        }
        Ok(found.name.clone())
    };
    match check(app) {
        // Another replica may have made this tenant or token a moment ago.
        Err(_) if app.store.catch_up(name).await.unwrap_or(false) => check(app),
        answer => answer,
    }
}

/// The session of the request's cookie, still current: unexpired, its
/// token still good, and for a change, with its CSRF token.
pub struct CurrentSession {
    cookie: String,
    session: ConsoleSession,
}

impl FromRequestParts<Arc<App>> for CurrentSession {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, AdminError> {
        let cookie = cookies::get(&parts.headers, cookies::SESSION).ok_or(
            AdminError::Unauthorized("no console session: sign in with POST /admin/v1/session"),
        )?;
        let session = auth::session(app, parts, &cookie).await?;
        if !auth::session_is_current(app, &auth::session_caller(app, session.clone())?) {
            return Err(AdminError::Unauthorized(SESSION_ENDED));
        }
        Ok(CurrentSession { cookie, session })
    }
}

/// `GET /admin/v1/session`: the signed-in session, with its CSRF token.
pub async fn show(State(app): State<Arc<App>>, current: CurrentSession) -> Response {
    Json(describe(&app, &current.session)).into_response()
}

/// `DELETE /admin/v1/session`: signs out here and on every replica.
pub async fn sign_out(
    State(app): State<Arc<App>>,
    current: CurrentSession,
) -> Result<Response, AdminError> {
    app.store
        .end_console_session(&KeyHash::of(&current.cookie))
        .await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let expired = cookies::set(&app, cookies::SESSION, "", COOKIE_PATH, "Strict", 0);
    set_cookie(&mut response, &expired);
    Ok(response)
}

fn describe(app: &App, session: &ConsoleSession) -> serde_json::Value {
    json!({
        "role": if session.tenant.is_some() { "tenant" } else { "operator" },
        "tenant": session.tenant.as_ref().map(TenantName::as_str),
        "csrfToken": session.csrf,
        "expiresAt": rfc3339(session.expires_ms),
        "publicUrl": app.public_url,
    })
}

fn set_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
}
