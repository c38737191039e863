//! The admin API under `/admin/v1` (`docs/architecture.md#the-admin-api`): the operator manages tenants, a
//! tenant's admin manages its own actions, keys and settings. JSON in and out;
//! errors are `{"error": "…"}`. Documented in `runner/openapi.json`, served at
//! `/admin/v1/openapi.json`.

pub use super::admin_error::AdminError;
use super::api_types::{
    ActionJson, CreatedTenantJson, KeyJson, SecretJson, TenantJson, UsageJson, VersionJson, shown,
};
use super::auth::{Operator, TenantAdmin};
use crate::app::App;
use crate::manifest::{self as manifests, check_failure_word};
use crate::names::TenantName;
use crate::registry::secrets;
use crate::registry::{QuotaOverrides, Tenant};
use axum::Json;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use std::sync::Arc;

/// The OpenAPI document of these routes.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// A JSON body whose rejections use the admin error shape.
///
/// Handlers that read one take their [`Operator`] or [`TenantAdmin`] as an
/// `AdminResult` and apply it first thing: axum extracts the body after the
/// head, and the admin API has always answered a malformed body (400) before
/// checking the credentials.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(AdminError::BadRequest(rejection.body_text())),
        }
    }
}

type AdminResult<T = Response> = Result<T, AdminError>;

fn not_declarative(tenant: &Tenant) -> AdminResult<()> {
    if tenant.declarative {
        return Err(AdminError::Conflict(format!(
            "tenant {:?} is managed from manifests (--manifests); change its files instead",
            tenant.name.as_str()
        )));
    }
    Ok(())
}

fn tenant_name(name: &str) -> AdminResult<TenantName> {
    TenantName::new(name).map_err(|e| AdminError::BadRequest(e.to_string()))
}

// ---- operator routes -----------------------------------------------------------

/// Body of `POST /admin/v1/tenants`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTenant {
    name: String,
    display_name: Option<String>,
    #[serde(default)]
    quotas: QuotaOverrides,
}

/// `POST /admin/v1/tenants`.
pub async fn create_tenant(
    State(app): State<Arc<App>>,
    operator: AdminResult<Operator>,
    JsonBody(body): JsonBody<CreateTenant>,
) -> AdminResult {
    operator?;
    let name = tenant_name(&body.name)?;
    if let Some(display_name) = &body.display_name {
        manifests::check_display_name(display_name)
            .map_err(|e| AdminError::BadRequest(format!("displayName: {e}")))?;
    }
    body.quotas.check().map_err(AdminError::BadRequest)?;
    let created = app
        .store
        .create_tenant(&name, body.display_name.as_deref(), body.quotas)
        .await?;
    tracing::info!(tenant = %name, "tenant created");
    Ok((StatusCode::CREATED, Json(CreatedTenantJson::from(created))).into_response())
}

/// `GET /admin/v1/tenants`.
pub async fn list_tenants(State(app): State<Arc<App>>, _: Operator) -> AdminResult {
    let mut tenants: Vec<TenantJson> = shown(app.store.list_tenants().await?);
    let storage = app.store.storage_by_tenant().await?;
    for tenant in &mut tenants {
        tenant.usage = Some(UsageJson {
            actions: tenant.actions,
            storage_bytes: storage.get(&tenant.name).copied().unwrap_or(0),
            in_flight: app
                .tenant(tenant.name.as_str())
                .map_or(0, |t| app.in_flight(&t)),
        });
    }
    Ok(Json(json!({ "tenants": tenants })).into_response())
}

/// Body of `PATCH /admin/v1/tenants/{tenant}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateTenant {
    suspended: Option<bool>,
    quotas: Option<QuotaOverrides>,
    failure_word: Option<String>,
}

