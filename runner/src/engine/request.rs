//! What goes into an invocation and what comes out, independent of the ABI.

use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

use super::limiter::LimitHit;
use crate::capabilities::outbound::OutboundCall;

/// The request an action receives. Serialized as-is for the command ABI (JSON on
/// stdin), converted field by field to the WIT `request` record for components.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionRequest {
    /// The action name Workfront sent.
    pub action: String,
    /// The Workfront document id.
    pub document_id: String,
    /// The Workfront document version id.
    pub document_version_id: String,
    /// The user: in OAuth2 mode the one the access token was issued to, in
    /// ApiKey mode the `username` header (empty when absent).
    pub username: String,
    /// Whether `username` was proven by the user's sign-in at the tenant's
    /// identity provider (OAuth2 mode), rather than only claimed.
    pub username_verified: bool,
    /// Query parameters other than `name`, `documentId` and `documentVersionId`.
    pub params: BTreeMap<String, String>,
    /// The manifest's `[config]` table.
    pub config: BTreeMap<String, String>,
    /// The tenant secrets the manifest grants that are set (`[capabilities] secrets`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, String>,
    /// The tenant the action belongs to.
    pub tenant: String,
    /// Docket's id for this invocation.
    pub request_id: String,
    /// For a document provider: the endpoint called and its parameters
    /// (flattened into the command ABI's JSON); `None` for an action.
    #[serde(flatten)]
    pub provider: Option<super::provider::call::ProviderCall>,
    /// For a provider's `download` or `upload`: the streamed body.
    #[serde(skip)]
    pub body: super::provider::body::BodyChannel,
}

/// The three ways an action may say no, each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The user may not do this: 403.
    Forbidden,
    /// Something named does not exist: 404.
    NotFound,
    /// Anything else: 500.
    Failed,
}

impl FailureKind {
    /// Parses the command ABI's `kind` field.
    pub fn parse(kind: &str) -> Option<Self> {
        match kind {
            "forbidden" => Some(Self::Forbidden),
            "not-found" => Some(Self::NotFound),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// An action ran to completion and gave an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It succeeded, optionally with a message for the user.
    Success {
        /// Shown to the user when present.
        message: Option<String>,
    },
    /// A document provider answered its endpoint.
    Provided(super::provider::call::Provided),
    /// It refused or failed, with a message for the user.
    Failure {
        /// Which of the three failures.
        kind: FailureKind,
        /// Shown to the user.
        message: String,
    },
}

/// An action did not give an answer: Docket stopped it or could not make sense of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The guest ran into one of its limits and was stopped.
    #[error("exceeded its {0}")]
    Limit(LimitHit),
    /// The guest trapped (a bug in the action: `unreachable`, out-of-bounds access, a panic…).
    #[error("trapped: {0}")]
    Trap(String),
    /// The guest's answer broke the contract (e.g. stdout is not a JSON response).
    #[error("gave an invalid response: {0}")]
    BadResponse(String),
    /// Every instance slot is in use; the caller should try again shortly.
    #[error("could not start: the server is at its instance capacity")]
    Busy,
    /// Docket itself failed while running the guest.
    #[error("could not run: {0}")]
    Host(String),
}

/// The record of one invocation.
#[derive(Debug)]
pub struct Invocation {
    /// The answer, or why there is none.
    pub result: Result<Outcome, InvokeError>,
    /// Wall-clock time from store creation to the answer.
    pub duration: Duration,
    /// How much of `duration` instantiation took (start functions
    /// included); the rest was the run. All of it when the guest never ran.
    pub instantiate: Duration,
    /// The last line the guest wrote to stderr, for the server's log line.
    pub stderr_tail: Option<String>,
    /// The first and last 4 KiB of what the guest wrote to stderr, for the
    /// invocation log.
    pub stderr: Option<String>,
    /// The outbound requests it made, for the invocation log.
    pub outbound: Vec<OutboundCall>,
}
