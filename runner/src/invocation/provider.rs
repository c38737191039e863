//! Document endpoints on the pipeline: which version of the tenant's
//! provider a call runs, what it is asked, and how its typed answer becomes
//! the JSON Workfront reads (docs/providers.md has the field table).

use super::{Caller, Refusal, Refused, Target, invocation_answer};
use crate::app::App;
use crate::engine::provider::body::BodyChannel;
use crate::engine::provider::call::{Document, DocumentKind, Provided, ProviderCall};
use crate::engine::{ActionRequest, InvokeError, Outcome};
use crate::limits::Limits;
use crate::names::DocEndpoint;
use crate::registry::Tenant;
use http::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;

use super::answer::{Answer, RawBody};

/// The endpoints the tenant's live provider answers (none without one).
pub fn available_endpoints(tenant: &Tenant) -> &[DocEndpoint] {
    tenant
        .provider()
        .and_then(|provider| provider.grants.provider.as_deref())
        .unwrap_or_default()
}

/// The provider version a document call runs and the request it gets, or
/// a 501 when the tenant has no provider or its provider leaves the
/// endpoint out.
pub(super) fn resolve(
    app: &App,
    caller: &Caller,
    call: ProviderCall,
    params: BTreeMap<String, String>,
    body: BodyChannel,
    request_id: &str,
) -> Result<Target, Refused> {
    let tenant = &caller.tenant;
    let endpoint = call.endpoint();
    let refused = |refusal| Refused::in_word(&tenant.failure_word, refusal);
    let Some(provider) = tenant.provider().cloned() else {
        return Err(refused(Refusal::NoProvider(endpoint.name())));
    };
    if !available_endpoints(tenant).contains(&endpoint) {
        return Err(refused(Refusal::NotImplemented(endpoint.name().to_owned())));
    }
    let span = tracing::Span::current();
    span.record("request_id", request_id);
    span.record("action", provider.name.as_str());
    span.record("version", provider.version);
    let series = app
        .metrics
        .series(tenant.name.as_str(), provider.name.as_str());
    let (document_id, document_version_id) = recorded_ids(&call);
    let request = ActionRequest {
        action: provider.name.to_string(),
        document_id,
        document_version_id,
        username: caller.username.clone(),
        username_verified: caller.username_verified,
        params,
        config: provider.config.clone(),
        secrets: tenant.secrets.granted(&provider.secrets),
        tenant: tenant.name.to_string(),
        request_id: request_id.to_owned(),
        provider: Some(call),
        body,
    };
    Ok(Target {
        action: provider,
        request,
        series,
        endpoint: Some(endpoint),
    })
}

/// The ids a run record keeps of a document call: the item it names, and
/// Workfront's document version when `uploadInit` sent one.
fn recorded_ids(call: &ProviderCall) -> (String, String) {
    match call {
        ProviderCall::Metadata { id }
        | ProviderCall::Download { id }
        | ProviderCall::Thumbnail { id, .. }
        | ProviderCall::Upload { id, .. }
        | ProviderCall::Delete { id }
        | ProviderCall::Rename { id, .. } => (id.clone(), String::new()),
        ProviderCall::Files { parent_id, .. } | ProviderCall::CreateFolder { parent_id, .. } => {
            (parent_id.clone(), String::new())
        }
        ProviderCall::Search { query, .. } => (query.clone(), String::new()),
        ProviderCall::UploadInit {
            parent_id,
            document_version_id,
            ..
        } => (
            parent_id.clone(),
            document_version_id.clone().unwrap_or_default(),
        ),
    }
}

/// What Workfront is told about one call of a provider's `endpoint`: the
/// document object or list, the image, or `{"status":"success"}` (upload's
/// `{"result":"success"}`); failures as for actions, an upload's with
/// `"result":"fail"` beside them, as the upload page asks.
pub fn provider_answer(
    failure_word: &str,
    endpoint: DocEndpoint,
    name: &str,
    limits: &Limits,
    request_id: Option<&str>,
    result: Result<Outcome, InvokeError>,
) -> Answer {
    let provided = match result {
        Ok(Outcome::Provided(provided)) => provided,
        other => {
            let mut answer = invocation_answer(failure_word, name, limits, request_id, other);
            if endpoint == DocEndpoint::Upload && answer.status != StatusCode::OK {
                answer.body["result"] = json!("fail");
            }
            return answer;
        }
    };
    let ok = |body: Value| Answer {
        status: StatusCode::OK,
        body,
        raw: None,
    };
    match provided {
        Provided::Document(document) => ok(document_json(&document)),
        Provided::Documents(documents) => {
            ok(Value::Array(documents.iter().map(document_json).collect()))
        }
        Provided::Image { mime_type, bytes } => Answer {
            status: StatusCode::OK,
            body: json!({ "status": "success", "contentType": mime_type, "bytes": bytes.len() }),
            raw: Some(RawBody {
                content_type: mime_type,
                bytes: bytes.into(),
            }),
        },
        Provided::Streamed { bytes } => ok(json!({ "status": "success", "bytes": bytes })),
        Provided::Done if endpoint == DocEndpoint::Upload => ok(json!({ "result": "success" })),
        Provided::Done => ok(json!({ "status": "success" })),
    }
}

/// `answer` with a signed `downloadLink` and `viewLink` on every file the
/// provider gave no links of its own (docs/providers.md).
pub fn with_links(mut answer: Answer, links: &super::links::LinkMaker) -> Answer {
    if answer.status != StatusCode::OK {
        return answer;
    }
    let add = |document: &mut Value| {
        let is_file = document["kind"] == "file";
        let id = document["id"].as_str().map(str::to_owned);
        if let (true, Some(id), Some(object)) = (is_file, id, document.as_object_mut()) {
            let (download, view) = links.links(&id);
            object.entry("downloadLink").or_insert(json!(download));
            object.entry("viewLink").or_insert(json!(view));
        }
    };
    match &mut answer.body {
        Value::Array(documents) => documents.iter_mut().for_each(add),
        document @ Value::Object(_) if document.get("kind").is_some() => add(document),
        _ => {}
    }
    answer
}

/// Workfront's JSON document object: the pages' field names, an absent
/// optional field left out rather than sent as `null` (docs/providers.md).
pub fn document_json(document: &Document) -> Value {
    let mut object = serde_json::Map::new();
    object.insert("id".into(), json!(document.id));
    object.insert("title".into(), json!(document.title));
    let kind = match document.kind {
        DocumentKind::File => "file",
        DocumentKind::Folder => "folder",
    };
    object.insert("kind".into(), json!(kind));
    let optional = [
        ("mimeType", document.mime_type.as_ref().map(|v| json!(v))),
        ("size", document.size.map(|v| json!(v))),
        (
            "dateModified",
            document.date_modified.as_ref().map(|v| json!(v)),
        ),
        ("viewLink", document.view_link.as_ref().map(|v| json!(v))),
        (
            "downloadLink",
            document.download_link.as_ref().map(|v| json!(v)),
        ),
        ("readOnly", document.read_only.map(|v| json!(v))),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            object.insert(key.into(), value);
        }
    }
    Value::Object(object)
}
