//! One stored version of an action, for its tenant: the manifest it runs
//! under and its module's bytes. `docket replay` fetches both to rerun a
//! recorded invocation on the author's machine.

use super::admin::AdminError;
use super::auth::TenantAdmin;
use crate::app::App;
use crate::registry::{ActionVersion, Tenant};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

/// The version number in a path, or a refusal naming it.
fn version_number(text: &str) -> Result<u32, AdminError> {
    text.parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| AdminError::BadRequest(format!("{text:?} is not a version number")))
}

/// The stored version the path names, of the caller's tenant.
async fn requested(
    app: &App,
    found: &Tenant,
    action: &str,
    version: &str,
) -> Result<ActionVersion, AdminError> {
    let version = version_number(version)?;
    Ok(app.store.version(&found.name, action, version).await?)
}

/// `GET /admin/v1/tenants/{tenant}/actions/{action}/versions/{version}`:
/// `{"name","version","hash","abi","manifest"}`, the manifest as TOML.
pub async fn get_version(
    State(app): State<Arc<App>>,
    Path((_, action, version)): Path<(String, String, String)>,
    TenantAdmin(found): TenantAdmin,
) -> Result<Response, AdminError> {
    let stored = requested(&app, &found, &action, &version).await?;
    let abi = app.store.module_abi(&stored.module).await?;
    Ok(Json(json!({
        "name": action,
        "version": stored.version,
        "hash": stored.module.as_str(),
        "abi": abi,
        "manifest": stored.manifest_toml(),
    }))
    .into_response())
}

/// `GET /admin/v1/tenants/{tenant}/actions/{action}/versions/{version}/module`:
/// the module's bytes, as deployed.
pub async fn get_module(
    State(app): State<Arc<App>>,
    Path((_, action, version)): Path<(String, String, String)>,
    TenantAdmin(found): TenantAdmin,
) -> Result<Response, AdminError> {
    let stored = requested(&app, &found, &action, &version).await?;
    let bytes = app.store.read_module(&stored.module).await?;
    Ok(([(header::CONTENT_TYPE, "application/wasm")], bytes).into_response())
}
