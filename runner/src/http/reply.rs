//! Response shapes. Every webhook error carries the tenant's status word and an
//! `error` message (DESIGN §1); this module is the one place that builds them.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

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
