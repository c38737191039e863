//! # docket-sdk: Docket actions in Rust
//!
//! An action is one function from a [`Request`] to an [`Outcome`]. The same
//! function serves either guest ABI; only the entry point differs:
//!
//! **Command ABI** (`wasm32-wasip1`, a binary crate):
//!
//! ```no_run
//! use docket_sdk::{Failure, Outcome, Request};
//!
//! fn run(req: Request) -> Outcome {
//!     if req.username.is_empty() {
//!         return Err(Failure::forbidden("sign in to Workfront first"));
//!     }
//!     Ok(Some(format!("Hello {}, document {}", req.username, req.document_id)))
//! }
//!
//! fn main() {
//!     docket_sdk::run_command(run)
//! }
//! ```
//!
//! **Component ABI** (`wasm32-wasip2`, a `cdylib` crate):
//!
//! ```ignore
//! fn run(req: docket_sdk::Request) -> docket_sdk::Outcome { /* … */ }
//! docket_sdk::component_action!(run);
//! ```
//!
//! The contract both entry points implement is `guest-sdk/CONTRACT.md`.

#![deny(missing_docs)]

pub mod host;
pub use host::{HttpRequest, HttpResponse, kv, send};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Write};

/// One invocation of an action: what Workfront asked for and the action's config.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// The action name Workfront sent (`customAction?name=`).
    pub action: String,
    /// The Workfront document id.
    pub document_id: String,
    /// The Workfront document version id.
    pub document_version_id: String,
    /// The Workfront user who triggered the action; empty when Workfront sent none.
    /// Whether it can be trusted is [`username_verified`](Self::username_verified).
    #[serde(default)]
    pub username: String,
    /// `true` when `username` was proven by the user's sign-in at the tenant's
    /// identity provider (Workfront's OAuth2 mode); `false` when it is only what
    /// the caller sent (ApiKey mode: anyone holding the tenant's key can send any
    /// username), and with a Docket that predates it. An action that decides by
    /// user should require it.
    #[serde(default)]
    pub username_verified: bool,
    /// Extra query parameters of the call.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// The `[config]` table of the action's manifest.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// The tenant secrets the manifest grants (`[capabilities] secrets`) that are set.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// The tenant the action runs for.
    #[serde(default)]
    pub tenant: String,
    /// Docket's id for this invocation; quote it in log lines.
    #[serde(default)]
    pub request_id: String,
}

impl Request {
    /// A query parameter, if present.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    /// A config value, if present.
    pub fn config(&self, key: &str) -> Option<&str> {
        self.config.get(key).map(String::as_str)
    }

    /// A granted secret, if set.
    pub fn secret(&self, name: &str) -> Option<&str> {
        self.secrets.get(name).map(String::as_str)
    }
}

/// Why an action refused or failed. The message is shown to the Workfront user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The user may not do this (HTTP 403).
    Forbidden(String),
    /// The document or something it needs does not exist (HTTP 404).
    NotFound(String),
    /// Anything else went wrong (HTTP 500).
    Failed(String),
}

impl Failure {
    /// A 403 failure.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }

    /// A 404 failure.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    /// A 500 failure.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }

    /// The command ABI's `kind` word.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not-found",
            Self::Failed(_) => "failed",
        }
    }

    /// The message for the user.
    pub fn message(&self) -> &str {
        match self {
            Self::Forbidden(m) | Self::NotFound(m) | Self::Failed(m) => m,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind(), self.message())
    }
}

/// What an action returns: `Ok(Some(message))`, `Ok(None)` or `Err(failure)`.
pub type Outcome = Result<Option<String>, Failure>;

/// The command ABI's response JSON for an outcome.
pub fn response_json(outcome: &Outcome) -> String {
    let value = match outcome {
        Ok(None) => serde_json::json!({ "status": "success" }),
        Ok(Some(message)) => serde_json::json!({ "status": "success", "message": message }),
        Err(failure) => serde_json::json!({
            "status": "failure",
            "kind": failure.kind(),
            "error": failure.message(),
        }),
    };
    value.to_string()
}

