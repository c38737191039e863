//! Workfront's Document Webhooks endpoints for one tenant: `serviceInfo` lists the
//! tenant's actions, `customAction` runs one.

use super::reply::{WEBHOOK_VERSION, failure, invocation_answer, with_request_id};
use crate::app::App;
use crate::engine::{ActionRequest, InvokeError, Outcome};
use crate::manifest::DEFAULT_FAILURE_WORD;
use crate::registry::store::NewInvocation;
use crate::registry::{ActionVersion, Tenant, keys};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The query parameters Docket reads itself; every other one reaches the action as `params`.
const REQUIRED_PARAMS: [&str; 3] = ["name", "documentId", "documentVersionId"];

/// Workfront endpoints a full document provider implements and Docket does not.
const UNIMPLEMENTED_ENDPOINTS: [&str; 12] = [
    "metadata",
    "files",
    "search",
    "download",
    "thumbnail",
    "proxy",
    "uploadInit",
    "upload",
    "createFolder",
    "delete",
    "rename",
    "notification",
];

/// `GET /t/{tenant}/serviceInfo`: no authentication, as Workfront calls it while
/// the integration is being set up.
pub async fn service_info(State(app): State<Arc<App>>, Path(tenant): Path<String>) -> Response {
    let Some(tenant) = app.tenant(&tenant) else {
        return unknown_tenant(&tenant);
    };
    if tenant.suspended {
        return suspended(&tenant);
    }
    let actions: Vec<_> = tenant
        .actions
        .values()
        .map(|a| json!({ "name": a.name, "displayName": a.display_name }))
        .collect();
    Json(json!({
        "webhookVersion": WEBHOOK_VERSION,
        "version": env!("CARGO_PKG_VERSION"),
        "publisher": "Docket",
        "availableEndpoints": ["serviceInfo", "customAction"],
        "customActions": actions,
    }))
    .into_response()
}

/// `GET /t/{tenant}/customAction?name=&documentId=&documentVersionId=`.
pub async fn custom_action(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let request_id = new_request_id();
    let response = run_custom_action(&app, &tenant, &headers, query.as_deref(), &request_id).await;
    with_request_id(response, &request_id)
}

async fn run_custom_action(
    app: &App,
    tenant_name: &str,
    headers: &HeaderMap,
    query: Option<&str>,
    request_id: &str,
) -> Response {
    let Some(tenant) = app.tenant(tenant_name) else {
        return unknown_tenant(tenant_name);
    };
    // Until the caller is authenticated nothing of the tenant's, not even its
    // failure word, is shown.
    if let Err(message) = authenticate(&tenant, headers) {
        return failure(StatusCode::FORBIDDEN, DEFAULT_FAILURE_WORD, message);
    }
    let word = tenant.failure_word.as_str();
    if tenant.suspended {
        return suspended(&tenant);
    }
    let mut params = parse_query(query.unwrap_or(""));
    let mut required = Vec::with_capacity(REQUIRED_PARAMS.len());
    for key in REQUIRED_PARAMS {
        match params.remove(key).filter(|v| !v.is_empty()) {
            Some(value) => required.push(value),
            None => {
                let message = format!("missing query parameter `{key}`");
                return failure(StatusCode::BAD_REQUEST, word, message);
            }
        }
    }
    let [name, document_id, document_version_id]: [String; 3] =
        required.try_into().expect("three required parameters");
    let Some(action) = tenant.actions.get(name.as_str()).cloned() else {
        let message = format!("unknown action {name:?}");
        return failure(StatusCode::NOT_FOUND, word, message);
    };
    let Some(_in_flight) = app.try_enter(&tenant) else {
        let message = format!(
            "too many of this tenant's actions are running at once (limit {}); try again shortly",
            tenant.quotas.max_concurrency
        );
        let mut response = failure(StatusCode::TOO_MANY_REQUESTS, word, message);
        response
            .headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        return response;
    };
    let module = match app.module(&tenant.name, &action.module) {
        Some(module) => module,
        // Only after a failed load at start; try again rather than fail forever.
        None => match app.ensure_module(&tenant.name, &action.module).await {
            Ok(module) => module,
            Err(err) => {
                tracing::error!(tenant = %tenant.name, action = %name, error = %err, "live version cannot be loaded");
                let message = format!("action {name:?} is not available (request id {request_id})");
                return failure(StatusCode::INTERNAL_SERVER_ERROR, word, message);
            }
        },
    };
    let request = ActionRequest {
        action: name,
        document_id,
        document_version_id,
        username: header_str(headers, "username")
            .unwrap_or_default()
            .to_owned(),
        params,
        config: action.config.clone(),
        secrets: tenant.secrets.granted(&action.secrets),
        tenant: tenant.name.to_string(),
        request_id: request_id.to_owned(),
    };
    let limits = app.ceilings.clamp(&action.limits);
    let _memory = match app.reserve_memory(&tenant, limits.memory_mb).await {
        Ok(reserved) => reserved,
        Err(refused) => {
            let mut response = failure(StatusCode::TOO_MANY_REQUESTS, word, refused.to_string());
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
            return response;
        }
    };
    let started_ms = crate::registry::store::now_ms();
    let cancelled = CancelledRecord {
        app,
        tenant: &tenant,
        action: &action,
        request_id,
        started_ms,
        started: std::time::Instant::now(),
    };
    let deadline = std::time::Instant::now() + limits.timeout();
    let caps =
        app.services
            .for_invocation(&action.grants, &request.tenant, &request.action, deadline);
    let invocation = app.run_guest(&tenant, module, limits, request, caps).await;
    std::mem::forget(cancelled);
    log_invocation(app, &tenant, &action, request_id, started_ms, &invocation);
    respond(word, &action, request_id, invocation.result)
}