/// `PATCH /admin/v1/tenants/{tenant}`: the operator suspends, resumes and sets
/// quotas; the tenant (or operator) sets the failure word.
pub async fn update_tenant(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    operator: AdminResult<Operator>,
    admin: AdminResult<TenantAdmin>,
    JsonBody(body): JsonBody<UpdateTenant>,
) -> AdminResult {
    // Which credential the route needs depends on what the body changes.
    if body.suspended.is_some() || body.quotas.is_some() {
        operator?;
    }
    if let Some(quotas) = &body.quotas {
        quotas.check().map_err(AdminError::BadRequest)?;
    }
    let TenantAdmin(found) = admin?;
    if let Some(word) = &body.failure_word {
        not_declarative(&found)?;
        check_failure_word(word).map_err(AdminError::BadRequest)?;
        app.store.set_failure_word(&found.name, word).await?;
    }
    if body.suspended.is_some() || body.quotas.is_some() {
        app.store
            .update_tenant(&found.name, body.suspended, body.quotas)
            .await?;
    }
    let updated = app
        .tenant(found.name.as_str())
        .ok_or_else(|| AdminError::NotFound(format!("unknown tenant {tenant:?}")))?;
    Ok(Json(tenant_view(&updated)).into_response())
}

/// `GET /admin/v1/tenants/{tenant}`.
pub async fn get_tenant(
    State(app): State<Arc<App>>,
    TenantAdmin(found): TenantAdmin,
) -> AdminResult {
    let mut view = tenant_view(&found);
    // What the quotas are set against (in flight: on this replica).
    view["usage"] = json!(UsageJson {
        actions: u32::try_from(found.actions.len()).unwrap_or(u32::MAX),
        storage_bytes: app.store.storage_used(&found.name).await?,
        in_flight: app.in_flight(&found),
    });
    Ok(Json(view).into_response())
}

fn tenant_view(tenant: &Tenant) -> serde_json::Value {
    json!({
        "name": tenant.name,
        "displayName": tenant.display_name,
        "failureWord": tenant.failure_word,
        "suspended": tenant.suspended,
        "declarative": tenant.declarative,
        "quotas": tenant.quotas,
        "actions": tenant.actions.len(),
    })
}

/// `DELETE /admin/v1/tenants/{tenant}`.
pub async fn delete_tenant(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    _: Operator,
) -> AdminResult {
    app.delete_tenant(&tenant_name(&tenant)?).await?;
    tracing::info!(tenant, "tenant deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- tenant routes ---------------------------------------------------------------

/// `POST /admin/v1/tenants/{tenant}/actions`, multipart with `manifest` and `module`.
pub async fn deploy(
    State(app): State<Arc<App>>,
    TenantAdmin(found): TenantAdmin,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AdminResult {
    not_declarative(&found)?;
    let mut multipart = multipart.map_err(|e| {
        AdminError::BadRequest(format!(
            "expected multipart/form-data with parts `manifest` and `module`: {}",
            e.body_text()
        ))
    })?;
    let (mut manifest, mut module) = (None, None);
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or("").to_owned();
        match name.as_str() {
            "manifest" => match read_manifest_part(field).await? {
                Some(text) => manifest = Some(text),
                None => {
                    drain(&mut multipart).await;
                    return Err(AdminError::TooLarge(format!(
                        "manifest: {}",
                        manifests::manifest_too_large()
                    )));
                }
            },
            "module" => module = Some(field.bytes().await.map_err(multipart_error)?.to_vec()),
            other => {
                return Err(AdminError::BadRequest(format!(
                    "unexpected part {other:?}; send `manifest` (TOML) and `module` (the .wasm bytes)"
                )));
            }
        }
    }
    let manifest =
        manifest.ok_or_else(|| AdminError::BadRequest("missing part `manifest`".into()))?;
    let module = module.ok_or_else(|| AdminError::BadRequest("missing part `module`".into()))?;
    let deployed = app.deploy(&found, &app.ceilings, &manifest, module).await?;
    tracing::info!(tenant = %found.name, action = deployed.name, version = deployed.version, "deployed");
    Ok((StatusCode::CREATED, Json(deployed)).into_response())
}

/// Reads the `manifest` part chunk by chunk; `None` as soon as it passes
/// [`manifests::MAX_MANIFEST_BYTES`], so an oversized manifest is never
/// buffered whole (the rest of the part is read and dropped).
async fn read_manifest_part(
    mut field: axum::extract::multipart::Field<'_>,
) -> AdminResult<Option<String>> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if bytes.len() + chunk.len() > manifests::MAX_MANIFEST_BYTES {
            while let Ok(Some(_)) = field.chunk().await {}
            return Ok(None);
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| AdminError::BadRequest("manifest: the part is not UTF-8 text".into()))
}

/// Reads and drops the rest of a refused upload, in constant memory and within
/// the request body limit, so the client reads the refusal rather than a
/// connection reset in the middle of sending.
async fn drain(multipart: &mut Multipart) {
    while let Ok(Some(mut field)) = multipart.next_field().await {
        while let Ok(Some(_)) = field.chunk().await {}
    }
}

fn multipart_error(err: axum::extract::multipart::MultipartError) -> AdminError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AdminError::TooLarge(format!("upload too large: {}", err.body_text()))
    } else {
        AdminError::BadRequest(format!("malformed multipart body: {}", err.body_text()))
    }
}

