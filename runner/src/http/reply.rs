//! Webhook responses: an [`Answer`] or a [`Refused`] (worded in
//! [`crate::invocation`], the one place Workfront's answers are worded)
//! becomes an HTTP response here, with the request id header and
//! `Retry-After` on a 429.

use axum::Json;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};

use crate::invocation::{Answer, Refused};
use crate::manifest::DEFAULT_FAILURE_WORD;

/// The Document Webhooks API version Docket speaks.
pub const WEBHOOK_VERSION: &str = "1.2";

/// The response header carrying Docket's id for an invocation.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let retry_soon = self.retry_soon();
        let mut response = match self.raw {
            Some(raw) => {
                let content_type = HeaderValue::from_str(&raw.content_type)
                    .unwrap_or(HeaderValue::from_static("application/octet-stream"));
                let headers = [
                    (axum::http::header::CONTENT_TYPE, content_type),
                    (
                        axum::http::header::X_CONTENT_TYPE_OPTIONS,
                        HeaderValue::from_static("nosniff"),
                    ),
                ];
                (self.status, headers, raw.bytes).into_response()
            }
            None => (self.status, Json(self.body)).into_response(),
        };
        if retry_soon {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
        }
        response
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        self.answer().into_response()
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
    Answer::failure(
        axum::http::StatusCode::NOT_FOUND,
        DEFAULT_FAILURE_WORD,
        "no such route; the webhook routes are /t/{tenant}/serviceInfo and /t/{tenant}/customAction",
    )
    .into_response()
}
