//! Workfront's Document Webhooks endpoints for one tenant: `serviceInfo` lists the
//! tenant's actions and the document endpoints its provider answers,
//! `customAction` runs one action (the document endpoints are `documents`'). This module only parses the
//! request into an [`invocation::Call`] and turns the pipeline's answer into
//! a response ([`crate::invocation`] does the rest).

use super::reply::{WEBHOOK_VERSION, with_request_id};
use crate::app::App;
use crate::invocation::{
    self, Call, Credential, Endpoint, Presented, Refusal, Refused as WebhookError,
};
use crate::registry::Tenant;
use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

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
        .filter(|a| a.grants.provider.is_none())
        .map(|a| json!({ "name": a.name, "displayName": a.display_name }))
        .collect();
    let mut endpoints = vec!["serviceInfo", "customAction"];
    endpoints.extend(
        invocation::available_endpoints(&tenant)
            .iter()
            .map(|e| e.name()),
    );
    Ok(Json(json!({
        "webhookVersion": WEBHOOK_VERSION,
        "version": env!("CARGO_PKG_VERSION"),
        "publisher": "Docket",
        "availableEndpoints": endpoints,
        "customActions": actions,
    }))
    .into_response())
}

/// `GET /t/{tenant}/customAction?name=&documentId=&documentVersionId=`:
/// parsed into a [`Call`] and run through the invocation pipeline.
pub async fn custom_action(
    State(app): State<Arc<App>>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let request_id = new_request_id();
    let call = Call {
        tenant: &tenant,
        credential: credential(&headers),
        username: header_str(&headers, "username"),
        endpoint: Endpoint::CustomAction {
            params: parse_query(query.as_deref().unwrap_or("")),
        },
        request_id: &request_id,
        trace_context: Some(&headers),
    };
    let response = match invocation::invoke(&app, call).await {
        Ok(answer) => answer.into_response(),
        Err(refused) => refused.into_response(),
    };
    with_request_id(response, &request_id)
}

/// How the caller authenticates: OAuth2 mode's `Authorization: Bearer`
/// when sent, else ApiKey mode's `apiKey` header.
pub(super) fn credential(headers: &HeaderMap) -> Credential<'_> {
    fn presented(value: Option<&axum::http::HeaderValue>) -> Presented<'_> {
        match value {
            None => Presented::Missing,
            Some(value) => value
                .to_str()
                .map_or(Presented::Unreadable, Presented::Value),
        }
    }
    if let Some(proof) = headers.get(invocation::console_trial::HEADER) {
        return Credential::Console(presented(Some(proof)));
    }
    // Another scheme (a gateway's Basic, say) is not Workfront's: the
    // apiKey header decides then.
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .map(|value| value.to_str().ok().and_then(|text| text.split_once(' ')))
        .filter(|scheme| scheme.is_none_or(|(name, _)| name.eq_ignore_ascii_case("bearer")));
    match bearer {
        Some(Some((_, token))) if !token.trim().is_empty() => {
            Credential::Bearer(Presented::Value(token.trim()))
        }
        Some(_) => Credential::Bearer(Presented::Unreadable),
        None => Credential::ApiKey(presented(headers.get("apiKey"))),
    }
}

/// The tenant, if it exists and is not suspended. Said without the tenant's
/// failure word: `serviceInfo` authenticates no one.
pub(super) fn active_tenant(app: &App, name: &str) -> Result<Arc<Tenant>, WebhookError> {
    let Some(tenant) = app.tenant(name) else {
        return Err(WebhookError::anonymous(Refusal::UnknownTenant(
            name.to_owned(),
        )));
    };
    if tenant.suspended {
        return Err(WebhookError::anonymous(Refusal::Suspended));
    }
    Ok(tenant)
}

/// A webhook route called with a method Workfront never uses.
pub async fn wrong_method() -> WebhookError {
    WebhookError::anonymous(Refusal::WrongMethod(
        "serviceInfo and customAction are called with GET",
    ))
}

pub(super) fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Parses a query string (or a form body) leniently; for a repeated key
/// the first value wins.
pub(super) fn parse_query(query: &str) -> BTreeMap<String, String> {
    let mut params = BTreeMap::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        params
            .entry(key.into_owned())
            .or_insert_with(|| value.into_owned());
    }
    params
}

pub(super) fn new_request_id() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
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
