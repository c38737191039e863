//! Example action (component ABI): tags a document version in Workfront with
//! who ran the action, by adding a note to it through Workfront's REST API.
//!
//! Manifest: `[config] workfront-url` (e.g. `https://acme.my.workfront.com`),
//! optional `api-version` (default `v19.0`) and `tag` (the note's text before
//! the user name); `[capabilities] secrets = ["workfront-api-key"]` and the
//! Workfront host in `allowed-outbound-hosts`.

use docket_sdk::{Failure, HttpRequest, Outcome, Request, send};
use serde_json::{Value, json};

docket_sdk::component_action!(run);

/// Adds the note and reports its id.
pub fn run(req: Request) -> Outcome {
    if req.username.is_empty() {
        return Err(Failure::forbidden(
            "Workfront sent no user name; run this action from Document Actions",
        ));
    }
    let base = req
        .config("workfront-url")
        .ok_or_else(|| Failure::failed("set workfront-url in the action's [config]"))?;
    let api_key = req.secret("workfront-api-key").ok_or_else(|| {
        Failure::failed(
            "set the tenant secret workfront-api-key and grant it in [capabilities] secrets",
        )
    })?;
    let version = req.config("api-version").unwrap_or("v19.0");
    let tag = req.config("tag").unwrap_or("Reviewed by");
    let text = format!("{tag} {} (Docket action {:?})", req.username, req.action);
    let url = format!("{}/attask/api/{version}/note", base.trim_end_matches('/'));
    let note = json!({
        "noteObjCode": "DOCV",
        "objID": req.document_version_id,
        "noteText": text,
    });
    let request = HttpRequest::post_json(url, &note).header("apiKey", api_key);
    let response = send(&request).map_err(|e| Failure::failed(format!("Workfront: {e}")))?;
    let detail = || workfront_error(&response.body);
    match response.status {
        200..=299 => {
            let body: Value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
            let id = body["data"]["ID"].as_str().unwrap_or("?");
            Ok(Some(format!(
                "Tagged version {} of document {}: \"{text}\" (note {id})",
                req.document_version_id, req.document_id
            )))
        }
        401 | 403 => Err(Failure::forbidden(format!(
            "Workfront refused the API key: {}",
            detail()
        ))),
        404 => Err(Failure::not_found(format!(
            "Workfront has no document version {}: {}",
            req.document_version_id,
            detail()
        ))),
        status => Err(Failure::failed(format!(
            "Workfront answered {status}: {}",
            detail()
        ))),
    }
}

/// Workfront errors look like `{"error":{"message":"…"}}`.
fn workfront_error(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect())
}