/// Records an invocation whose caller went away (the handler's future was
/// dropped, which cancels the guest): outcome `cancelled`, with how long it
/// ran. Forgotten once the invocation finishes and is logged as usual.
struct CancelledRecord<'a> {
    app: &'a App,
    tenant: &'a Tenant,
    action: &'a ActionVersion,
    request_id: &'a str,
    started_ms: i64,
    started: std::time::Instant,
}

impl Drop for CancelledRecord<'_> {
    fn drop(&mut self) {
        let ms = self.started.elapsed().as_millis() as u64;
        tracing::info!(
            tenant = %self.tenant.name,
            action = %self.action.name,
            version = self.action.version,
            request_id = self.request_id,
            outcome = "cancelled",
            ms,
            "invocation"
        );
        self.app.record(NewInvocation {
            tenant: self.tenant.name.to_string(),
            action: self.action.name.to_string(),
            version: self.action.version,
            request_id: self.request_id.to_owned(),
            at_ms: self.started_ms,
            outcome: "cancelled",
            ms,
            limit_hit: None,
            stderr: None,
        });
    }
}

/// Any other endpoint under a tenant: 501 for the Workfront endpoints Docket does
/// not implement, 404 for names Workfront does not define either.
pub async fn other_endpoint(
    State(app): State<Arc<App>>,
    Path((tenant, endpoint)): Path<(String, String)>,
) -> Response {
    let Some(tenant) = app.tenant(&tenant) else {
        return unknown_tenant(&tenant);
    };
    if tenant.suspended {
        return suspended(&tenant);
    }
    if UNIMPLEMENTED_ENDPOINTS.contains(&endpoint.as_str()) {
        let message = format!(
            "Docket does not implement the `{endpoint}` endpoint; it serves serviceInfo and customAction"
        );
        return failure(StatusCode::NOT_IMPLEMENTED, &tenant.failure_word, message);
    }
    let message = format!("no endpoint `{endpoint}`");
    failure(StatusCode::NOT_FOUND, &tenant.failure_word, message)
}

fn suspended(tenant: &Tenant) -> Response {
    failure(
        StatusCode::FORBIDDEN,
        &tenant.failure_word,
        "this tenant is suspended",
    )
}

/// A webhook route called with a method Workfront never uses.
pub async fn wrong_method() -> Response {
    failure(
        StatusCode::METHOD_NOT_ALLOWED,
        DEFAULT_FAILURE_WORD,
        "the webhook endpoints answer GET only",
    )
}

