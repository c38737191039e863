//! The `http` operation of `docket::host_call` (command modules):
//! `{"op":"http","method","url","headers":{},"body","followRedirects"}` →
//! `{"status","headers":{},"body"}`.

use super::{OutboundError, OutboundGrant, OutboundRequest, granted};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The operation names this capability answers.
pub const OPERATIONS: &[&str] = &["http"];

/// An outbound HTTP operation as a guest writes it.
#[derive(Deserialize)]
#[serde(tag = "op", deny_unknown_fields)]
pub(crate) enum Operation {
    /// Sends one request, following redirects unless told not to.
    #[serde(rename = "http")]
    Http {
        #[serde(default = "get")]
        method: String,
        url: String,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        #[serde(default)]
        body: String,
        #[serde(default = "yes", rename = "followRedirects")]
        follow_redirects: bool,
    },
}

fn get() -> String {
    "GET".into()
}
fn yes() -> bool {
    true
}

/// Runs `op` through the invocation's grant, if it has one.
pub(crate) async fn run(
    grant: Option<&Arc<OutboundGrant>>,
    op: Operation,
) -> Result<Value, OutboundError> {
    let Operation::Http {
        method,
        url,
        headers,
        body,
        follow_redirects,
    } = op;
    let grant = granted(grant, || {
        reqwest::Url::parse(&url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or(url.clone())
    })?;
    let request = OutboundRequest {
        method,
        url,
        headers: headers.into_iter().collect(),
        body: body.into_bytes(),
    };
    let response = grant.send(request, follow_redirects, false).await?;
    let headers: BTreeMap<String, String> = response.headers.into_iter().collect();
    Ok(json!({
        "status": response.status,
        "headers": headers,
        "body": String::from_utf8_lossy(&response.body),
    }))
}
