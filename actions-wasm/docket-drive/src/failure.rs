//! Shorthands for the failures Workfront users see.

use crate::bindings::docket::provider::types::Failure;

/// HTTP 404: no such file or folder.
pub fn not_found(message: impl Into<String>) -> Failure {
    Failure::NotFound(message.into())
}

/// HTTP 403: the user may not do this.
pub fn forbidden(message: impl Into<String>) -> Failure {
    Failure::Forbidden(message.into())
}

/// HTTP 500: anything else.
pub fn failed(message: impl Into<String>) -> Failure {
    Failure::Failed(message.into())
}

/// The not-found failure for an unknown id.
pub fn no_such(id: &str) -> Failure {
    not_found(format!("no file or folder with id \"{id}\""))
}