fn unknown_tenant(name: &str) -> Response {
    let message = format!("unknown tenant {name:?}");
    failure(StatusCode::NOT_FOUND, DEFAULT_FAILURE_WORD, message)
}

/// Checks the `apiKey` header. The messages say what is wrong with the request,
/// never anything about the tenant's keys.
fn authenticate(tenant: &Tenant, headers: &HeaderMap) -> Result<(), &'static str> {
    let Some(value) = headers.get("apiKey") else {
        return Err("missing apiKey header");
    };
    let Ok(presented) = value.to_str() else {
        return Err("invalid apiKey");
    };
    if keys::matches_any(&tenant.webhook_keys, presented) {
        Ok(())
    } else {
        Err("invalid apiKey")
    }
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Parses the query string leniently; for a repeated key the first value wins.
fn parse_query(query: &str) -> BTreeMap<String, String> {
    let mut params = BTreeMap::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        params
            .entry(key.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    params
}

fn new_request_id() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
}

/// Maps an invocation's result to Workfront's response (DESIGN §1's table).
fn respond(
    word: &str,
    action: &ActionVersion,
    request_id: &str,
    result: Result<Outcome, InvokeError>,
) -> Response {
    if let Err(InvokeError::Host(why)) = &result {
        tracing::error!(request_id, error = %why, "host error while running an action");
    }
    let (status, body) = invocation_answer(
        word,
        action.name.as_str(),
        &action.limits,
        Some(request_id),
        result,
    );
    (status, Json(body)).into_response()
}

fn log_invocation(
    app: &App,
    tenant: &Tenant,
    action: &ActionVersion,
    request_id: &str,
    started_ms: i64,
    invocation: &crate::engine::Invocation,
) {
    let (outcome, limit) = match &invocation.result {
        Ok(Outcome::Success { .. }) => ("success", None),
        Ok(Outcome::Failure { .. }) => ("failure", None),
        Err(InvokeError::Limit(hit)) => ("limit", Some(hit.to_string())),
        Err(InvokeError::Trap(_)) => ("trap", None),
        Err(InvokeError::BadResponse(_)) => ("bad-response", None),
        Err(InvokeError::Busy) => ("busy", None),
        Err(InvokeError::Host(_)) => ("host-error", None),
    };
    let ms = invocation.duration.as_millis() as u64;
    tracing::info!(
        tenant = %tenant.name,
        action = %action.name,
        version = action.version,
        request_id,
        outcome,
        limit = limit.as_deref().unwrap_or(""),
        ms,
        stderr = invocation.stderr_tail.as_deref().unwrap_or(""),
        "invocation"
    );
    app.record(NewInvocation {
        tenant: tenant.name.to_string(),
        action: action.name.to_string(),
        version: action.version,
        request_id: request_id.to_owned(),
        at_ms: started_ms,
        outcome,
        ms,
        limit_hit: limit,
        stderr: (outcome != "success")
            .then(|| invocation.stderr.clone())
            .flatten(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bounded fuzzing of the query parser (the manifest parser and modules are
    /// fuzzed in tests/fuzz.rs): arbitrary bytes never panic it, and every
    /// parameter it returns came from the input.
    #[test]
    fn arbitrary_query_strings_never_panic_the_parser() {
        const PIECES: &[&str] = &[
            "name", "=", "&", "%", "%2", "%ZZ", "%00", "+", "é", "%C3%A9", ";", "a", "==",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..5_000 {
            let mut query = String::new();
            for _ in 0..(state % 24) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                query.push_str(PIECES[(state % PIECES.len() as u64) as usize]);
            }
            let params = parse_query(&query);
            assert!(params.len() <= query.matches('&').count() + 1, "{query:?}");
        }
    }

    #[test]
    fn query_keeps_the_first_of_repeated_keys_and_decodes() {
        let params = parse_query("name=a&name=b&folder=My%20Docs&x=1+2");
        assert_eq!(params["name"], "a");
        assert_eq!(params["folder"], "My Docs");
        assert_eq!(params["x"], "1 2");
    }
}
