//! What Workfront is answered, worded in one place for every endpoint and
//! every caller (the webhook, `docket invoke`, `docket replay`): the status
//! and JSON body of an invocation's result, and of each refusal before a run
//! (`docs/architecture.md#status-and-body-for-each-outcome`). The HTTP layer
//! only turns an [`Answer`] into a response.

use crate::app::MemoryRefused;
use crate::engine::{FailureKind, InvokeError, LimitHit, Outcome};
use crate::limits::Limits;
use crate::manifest::DEFAULT_FAILURE_WORD;
use http::StatusCode;
use serde_json::{Value, json};

/// The status and JSON body Workfront gets.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// `{"status":"success",…}` or `{"status":<failure word>,"error":…}`;
    /// what the run log records when the answer is `raw`.
    pub body: Value,
    /// A body that is not JSON (a provider's thumbnail), sent instead of `body`.
    pub raw: Option<RawBody>,
}

/// A non-JSON answer body.
#[derive(Debug, Clone, PartialEq)]
pub struct RawBody {
    /// Its `Content-Type`.
    pub content_type: String,
    /// The bytes.
    pub bytes: bytes::Bytes,
}

impl Answer {
    /// A failure answer: `{"status": <failure word>, "error": <message>}`.
    pub fn failure(status: StatusCode, failure_word: &str, message: impl Into<String>) -> Self {
        let body = json!({ "status": failure_word, "error": message.into() });
        Self {
            status,
            body,
            raw: None,
        }
    }

    /// Whether the caller should retry shortly (429: `Retry-After: 1`).
    pub fn retry_soon(&self) -> bool {
        self.status == StatusCode::TOO_MANY_REQUESTS
    }
}

/// Why a request got no invocation, worded for Workfront.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No tenant by that name.
    #[error("unknown tenant {0:?}")]
    UnknownTenant(String),
    /// A missing or wrong `apiKey`; says nothing about the tenant's keys.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// An access token could not be checked (the store failed); retried,
    /// it may pass.
    #[error("the access token cannot be checked right now; try again shortly")]
    CredentialsUnavailable,
    /// The operator suspended the tenant.
    #[error("this tenant is suspended")]
    Suspended,
    /// A required query parameter is missing or empty.
    #[error("missing query parameter `{0}`")]
    MissingParameter(&'static str),
    /// No live action by that name.
    #[error("unknown action {0:?}")]
    UnknownAction(String),
    /// A document endpoint the tenant's provider does not export.
    #[error("this integration's document provider does not implement the `{0}` endpoint")]
    NotImplemented(String),
    /// A Workfront endpoint name no page defines (`proxy`, `notification`).
    #[error("no Workfront page defines the `{0}` endpoint, so Docket does not answer it")]
    UndefinedEndpoint(String),
    /// A document endpoint of a tenant without a provider.
    #[error(
        "this integration has no document provider, so it does not implement the `{0}` endpoint; \
         it serves serviceInfo and customAction"
    )]
    NoProvider(&'static str),
    /// A name no Workfront endpoint has.
    #[error("no endpoint `{0}`")]
    UnknownEndpoint(String),
    /// A method Workfront does not call the endpoint with.
    #[error("{0}")]
    WrongMethod(&'static str),
    /// A required query parameter is not a number.
    #[error("query parameter `{0}` must be a whole number")]
    NotANumber(&'static str),
    /// An upload's `Content-Length` is over what one transfer may carry now.
    #[error(
        "the upload is {0} bytes at most (--max-transfer-mb, or what is left of today's transfer limit)"
    )]
    BodyTooLarge(u64),
    /// The tenant's transfer allowance for today is used up.
    #[error(
        "this integration's uploads and downloads are over today's limit of {0} MiB; try again tomorrow (UTC)"
    )]
    TransferQuota(u64),
    /// The tenant's concurrency quota is used up.
    #[error("too many of this tenant's actions are running at once (limit {0}); try again shortly")]
    TooManyRunning(u32),
    /// The tenant's (or the server's) guest-memory budget stayed taken.
    #[error("{0}")]
    MemoryBudget(MemoryRefused),
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
    /// The HTTP status Workfront gets for it.
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::UnknownTenant(_) | Refusal::UnknownAction(_) | Refusal::UnknownEndpoint(_) => {
                StatusCode::NOT_FOUND
            }
            Refusal::Unauthenticated(_) | Refusal::Suspended => StatusCode::FORBIDDEN,
            Refusal::MissingParameter(_) | Refusal::NotANumber(_) => StatusCode::BAD_REQUEST,
            Refusal::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::NotImplemented(_) | Refusal::NoProvider(_) | Refusal::UndefinedEndpoint(_) => {
                StatusCode::NOT_IMPLEMENTED
            }
            Refusal::WrongMethod(_) => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::TooManyRunning(_) | Refusal::MemoryBudget(_) | Refusal::TransferQuota(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Refusal::Unavailable { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            Refusal::CredentialsUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// A refusal with the status word it is answered in: the tenant's once the
/// caller is authenticated, the default one before, so nothing of the
/// tenant shows to a caller without its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// `"failure"` or the tenant's word.
    pub word: String,
    /// What went wrong.
    pub refusal: Refusal,
}

impl Refused {
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

    /// What Workfront gets.
    pub fn answer(&self) -> Answer {
        Answer::failure(self.refusal.status(), &self.word, self.refusal.to_string())
    }
}

/// What Workfront is told about one invocation of action `name`. Docket's
/// own errors (limits, traps, bad responses) end with the request id when
/// there is one.
pub fn invocation_answer(
    failure_word: &str,
    name: &str,
    limits: &Limits,
    request_id: Option<&str>,
    result: Result<Outcome, InvokeError>,
) -> Answer {
    let (status, message) = match result {
        Ok(Outcome::Success { message }) => {
            let mut body = json!({ "status": "success" });
            if let Some(message) = message {
                body["message"] = json!(message);
            }
            return Answer {
                status: StatusCode::OK,
                body,
                raw: None,
            };
        }
        // An action never answers like a provider (the engine refuses the
        // mix), so this is only ever a bare success.
        Ok(Outcome::Provided(_)) => {
            return Answer {
                status: StatusCode::OK,
                body: json!({ "status": "success" }),
                raw: None,
            };
        }
        Ok(Outcome::Failure { kind, message }) => {
            let status = match kind {
                FailureKind::Forbidden => StatusCode::FORBIDDEN,
                FailureKind::NotFound => StatusCode::NOT_FOUND,
                FailureKind::Failed => StatusCode::INTERNAL_SERVER_ERROR,
            };
            return Answer::failure(status, failure_word, message);
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
        Some(id) => Answer::failure(status, failure_word, format!("{message} (request id {id})")),
        None => Answer::failure(status, failure_word, message),
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