/// `GET /admin/v1/tenants/{tenant}/actions`.
pub async fn list_actions(
    State(app): State<Arc<App>>,
    TenantAdmin(found): TenantAdmin,
) -> AdminResult {
    let mut actions: Vec<ActionJson> = shown(app.store.list_actions(&found.name).await?);
    if let Some(provider) = found.provider() {
        for action in actions
            .iter_mut()
            .filter(|a| a.name == provider.name.as_str())
        {
            action.kind = "provider";
            action.endpoints = provider.grants.provider.clone();
        }
    }
    Ok(Json(json!({ "actions": actions })).into_response())
}

/// `GET /admin/v1/tenants/{tenant}/actions/{action}/versions`.
pub async fn list_versions(
    State(app): State<Arc<App>>,
    Path((_, action)): Path<(String, String)>,
    TenantAdmin(found): TenantAdmin,
) -> AdminResult {
    let versions: Vec<VersionJson> = shown(app.store.list_versions(&found.name, &action).await?);
    Ok(Json(json!({ "name": action, "versions": versions })).into_response())
}

/// Body of the rollback route.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    version: u32,
}

/// `POST /admin/v1/tenants/{tenant}/actions/{action}/rollback` `{"version": N}`.
/// The version's module is loaded before the live pointer moves, so a version
/// that cannot run never goes live.
pub async fn rollback(
    State(app): State<Arc<App>>,
    Path((_, action)): Path<(String, String)>,
    admin: AdminResult<TenantAdmin>,
    JsonBody(body): JsonBody<Rollback>,
) -> AdminResult {
    let TenantAdmin(found) = admin?;
    not_declarative(&found)?;
    app.rollback(&found.name, &action, body.version).await?;
    tracing::info!(tenant = %found.name, action, version = body.version, "rolled back");
    Ok(Json(json!({ "name": action, "version": body.version })).into_response())
}

