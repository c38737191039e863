//! Response shapes. Every webhook error carries the tenant's status word and an
//! `error` message (`docs/architecture.md#the-protocol-mapping`); this module
//! is the one place that builds them.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::engine::{FailureKind, InvokeError, LimitHit, Outcome};
use crate::limits::Limits;
use crate::manifest::DEFAULT_FAILURE_WORD;

/// The Document Webhooks API version Docket speaks.
pub const WEBHOOK_VERSION: &str = "1.2";

/// The response header carrying Docket's id for an invocation.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// A webhook error response: `{"status": <failure word>, "error": <message>}`.
pub fn failure(status: StatusCode, failure_word: &str, message: impl Into<String>) -> Response {
    let body = json!({ "status": failure_word, "error": message.into() });
    (status, Json(body)).into_response()
}

/// Why a webhook request got no invocation, worded for Workfront. Each one
/// knows its status; [`WebhookError`] adds the failure word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No tenant by that name.
    #[error("unknown tenant {0:?}")]
    UnknownTenant(String),
    /// A missing or wrong `apiKey`; says nothing about the tenant's keys.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// The operator suspended the tenant.
    #[error("this tenant is suspended")]
    Suspended,
    /// A required query parameter is missing or empty.
    #[error("missing query parameter `{0}`")]
    MissingParameter(&'static str),
    /// No live action by that name.
    #[error("unknown action {0:?}")]
    UnknownAction(String),
    /// A Workfront endpoint Docket does not serve.
    #[error("Docket does not implement the `{0}` endpoint; it serves serviceInfo and customAction")]
    NotImplemented(String),
    /// A name no Workfront endpoint has.
    #[error("no endpoint `{0}`")]
    UnknownEndpoint(String),
    /// A method other than GET.
    #[error("the webhook endpoints answer GET only")]
    WrongMethod,
    /// The tenant's concurrency quota is used up.
    #[error("too many of this tenant's actions are running at once (limit {0}); try again shortly")]
    TooManyRunning(u32),
    /// The tenant's guest-memory budget stayed taken.
    #[error("{0}")]
    MemoryBudget(crate::app::MemoryRefused),
    /// The live version could not be loaded (logged with the cause).
    #[error("action {name:?} is not available (request id {request_id})")]
    Unavailable {
        /// The action.
        name: String,
        /// The request id, to find the log line.
        request_id: String,
    },
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::UnknownTenant(_) | Refusal::UnknownAction(_) | Refusal::UnknownEndpoint(_) => {
                StatusCode::NOT_FOUND
            }
            Refusal::Unauthenticated(_) | Refusal::Suspended => StatusCode::FORBIDDEN,
            Refusal::MissingParameter(_) => StatusCode::BAD_REQUEST,
            Refusal::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Refusal::WrongMethod => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::TooManyRunning(_) | Refusal::MemoryBudget(_) => StatusCode::TOO_MANY_REQUESTS,
            Refusal::Unavailable { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A webhook error: the one place webhook refusals become responses, with
/// the status word the tenant chose (the default one until the caller is
/// authenticated, so nothing of the tenant shows before that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookError {
    /// `"failure"` or the tenant's word.
    pub word: String,
    /// What went wrong.
    pub refusal: Refusal,
}

impl WebhookError {
    /// A refusal in the default failure word.
    pub fn anonymous(refusal: Refusal) -> Self {
        Self {
            word: DEFAULT_FAILURE_WORD.to_owned(),
            refusal,
        }
    }

    /// A refusal in the tenant's failure word.
    pub fn in_word(word: &str, refusal: Refusal) -> Self {
        Self {
            word: word.to_owned(),
            refusal,
        }
    }
}

impl IntoResponse for WebhookError {
    fn into_response(self) -> Response {
        let mut response = failure(self.refusal.status(), &self.word, self.refusal.to_string());
        if self.refusal.status() == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
        }
        response
    }
}

/// Attaches the request id header.
pub fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

/// Anything outside the known routes.
pub async fn no_route() -> Response {
    failure(
        StatusCode::NOT_FOUND,
        DEFAULT_FAILURE_WORD,
        "no such route; the webhook routes are /t/{tenant}/serviceInfo and /t/{tenant}/customAction",
    )
}

/// What Workfront is told about one invocation of action `name`: the HTTP status
/// and the JSON body (the table in
/// `docs/architecture.md#status-and-body-for-each-outcome`). Shared by the webhook and `docket
/// invoke`, so both word every outcome alike. Docket's own errors (limits,
/// traps, bad responses) end with the request id when there is one.
pub fn invocation_answer(
    failure_word: &str,
    name: &str,
    limits: &Limits,
    request_id: Option<&str>,
    result: Result<Outcome, InvokeError>,
) -> (StatusCode, serde_json::Value) {
    let failure =
        |status, message: String| (status, json!({ "status": failure_word, "error": message }));
    let (status, message) = match result {
        Ok(Outcome::Success { message }) => {
            let mut body = json!({ "status": "success" });
            if let Some(message) = message {
                body["message"] = json!(message);
            }
            return (StatusCode::OK, body);
        }
        Ok(Outcome::Failure { kind, message }) => {
            let status = match kind {
                FailureKind::Forbidden => StatusCode::FORBIDDEN,
                FailureKind::NotFound => StatusCode::NOT_FOUND,
                FailureKind::Failed => StatusCode::INTERNAL_SERVER_ERROR,
            };
            return failure(status, message);
        }
        Err(InvokeError::Limit(hit)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("action {name:?} {}", describe_limit(hit, limits)),
        ),
        Err(InvokeError::Trap(trap)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("action {name:?} crashed: {trap}"),
        ),
        Err(InvokeError::BadResponse(why)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("action {name:?} gave an invalid response: {why}"),
        ),
        Err(InvokeError::Busy) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is at capacity; try the action again shortly".to_owned(),
        ),
        Err(InvokeError::Host(_)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("action {name:?} could not be run because of an internal error"),
        ),
    };
    match request_id {
        Some(id) => failure(status, format!("{message} (request id {id})")),
        None => failure(status, message),
    }
}

fn describe_limit(hit: LimitHit, limits: &Limits) -> String {
    match hit {
        LimitHit::Timeout => format!(
            "was stopped at its time limit (timeout-ms = {})",
            limits.timeout_ms
        ),
        LimitHit::Memory => format!(
            "was stopped at its memory limit (memory-mb = {})",
            limits.memory_mb
        ),
        LimitHit::Fuel => format!("ran out of fuel (fuel = {})", limits.fuel),
        LimitHit::Output => format!(
            "was stopped at its output limit (max-output-kb = {})",
            limits.max_output_kb
        ),
        LimitHit::Stack => "was stopped at its stack limit (recursion too deep)".to_owned(),
        LimitHit::Table => "was stopped at its table limit (too many table elements)".to_owned(),
    }
}
