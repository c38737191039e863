//! Workfront's Document Webhooks endpoints for one tenant: `serviceInfo` lists the
//! tenant's actions, `customAction` runs one (through [`crate::invocation`],
//! the path `docket invoke` takes too). Refusals are [`WebhookError`]s.

use super::reply::{Refusal, WEBHOOK_VERSION, WebhookError, invocation_answer, with_request_id};
use crate::app::App;
use crate::engine::{ActionRequest, Invocation, InvokeError, LimitHit, Outcome};
use crate::invocation;
use crate::limits::Limits;
use crate::metrics::Refused;
use crate::registry::{
    ActionVersion, InvocationDetail, RecordedAnswer, RecordedInput, Tenant, Timing, keys,
};
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use tracing::Instrument;

mod record;

use record::{CancelledRecord, Finished, limit_kind, log_invocation, outcome_words};

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
pub async fn service_info(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
) -> Result<Response, WebhookError> {
    let tenant = active_tenant(&app, &tenant)?;
    let actions: Vec<_> = tenant
        .actions
        .values()
        .map(|a| json!({ "name": a.name, "displayName": a.display_name }))
        .collect();
    Ok(Json(json!({
        "webhookVersion": WEBHOOK_VERSION,
        "version": env!("CARGO_PKG_VERSION"),
        "publisher": "Docket",
        "availableEndpoints": ["serviceInfo", "customAction"],
        "customActions": actions,
    }))
    .into_response())
}

/// `GET /t/{tenant}/customAction?name=&documentId=&documentVersionId=`.
pub async fn custom_action(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let request_id = new_request_id();
    let response = run_custom_action(&app, &tenant, &headers, query.as_deref(), &request_id)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    with_request_id(response, &request_id)
}

/// The invocation path's span carries tenant, request id, action and version,
/// so every line logged below it (the engine's, the capabilities') has them.
#[tracing::instrument(
    name = "custom_action",
    skip_all,
    fields(tenant = tenant_name, request_id, action, version, outcome)
)]
async fn run_custom_action(
    app: &App,
    tenant_name: &str,
    headers: &HeaderMap,
    query: Option<&str>,
    request_id: &str,
) -> Result<Response, WebhookError> {
    let Some(tenant) = app.tenant(tenant_name) else {
        return Err(WebhookError::anonymous(Refusal::UnknownTenant(
            tenant_name.to_owned(),
        )));
    };
    // Until the caller is authenticated nothing of the tenant's, not even its
    // failure word, is shown.
    authenticate(&tenant, headers).map_err(WebhookError::anonymous)?;
    // Only an authenticated caller's trace becomes this span's parent, and
    // before any child span starts.
    crate::telemetry::adopt_remote_parent(&tracing::Span::current(), headers);
    let word = tenant.failure_word.as_str();
    let refused = |refusal| WebhookError::in_word(word, refusal);
    if tenant.suspended {
        return Err(refused(Refusal::Suspended));
    }
    let mut params = parse_query(query.unwrap_or(""));
    let mut required = Vec::with_capacity(REQUIRED_PARAMS.len());
    for key in REQUIRED_PARAMS {
        match params.remove(key).filter(|v| !v.is_empty()) {
            Some(value) => required.push(value),
            None => return Err(refused(Refusal::MissingParameter(key))),
        }
    }
    let [name, document_id, document_version_id]: [String; 3] =
        required.try_into().expect("three required parameters");
    let Some(action) = tenant.actions.get(name.as_str()).cloned() else {
        return Err(refused(Refusal::UnknownAction(name)));
    };
    let span = tracing::Span::current();
    span.record("request_id", request_id);
    span.record("action", name.as_str());
    span.record("version", action.version);
    let series = app.metrics.series(tenant.name.as_str(), &name);
    let Some(admitted) = app.try_enter(&tenant) else {
        app.metrics.refused(&series, Refused::Concurrency);
        return Err(refused(Refusal::TooManyRunning(
            tenant.quotas.max_concurrency,
        )));
    };
    let _in_flight = app.metrics.enter(&series);
    let admitted_at = std::time::Instant::now();
    let loading = tracing::debug_span!("module_load", source = tracing::field::Empty);
    let module = match app.module(&tenant.name, &action.module) {
        Some(module) => {
            loading.record("source", "memory");
            module
        }
        // Only after a failed load at start; try again rather than fail forever.
        None => app
            .ensure_module(&tenant.name, &action.module)
            .instrument(loading.clone())
            .await
            .map_err(|err| {
                tracing::error!(tenant = %tenant.name, action = %name, error = %err, "live version cannot be loaded");
                refused(Refusal::Unavailable {
                    name: name.clone(),
                    request_id: request_id.to_owned(),
                })
            })?,
    };
    drop(loading);
    let tier = module.tier().to_string();
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
    let memory_mb = app.ceilings.clamp(&action.limits).memory_mb;
    let _memory = admitted.reserve_memory(memory_mb).await.map_err(|budget| {
        app.metrics.refused(&series, Refused::Memory);
        refused(Refusal::MemoryBudget(budget))
    })?;
    let started_ms = crate::registry::store::now_ms();
    let input = if action.grants.skip_input_recording {
        None
    } else {
        RecordedInput::of(&request)
    };
    let cancelled = CancelledRecord {
        app,
        tenant: &tenant,
        action: &action,
        request_id,
        started_ms,
        started: std::time::Instant::now(),
        queued: admitted_at.elapsed(),
        series,
        input,
        armed: true,
    };
    let planned = invocation::plan(
        &app.services,
        &app.ceilings,
        module,
        &action.limits,
        &action.grants,
        request,
    );
    let handed_over = std::time::Instant::now();
    let (limits, invocation) = app.run_guest(&admitted, planned).await;
    let (series, admitted_wait, input) = cancelled.finished();
    // Waiting for a WebAssembly thread is queueing too: the engine's clock
    // starts once the guest's task runs.
    let queued = admitted_wait + handed_over.elapsed().saturating_sub(invocation.duration);
    let Invocation {
        result,
        duration,
        instantiate,
        stderr_tail,
        stderr,
        outbound,
    } = invocation;
    let (outcome, limit) = outcome_words(&result);
    let kind = limit.map(limit_kind);
    let limit = limit.map(LimitHit::to_string);
    tracing::Span::current().record("outcome", outcome);
    app.metrics
        .invoked(&series, outcome, kind, duration, Some(queued));
    app.metrics.instantiated(&series, instantiate);
    let (status, body) = answer(word, &action, &limits, request_id, result);
    let finished = Finished {
        outcome,
        limit,
        ms: duration.as_millis() as u64,
        stderr_tail,
        stderr,
        detail: InvocationDetail {
            timing: Timing::of(queued, instantiate, duration.saturating_sub(instantiate)),
            tier: Some(tier),
            outbound,
            answer: Some(RecordedAnswer::new(status.as_u16(), &body)),
            input,
        },
    };
    log_invocation(app, &tenant, &action, request_id, started_ms, finished);
    Ok((status, Json(body)).into_response())
}

