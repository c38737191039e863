//! `POST /admin/v1/tenants/{tenant}/try`: the console's "Try it". The
//! tenant's admin calls the live version through Workfront's own handlers
//! (`webhook`, `documents`), with a console proof in place of the webhook
//! key (`invocation::console_trial`), and gets back exactly what Workfront
//! would: the status, the content type and the body, with the request id
//! that finds the call's run log record.

use super::admin_error::AdminError;
use super::auth::TenantAdmin;
use crate::app::App;
use crate::invocation::console_trial;
use crate::names::DocEndpoint;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Most of an answer's body shown; a longer one is cut and says so.
const MAX_SHOWN_BYTES: usize = 1024 * 1024;

/// The body of a try.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TryCall {
    /// `customAction`, or a document endpoint Workfront calls with GET.
    endpoint: String,
    /// The query parameters Workfront would send.
    #[serde(default)]
    params: BTreeMap<String, String>,
    /// The `username` header Workfront would send.
    username: Option<String>,
}

/// Runs the call and describes Workfront's answer.
pub async fn try_call(
    State(app): State<Arc<App>>,
    TenantAdmin(found): TenantAdmin,
    body: Result<Json<TryCall>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, AdminError> {
    let Json(call) = body.map_err(|e| AdminError::BadRequest(e.body_text()))?;
    let mut headers = HeaderMap::new();
    let proof = HeaderValue::from_str(&console_trial::sign(&found.id))
        .map_err(|e| AdminError::Internal(e.to_string()))?;
    headers.insert(console_trial::HEADER, proof);
    if let Some(user) = call.username.as_deref().filter(|u| !u.is_empty()) {
        let user = HeaderValue::from_str(user)
            .map_err(|_| AdminError::BadRequest("username cannot be sent as a header".into()))?;
        headers.insert("username", user);
    }
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&call.params)
        .finish();
    let tenant = found.name.as_str().to_owned();
    let response = if call.endpoint == "customAction" {
        super::webhook::custom_action(State(app), Path(tenant), headers, RawQuery(Some(query)))
            .await
    } else {
        let endpoint = DocEndpoint::parse(&call.endpoint)
            .filter(|e| e.method() == "GET")
            .ok_or_else(|| {
                AdminError::BadRequest(format!(
                    "endpoint {:?} cannot be tried: use customAction or a document endpoint \
                     Workfront calls with GET (metadata, files, search, thumbnail, download)",
                    call.endpoint
                ))
            })?;
        let uri = format!("/t/{tenant}/{}?{query}", endpoint.name());
        let mut request = Request::get(uri)
            .body(Body::empty())
            .map_err(|e| AdminError::BadRequest(format!("the parameters: {e}")))?;
        *request.headers_mut() = headers;
        let path = Path((tenant, endpoint.name().to_owned()));
        super::documents::endpoint(State(app), path, request).await
    };
    Ok(Json(describe(response).await))
}

/// Status, content type, request id and body (JSON, text or base64).
async fn describe(response: Response) -> Value {
    let status = response.status().as_u16();
    let (content_type, request_id) = {
        let header_text = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        (
            header_text(header::CONTENT_TYPE.as_str()),
            header_text("x-request-id"),
        )
    };
    let (bytes, truncated) = read_shown(response.into_body()).await;
    let mut answer = json!({
        "status": status,
        "contentType": content_type,
        "requestId": request_id,
        "body": Value::Null,
    });
    if truncated {
        answer["truncated"] = json!(true);
    }
    if !truncated && let Ok(parsed) = serde_json::from_slice::<Value>(&bytes) {
        answer["body"] = parsed;
    } else if let Ok(text) = std::str::from_utf8(&bytes) {
        answer["text"] = json!(text);
    } else {
        use base64::Engine;
        answer["base64"] = json!(base64::engine::general_purpose::STANDARD.encode(&bytes));
    }
    answer
}

/// The body's first [`MAX_SHOWN_BYTES`], and whether there was more.
async fn read_shown(body: Body) -> (Vec<u8>, bool) {
    use http_body_util::BodyExt;
    let mut shown = Vec::new();
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        if let Ok(data) = frame.into_data() {
            let room = MAX_SHOWN_BYTES - shown.len();
            if data.len() > room {
                shown.extend_from_slice(&data[..room]);
                return (shown, true);
            }
            shown.extend_from_slice(&data);
        }
    }
    (shown, false)
}
