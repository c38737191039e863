//! Example action (command ABI): posts a message about the document to a chat
//! channel's incoming webhook (Slack, Teams, Mattermost and Google Chat all
//! accept `{"text": …}`), numbering the notifications with the key-value store.
//!
//! Manifest: `[capabilities] secrets = ["chat-webhook-url"]`, the webhook's host
//! in `allowed-outbound-hosts`, `key-value = "action"`; optional `[config]
//! channel-name` (for the success message) and `template` with `{user}`,
//! `{document}`, `{version}`, `{count}` and `{note}` (the `note` query parameter).

use docket_sdk::{Failure, HttpRequest, Outcome, Request, kv, send};
use serde_json::json;

fn main() {
    docket_sdk::run_command(run)
}

const DEFAULT_TEMPLATE: &str =
    "{user} flagged document {document} (version {version}) {note}[#{count}]";

fn run(req: Request) -> Outcome {
    if req.username.is_empty() {
        return Err(Failure::forbidden("Workfront sent no user name"));
    }
    let webhook = req.secret("chat-webhook-url").ok_or_else(|| {
        Failure::failed(
            "set the tenant secret chat-webhook-url and grant it in [capabilities] secrets",
        )
    })?;
    let count = kv::increment("notifications", 1).map_err(Failure::failed)?;
    let note = req
        .param("note")
        .map(|n| format!("\"{n}\" "))
        .unwrap_or_default();
    let text = req
        .config("template")
        .unwrap_or(DEFAULT_TEMPLATE)
        .replace("{user}", &req.username)
        .replace("{document}", &req.document_id)
        .replace("{version}", &req.document_version_id)
        .replace("{note}", &note)
        .replace("{count}", &count.to_string());
    let response = send(&HttpRequest::post_json(webhook, &json!({ "text": text })))
        .map_err(|e| Failure::failed(format!("chat webhook: {e}")))?;
    match response.status {
        200..=299 => Ok(Some(format!(
            "Posted to {}: {text}",
            req.config("channel-name").unwrap_or("the chat channel")
        ))),
        404 | 410 => Err(Failure::not_found(
            "the chat webhook no longer exists; update the chat-webhook-url secret",
        )),
        status => Err(Failure::failed(format!(
            "the chat webhook answered {status}: {}",
            response.body.chars().take(200).collect::<String>()
        ))),
    }
}
