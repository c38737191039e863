//! The admin API's errors: one enum, mapped to responses in one place. Client
//! mistakes keep their status and message; internal errors answer a generic
//! message and are logged.

use crate::app::DeployError;
use crate::registry::StoreError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An admin API failure; the one place admin errors become responses.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No or malformed `Authorization: Bearer` header.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The token is valid but not for this route or tenant, or the tenant is suspended.
    #[error("{0}")]
    Forbidden(String),
    /// The thing named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// The request conflicts with what exists, or a quota.
    #[error("{0}")]
    Conflict(String),
    /// The upload is too large.
    #[error("{0}")]
    TooLarge(String),
    /// The caller must slow down (a rate limit).
    #[error("{0}")]
    TooManyRequests(String),
    /// The database is unreachable: nothing was changed; retry later.
    #[error("{0}")]
    Unavailable(String),
    /// Docket failed; details are logged, not returned.
    #[error("internal error")]
    Internal(String),
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = match &self {
            AdminError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AdminError::Forbidden(_) => StatusCode::FORBIDDEN,
            AdminError::NotFound(_) => StatusCode::NOT_FOUND,
            AdminError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AdminError::Conflict(_) => StatusCode::CONFLICT,
            AdminError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AdminError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AdminError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AdminError::Internal(detail) => {
                tracing::error!(error = %detail, "admin request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

impl From<StoreError> for AdminError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::TenantExists(_) | StoreError::Declarative(_) | StoreError::Quota(_) => {
                AdminError::Conflict(err.to_string())
            }
            StoreError::UnknownTenant(_)
            | StoreError::UnknownAction(_)
            | StoreError::UnknownVersion { .. }
            | StoreError::UnknownKey(_)
            | StoreError::UnknownSecret(_)
            | StoreError::OAuthOff => AdminError::NotFound(err.to_string()),
            StoreError::Invalid(_) => AdminError::BadRequest(err.to_string()),
            StoreError::Unavailable(_) => AdminError::Unavailable(err.to_string()),
            StoreError::Database(_) | StoreError::Migrate(_) | StoreError::Io(_) => {
                AdminError::Internal(err.to_string())
            }
        }
    }
}

impl From<DeployError> for AdminError {
    fn from(err: DeployError) -> Self {
        match err {
            DeployError::Manifest(_) | DeployError::Module(_) | DeployError::Provider(_) => {
                AdminError::BadRequest(err.to_string())
            }
            DeployError::TooLarge { .. } => AdminError::TooLarge(err.to_string()),
            DeployError::CompileFailures(_) => AdminError::TooManyRequests(err.to_string()),
            DeployError::Store(store) => store.into(),
        }
    }
}
