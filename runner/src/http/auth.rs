//! Who may call an admin route: the [`Operator`] and [`TenantAdmin`]
//! extractors. A handler that takes one cannot run without the check, so no
//! route can forget it.

use super::admin_error::AdminError;
use crate::app::{App, Holder};
use crate::registry::Tenant;
use crate::registry::keys::{self, KeyHash};
use axum::extract::{FromRequestParts, Path};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use std::collections::HashMap;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// Proof that the request carries the operator token (`DOCKET_ADMIN_TOKEN`).
/// Refused with 401 without a bearer token and 403 with any other.
#[derive(Debug, Clone, Copy)]
pub struct Operator;

impl FromRequestParts<Arc<App>> for Operator {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, AdminError> {
        let token = bearer(&parts.headers)?;
        if is_operator(app, token) {
            Ok(Operator)
        } else {
            Err(AdminError::Forbidden(
                "this route needs the operator token".into(),
            ))
        }
    }
}

/// The tenant named by the route's `{tenant}`, for a request carrying that
/// tenant's admin token or the operator's. A token for another tenant, or for
/// no tenant, gets the same 403 whether the tenant exists or not, so tokens
/// cannot probe for tenant names; a suspended tenant's own token gets 403 too.
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
        match tenant_admin(app, &parts.headers, tenant) {
            // Another replica may have made this tenant or token a moment
            // ago: check the database once before refusing.
            Err(AdminError::Forbidden(_) | AdminError::NotFound(_))
                if app.store.catch_up(tenant).await.unwrap_or(false) =>
            {
                tenant_admin(app, &parts.headers, tenant).map(TenantAdmin)
            }
            answer => answer.map(TenantAdmin),
        }
    }
}

fn tenant_admin(app: &App, headers: &HeaderMap, tenant: &str) -> Result<Arc<Tenant>, AdminError> {
    let token = bearer(headers)?;
    if is_operator(app, token) {
        return app
            .tenant(tenant)
            .ok_or_else(|| AdminError::NotFound(format!("unknown tenant {tenant:?}")));
    }
    let denied = || {
        AdminError::Forbidden(format!(
            "this token does not grant access to tenant {tenant:?}"
        ))
    };
    let found = app.tenant(tenant).ok_or_else(denied)?;
    if !keys::matches_any(&found.admin_tokens, token) {
        return Err(denied());
    }
    if found.suspended {
        return Err(AdminError::Forbidden("this tenant is suspended".into()));
    }
    Ok(found)
}

/// Who an authorized request's bearer token is (for a [`TenantAdmin`]
/// route, which checked it): what a lease it opens is held by, so rotating
/// a tenant token away ends that token's long-lived responses.
pub fn holder(app: &App, headers: &HeaderMap) -> Result<Holder, AdminError> {
    let token = bearer(headers)?;
    Ok(if is_operator(app, token) {
        Holder::Operator
    } else {
        Holder::AdminToken(KeyHash::of(token))
    })
}

fn bearer(headers: &HeaderMap) -> Result<&str, AdminError> {
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
fn is_operator(app: &App, token: &str) -> bool {
    app.operator_token
        .as_ref()
        .is_some_and(|hash| KeyHash::of(token).as_bytes().ct_eq(hash.as_bytes()).into())
}
