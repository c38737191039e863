//! Who may call an admin route: the [`Operator`] and [`TenantAdmin`]
//! extractors, for a bearer token or a console session's cookie. A handler that takes one cannot run without the check, so no
//! route can forget it.

use super::admin_error::AdminError;
use super::cookies;
use crate::app::{App, Holder};
use crate::names::TenantName;
use crate::registry::Tenant;
use crate::registry::console_sessions::ConsoleSession;
use crate::registry::keys::{self, KeyHash};
use axum::extract::{FromRequestParts, Path};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use std::collections::HashMap;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Proof that the request carries the operator token (`DOCKET_ADMIN_TOKEN`),
/// or comes from an operator's console session. Refused with 401 without a
/// credential and 403 with any other.
#[derive(Debug, Clone, Copy)]
pub struct Operator;

impl FromRequestParts<Arc<App>> for Operator {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, AdminError> {
        match caller(app, parts).await? {
            Caller::Operator => Ok(Operator),
            Caller::Tenant { .. } => Err(AdminError::Forbidden(
                "this route needs the operator token".into(),
            )),
        }
    }
}

/// The tenant named by the route's `{tenant}`, for a request carrying that
/// tenant's admin token or the operator's (or a console session made with
/// one). A token for another tenant, or for no tenant, gets the same 403
/// whether the tenant exists or not, so tokens cannot probe for tenant
/// names; a suspended tenant's own token gets 403 too. Who the caller is
/// ([`Holder`]) is left in the request's extensions for the handler.
#[derive(Debug, Clone)]
pub struct TenantAdmin(pub Arc<Tenant>);

impl FromRequestParts<Arc<App>> for TenantAdmin {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, AdminError> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, app)
            .await
            .map_err(|e| AdminError::BadRequest(e.body_text()))?;
        let tenant = params.get("tenant").ok_or_else(|| {
            AdminError::Internal("TenantAdmin on a route without {tenant}".into())
        })?;
        let caller = caller(app, parts).await?;
        let found = match tenant_admin(app, &caller, tenant) {
            // Another replica may have made this tenant or token a moment
            // ago: check the database once before refusing.
            Err(AdminError::Forbidden(_) | AdminError::NotFound(_))
                if app.store.catch_up(tenant).await.unwrap_or(false) =>
            {
                tenant_admin(app, &caller, tenant)?
            }
            answer => answer?,
        };
        parts.extensions.insert(caller.holder());
        Ok(TenantAdmin(found))
    }
}

/// Who an admin request is, once its credential checked out.
#[derive(Debug, Clone)]
pub(super) enum Caller {
    /// The operator's token, or an operator's console session.
    Operator,
    /// Some other token: a tenant's admin token if it matches one.
    Tenant {
        /// The tenant a console session was signed in to; a bearer token
        /// names none.
        session_for: Option<TenantName>,
        /// The token's hash.
        token: KeyHash,
    },
}

impl Caller {
    /// What a lease this caller opens is held by.
    fn holder(&self) -> Holder {
        match self {
            Caller::Operator => Holder::Operator,
            Caller::Tenant { token, .. } => Holder::AdminToken(token.clone()),
        }
    }
}

/// Who is calling: the `Authorization: Bearer` token when one is sent,
/// else the console session of the `docket_session` cookie (whose changes
/// must carry its CSRF token).
pub(super) async fn caller(app: &App, parts: &Parts) -> Result<Caller, AdminError> {
    let session_cookie = cookies::get(&parts.headers, cookies::SESSION);
    match session_cookie.filter(|_| !parts.headers.contains_key(AUTHORIZATION)) {
        Some(cookie) => {
            let session = session(app, parts, &cookie).await?;
            session_caller(app, session)
        }
        None => {
            let token = bearer(&parts.headers)?;
            Ok(match is_operator(app, token) {
                true => Caller::Operator,
                false => Caller::Tenant {
                    session_for: None,
                    token: KeyHash::of(token),
                },
            })
        }
    }
}