/// The command ABI entry point: reads the request from stdin, runs `action`,
/// writes the response to stdout and exits. Call it from `main`.
pub fn run_command(action: impl FnOnce(Request) -> Outcome) -> ! {
    let outcome = read_request().and_then(action);
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(response_json(&outcome).as_bytes())
        .and_then(|()| stdout.flush());
    std::process::exit(if written.is_ok() { 0 } else { 1 })
}

fn read_request() -> Result<Request, Failure> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| Failure::failed(format!("cannot read the request from stdin: {e}")))?;
    serde_json::from_str(&input)
        .map_err(|e| Failure::failed(format!("the request on stdin is not valid: {e}")))
}

#[doc(hidden)]
#[allow(missing_docs, clippy::too_many_arguments)]
pub mod __component {
    wit_bindgen::generate!({
        path: "wit",
        world: "action",
        pub_export_macro: true,
        export_macro_name: "__export_docket_action",
        default_bindings_module: "::docket_sdk::__component",
        generate_all,
    });

    /// Converts the WIT record, runs the author's function, converts back.
    pub fn adapt(
        request: Request,
        action: impl FnOnce(super::Request) -> super::Outcome,
    ) -> Result<Option<String>, Failure> {
        let config: std::collections::BTreeMap<String, String> =
            request.config.into_iter().collect();
        // wasi:config/store holds the config and the granted secrets; the secrets
        // are the entries that are not config.
        let secrets = wasi::config::store::get_all()
            .unwrap_or_default()
            .into_iter()
            .filter(|(key, _)| !config.contains_key(key))
            .collect();
        let request = super::Request {
            action: request.action,
            document_id: request.document_id,
            document_version_id: request.document_version_id,
            username: request.username,
            username_verified: docket::action::caller::username_verified(),
            params: request.params.into_iter().collect(),
            config,
            secrets,
            tenant: request.tenant,
            request_id: request.request_id,
        };
        action(request).map_err(|failure| match failure {
            super::Failure::Forbidden(m) => Failure::Forbidden(m),
            super::Failure::NotFound(m) => Failure::NotFound(m),
            super::Failure::Failed(m) => Failure::Failed(m),
        })
    }
}

/// Exports `run` as the component ABI's `run` function. Use it once, at the
/// top level of a `cdylib` crate built for `wasm32-wasip2`.
#[macro_export]
macro_rules! component_action {
    ($run:path) => {
        struct DocketAction;

        impl $crate::__component::Guest for DocketAction {
            fn run(
                request: $crate::__component::Request,
            ) -> ::core::result::Result<
                ::core::option::Option<::std::string::String>,
                $crate::__component::Failure,
            > {
                $crate::__component::adapt(request, $run)
            }
        }

        $crate::__component::__export_docket_action!(DocketAction);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_follow_the_command_contract() {
        assert_eq!(response_json(&Ok(None)), r#"{"status":"success"}"#);
        let failure = response_json(&Err(Failure::not_found("gone")));
        let value: serde_json::Value = serde_json::from_str(&failure).unwrap();
        assert_eq!(value["status"], "failure");
        assert_eq!(value["kind"], "not-found");
        assert_eq!(value["error"], "gone");
    }

    #[test]
    fn request_fields_are_camel_case_and_optional_ones_default() {
        let req: Request = serde_json::from_str(
            r#"{"action":"a","documentId":"d","documentVersionId":"v","params":{"k":"x"}}"#,
        )
        .unwrap();
        assert_eq!(req.document_id, "d");
        assert_eq!(req.param("k"), Some("x"));
        assert_eq!(req.username, "");
        assert!(!req.username_verified, "absent usernameVerified is false");
    }

    #[test]
    fn username_verified_comes_from_the_request() {
        let base = r#"{"action":"a","documentId":"d","documentVersionId":"v","username":"jane""#;
        for (json, verified) in [
            (format!("{base},\"usernameVerified\":true}}"), true),
            (format!("{base},\"usernameVerified\":false}}"), false),
            (format!("{base}}}"), false),
        ] {
            let req: Request = serde_json::from_str(&json).unwrap();
            assert_eq!(req.username_verified, verified, "{json}");
            assert_eq!(req.username, "jane");
        }
    }
}