/// The tenant, if it exists and is not suspended.
fn active_tenant(app: &App, name: &str) -> Result<Arc<Tenant>, WebhookError> {
    let Some(tenant) = app.tenant(name) else {
        return Err(WebhookError::anonymous(Refusal::UnknownTenant(
            name.to_owned(),
        )));
    };
    if tenant.suspended {
        return Err(WebhookError::in_word(
            &tenant.failure_word,
            Refusal::Suspended,
        ));
    }
    Ok(tenant)
}

/// Any other endpoint under a tenant: 501 for the Workfront endpoints Docket does
/// not implement, 404 for names Workfront does not define either.
pub async fn other_endpoint(
    State(app): State<Arc<App>>,
    Path((tenant, endpoint)): Path<(String, String)>,
) -> WebhookError {
    let tenant = match active_tenant(&app, &tenant) {
        Ok(tenant) => tenant,
        Err(refused) => return refused,
    };
    let refusal = if UNIMPLEMENTED_ENDPOINTS.contains(&endpoint.as_str()) {
        Refusal::NotImplemented(endpoint)
    } else {
        Refusal::UnknownEndpoint(endpoint)
    };
    WebhookError::in_word(&tenant.failure_word, refusal)
}

/// A webhook route called with a method Workfront never uses.
pub async fn wrong_method() -> WebhookError {
    WebhookError::anonymous(Refusal::WrongMethod)
}

/// Checks the `apiKey` header. The messages say what is wrong with the request,
/// never anything about the tenant's keys.
fn authenticate(tenant: &Tenant, headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(value) = headers.get("apiKey") else {
        return Err(Refusal::Unauthenticated("missing apiKey header"));
    };
    let Ok(presented) = value.to_str() else {
        return Err(Refusal::Unauthenticated("invalid apiKey"));
    };
    if keys::matches_any(&tenant.webhook_keys, presented) {
        Ok(())
    } else {
        Err(Refusal::Unauthenticated("invalid apiKey"))
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

/// Workfront's answer to an invocation's result (docs/architecture.md#the-protocol-mapping).
fn answer(
    word: &str,
    action: &ActionVersion,
    limits: &Limits,
    request_id: &str,
    result: Result<Outcome, InvokeError>,
) -> (StatusCode, serde_json::Value) {
    if let Err(InvokeError::Host(why)) = &result {
        tracing::error!(request_id, error = %why, "host error while running an action");
    }
    invocation_answer(word, action.name.as_str(), limits, Some(request_id), result)
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