/// `DELETE /admin/v1/tenants/{tenant}/actions/{action}`.
pub async fn delete_action(
    State(app): State<Arc<App>>,
    Path((_, action)): Path<(String, String)>,
    TenantAdmin(found): TenantAdmin,
) -> AdminResult {
    not_declarative(&found)?;
    app.delete_action(&found.name, &action).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /admin/v1/tenants/{tenant}/keys`: a new webhook key, shown once.
pub async fn create_key(
    State(app): State<Arc<App>>,
    TenantAdmin(found): TenantAdmin,
) -> AdminResult {
    not_declarative(&found)?;
    let (info, key) = app.store.create_webhook_key(&found.name).await?;
    let body =
        json!({ "id": info.id, "apiKey": key, "hint": info.hint, "createdAt": info.created_at });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `POST /admin/v1/tenants/{tenant}/admin-token`: replaces the tenant's
/// admin token with a new one, shown once. The old token stops working at
/// once, and run log streams opened with it close within a second.
///
/// Refused for a tenant managed from manifests: its token comes from
/// `DOCKET_ADMIN_TOKEN_<TENANT>` or the hash file under `--data-dir`, and a
/// token rotated here would be replaced by that one again at the next start,
/// bringing back the token that was rotated away.
pub async fn rotate_admin_token(
    State(app): State<Arc<App>>,
    TenantAdmin(found): TenantAdmin,
) -> AdminResult {
    if found.declarative {
        return Err(AdminError::Conflict(format!(
            "tenant {name:?} is managed from manifests (--manifests): its admin token comes from \
             {var}, or else from the hash kept in <data-dir>/declarative-keys/{name}.admin-token.sha256; \
             set {var} to a new value, or delete that file, and restart to replace it",
            name = found.name.as_str(),
            var = found.name.admin_token_env_var(),
        )));
    }
    let token = app.store.rotate_admin_token(&found.name).await?;
    app.reconcile_tenants();
    Ok((StatusCode::CREATED, Json(json!({ "adminToken": token }))).into_response())
}

/// `GET /admin/v1/tenants/{tenant}/keys`.
pub async fn list_keys(
    State(app): State<Arc<App>>,
    TenantAdmin(found): TenantAdmin,
) -> AdminResult {
    let keys: Vec<KeyJson> = shown(app.store.list_webhook_keys(&found.name).await?);
    Ok(Json(json!({ "keys": keys })).into_response())
}

/// `DELETE /admin/v1/tenants/{tenant}/keys/{id}`.
pub async fn revoke_key(
    State(app): State<Arc<App>>,
    Path((_, id)): Path<(String, String)>,
    TenantAdmin(found): TenantAdmin,
) -> AdminResult {
    not_declarative(&found)?;
    app.store.revoke_webhook_key(&found.name, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Body of `PUT /admin/v1/tenants/{tenant}/secrets/{name}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutSecret {
    value: String,
}

/// `PUT /admin/v1/tenants/{tenant}/secrets/{name}` `{"value": "…"}`: sets a
/// secret, stored encrypted; no route ever returns it.
pub async fn put_secret(
    State(app): State<Arc<App>>,
    Path((_, name)): Path<(String, String)>,
    admin: AdminResult<TenantAdmin>,
    JsonBody(body): JsonBody<PutSecret>,
) -> AdminResult {
    let TenantAdmin(found) = admin?;
    secrets::check_secret_name(&name).map_err(AdminError::BadRequest)?;
    if body.value.chars().count() > secrets::MAX_SECRET_CHARS {
        return Err(AdminError::BadRequest(format!(
            "invalid value: secret values are limited to {} characters",
            secrets::MAX_SECRET_CHARS
        )));
    }
    app.store
        .put_secret(&found.name, &name, body.value.as_bytes())
        .await?;
    tracing::info!(tenant = %found.name, secret = name, "secret set");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /admin/v1/tenants/{tenant}/secrets/{name}`.
pub async fn delete_secret(
    State(app): State<Arc<App>>,
    Path((_, name)): Path<(String, String)>,
    TenantAdmin(found): TenantAdmin,
) -> AdminResult {
    app.store.delete_secret(&found.name, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /admin/v1/tenants/{tenant}/secrets`: names and times, never values.
pub async fn list_secrets(
    State(app): State<Arc<App>>,
    TenantAdmin(found): TenantAdmin,
) -> AdminResult {
    let secrets: Vec<SecretJson> = shown(app.store.list_secrets(&found.name).await?);
    Ok(Json(json!({ "secrets": secrets })).into_response())
}

/// `GET /admin/v1/openapi.json`.
pub async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
}

/// Anything else under `/admin/v1`.
pub async fn no_admin_route() -> AdminError {
    AdminError::NotFound("no such admin route; see /admin/v1/openapi.json".into())
}