/// The unexpired console session of `cookie`; for a request that changes
/// something, only with its CSRF token in `X-CSRF-Token`.
pub(super) async fn session(
    app: &App,
    parts: &Parts,
    cookie: &str,
) -> Result<ConsoleSession, AdminError> {
    let session = app
        .store
        .console_session(&KeyHash::of(cookie))
        .await?
        .ok_or(AdminError::Unauthorized(SESSION_ENDED))?;
    if !matches!(parts.method, Method::GET | Method::HEAD) {
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !bool::from(sent.ct_eq(session.csrf.as_bytes())) {
            return Err(AdminError::Forbidden(
                "missing or wrong X-CSRF-Token header: a console session's changes \
                 must carry the token its sign-in answered with"
                    .into(),
            ));
        }
    }
    Ok(session)
}

/// Who a console session's holder is; an operator session whose token is
/// no longer the operator's has ended.
pub(super) fn session_caller(app: &App, session: ConsoleSession) -> Result<Caller, AdminError> {
    match session.tenant {
        Some(name) => Ok(Caller::Tenant {
            session_for: Some(name),
            token: session.token_hash,
        }),
        None if operator_hash(app, &session.token_hash) => Ok(Caller::Operator),
        None => Err(AdminError::Unauthorized(SESSION_ENDED)),
    }
}

/// The header a console session's changes carry its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Said when a console session is unknown, expired, signed out, or its
/// token is no longer good.
pub(super) const SESSION_ENDED: &str =
    "the console session has ended (expired, signed out, or its token was rotated): sign in again";

fn tenant_admin(app: &App, caller: &Caller, tenant: &str) -> Result<Arc<Tenant>, AdminError> {
    let denied = || {
        AdminError::Forbidden(format!(
            "this token does not grant access to tenant {tenant:?}"
        ))
    };
    let (session_for, token) = match caller {
        Caller::Operator => {
            return app
                .tenant(tenant)
                .ok_or_else(|| AdminError::NotFound(format!("unknown tenant {tenant:?}")));
        }
        Caller::Tenant { session_for, token } => (session_for, token),
    };
    if session_for
        .as_ref()
        .is_some_and(|name| name.as_str() != tenant)
    {
        return Err(denied());
    }
    let found = app.tenant(tenant).ok_or_else(denied)?;
    if !keys::contains_hash(&found.admin_tokens, token) {
        return Err(match session_for {
            Some(_) => AdminError::Unauthorized(SESSION_ENDED),
            None => denied(),
        });
    }
    if found.suspended {
        return Err(AdminError::Forbidden("this tenant is suspended".into()));
    }
    Ok(found)
}

/// Whether a tenant session's token still opens its tenant (for
/// `GET /admin/v1/session`, which names no tenant in its route).
pub(super) fn session_is_current(app: &App, caller: &Caller) -> bool {
    match caller {
        Caller::Operator => true,
        Caller::Tenant {
            session_for: Some(name),
            token,
        } => app
            .tenant(name.as_str())
            .is_some_and(|t| keys::contains_hash(&t.admin_tokens, token)),
        Caller::Tenant { .. } => false,
    }
}

pub(super) fn bearer(headers: &HeaderMap) -> Result<&str, AdminError> {
    let value = headers
        .get("authorization")
        .ok_or(AdminError::Unauthorized(
            "missing Authorization: Bearer <token> header",
        ))?;
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AdminError::Unauthorized(
            "malformed Authorization header; expected Bearer <token>",
        ))
}

/// Compares hashes in constant time, so timing says nothing about the token.
pub(super) fn is_operator(app: &App, token: &str) -> bool {
    operator_hash(app, &KeyHash::of(token))
}

fn operator_hash(app: &App, candidate: &KeyHash) -> bool {
    app.operator_token
        .as_ref()
        .is_some_and(|hash| candidate.as_bytes().ct_eq(hash.as_bytes()).into())
}
