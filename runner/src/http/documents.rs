//! Workfront's document endpoints for one tenant (`metadata`, `files`,
//! `search`, `download`, `thumbnail`, `uploadInit`, `upload`,
//! `createFolder`, `delete`, `rename`), answered by the tenant's live
//! provider through the invocation pipeline. This module gathers each call's
//! parameters (query string, or a form body where the pages show one), reads
//! them into a [`ProviderCall`] as `docket invoke --endpoint` does
//! ([`crate::invocation::document_params`]), streams `download` and `upload`
//! bodies, and turns the answer into a response; docs/providers.md describes
//! the mapping.

use super::reply::with_request_id;
use super::webhook::{credential, header_str, new_request_id, parse_query};
use crate::app::App;
use crate::engine::provider::body::{self, Body, BodyChannel};
use crate::engine::provider::call::{Content, ProviderCall};
use crate::invocation::document_params::read_call;
use crate::invocation::links::SignedLink;
use crate::invocation::{self, Call, Credential, Endpoint, Refusal, Refused};
use crate::names::DocEndpoint;
use axum::body::Body as HttpBody;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Workfront endpoint names no Docket provider can answer: defined by no
/// page Docket follows (docs/workfront-document-api.md), so always 501.
const UNDEFINED_ENDPOINTS: [&str; 2] = ["proxy", "notification"];

/// Largest form body read for parameters (`createFolder`, `rename`, `delete`).
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Any endpoint under a tenant other than `serviceInfo` and `customAction`.
pub async fn endpoint(
    State(app): State<Arc<App>>,
    Path((tenant, name)): Path<(String, String)>,
    request: Request,
) -> Response {
    let request_id = new_request_id();
    let response = match DocEndpoint::parse(&name) {
        Some(endpoint) => document_call(app, tenant, endpoint, request, &request_id).await,
        None => unknown_endpoint(&app, &tenant, name, request.headers()).await,
    };
    with_request_id(response, &request_id)
}

/// 501 for a Workfront endpoint no provider answers, 404 for a name
/// Workfront does not define; in the tenant's failure word only for a caller
/// that authenticated.
async fn unknown_endpoint(app: &App, tenant: &str, name: String, headers: &HeaderMap) -> Response {
    if let Err(refused) = super::webhook::active_tenant(app, tenant) {
        return refused.into_response();
    }
    let word = invocation::failure_word_for(app, tenant, credential(headers)).await;
    let refusal = match UNDEFINED_ENDPOINTS.contains(&name.as_str()) {
        true => Refusal::UndefinedEndpoint(name),
        false => Refusal::UnknownEndpoint(name),
    };
    Refused::in_word(&word, refusal).into_response()
}

async fn document_call(
    app: Arc<App>,
    tenant: String,
    endpoint: DocEndpoint,
    request: Request,
    request_id: &str,
) -> Response {
    let (parts, request_body) = request.into_parts();
    // What serviceInfo already tells anyone comes first: an endpoint the
    // tenant's provider does not answer is a 501 whatever the method,
    // parameters or credentials.
    let found = match super::webhook::active_tenant(&app, &tenant) {
        Ok(found) => found,
        Err(refused) => return refused.into_response(),
    };
    if !invocation::available_endpoints(&found).contains(&endpoint) {
        let word = invocation::failure_word_for(&app, &tenant, credential(&parts.headers)).await;
        let refusal = match found.provider() {
            Some(_) => Refusal::NotImplemented(endpoint.name().to_owned()),
            None => Refusal::NoProvider(endpoint.name()),
        };
        return Refused::in_word(&word, refusal).into_response();
    }
    if parts.method.as_str() != endpoint.method()
        && !(parts.method == Method::HEAD && endpoint.method() == "GET")
    {
        let why = match endpoint.method() {
            "POST" => "this endpoint is called with POST",
            "PUT" => "this endpoint is called with PUT",
            _ => "this endpoint is called with GET",
        };
        return Refused::anonymous(Refusal::WrongMethod(why)).into_response();
    }
    let mut params = parse_query(parts.uri.query().unwrap_or(""));
    if endpoint != DocEndpoint::Upload && is_form(&parts.headers) {
        match axum::body::to_bytes(request_body, MAX_FORM_BYTES).await {
            Ok(form) => {
                for (key, value) in parse_query(&String::from_utf8_lossy(&form)) {
                    params.entry(key).or_insert(value);
                }
            }
            Err(_) => {
                return Refused::anonymous(Refusal::MissingParameter("a form body over 64 KiB"))
                    .into_response();
            }
        }
        return run(
            app,
            tenant,
            endpoint,
            parts.headers,
            params,
            None,
            request_id,
        )
        .await;
    }
    let upload = (endpoint == DocEndpoint::Upload).then_some(request_body);
    run(
        app,
        tenant,
        endpoint,
        parts.headers,
        params,
        upload,
        request_id,
    )
    .await
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// Reads the call, then runs it: in this task, or for a download in a task
/// of its own that outlives the response's head.
async fn run(
    app: Arc<App>,
    tenant: String,
    endpoint: DocEndpoint,
    headers: HeaderMap,
    mut params: BTreeMap<String, String>,
    upload: Option<HttpBody>,
    request_id: &str,
) -> Response {
    let call = match read_call(endpoint, &mut params, &headers) {
        Ok(call) => call,
        Err(refusal) => {
            let word = invocation::failure_word_for(&app, &tenant, credential(&headers)).await;
            return Refused::in_word(&word, refusal).into_response();
        }
    };
    let allowance = match endpoint {
        DocEndpoint::Download | DocEndpoint::Upload => match app.transfers.allowance(&tenant) {
            Ok(bytes) => bytes,
            Err(per_day_mb) => {
                let word = invocation::failure_word_for(&app, &tenant, credential(&headers)).await;
                return Refused::in_word(&word, Refusal::TransferQuota(per_day_mb)).into_response();
            }
        },
        _ => 0,
    };
    if let ProviderCall::Upload {
        size: Some(size), ..
    } = &call
        && *size > allowance
    {
        let word = invocation::failure_word_for(&app, &tenant, credential(&headers)).await;
        return Refused::in_word(&word, Refusal::BodyTooLarge(allowance)).into_response();
    }
    match (endpoint, upload) {
        (DocEndpoint::Download, _) => {
            download(app, tenant, headers, call, params, allowance, request_id).await
        }
        (DocEndpoint::Upload, Some(request_body)) => {
            let (feed, source) = body::upload();
            let received = Arc::new(AtomicU64::new(0));
            let pump = tokio::spawn(pump_upload(request_body, feed, allowance, received.clone()));
            let channel = BodyChannel::new(Body::Upload(source));
            let answer = invoke(
                &app, &tenant, &headers, call, params, channel, request_id, None,
            )
            .await;
            // The guest is done with the body: whatever it did not read is
            // not read (the pump stops at its closed channel), and what came
            // in counts, read to the end or not.
            pump.abort();
            app.transfers
                .count(&tenant, received.load(Ordering::Relaxed));
            answer
        }
        _ => {
            invoke(
                &app,
                &tenant,
                &headers,
                call,
                params,
                BodyChannel::default(),
                request_id,
                None,
            )
            .await
        }
    }
}

/// The proof a signed document link carries in its query
/// (`invocation::links`), taken out of the parameters.
struct LinkProof {
    id: String,
    expires: String,
    signature: String,
}

impl LinkProof {
    fn take(call: &ProviderCall, params: &mut BTreeMap<String, String>) -> Option<Self> {
        let ProviderCall::Download { id } = call else {
            return None;
        };
        let signature = params.remove("signature")?;
        Some(Self {
            id: id.clone(),
            expires: params.remove("expires").unwrap_or_default(),
            signature,
        })
    }
}

/// Runs one document call through the pipeline and words its answer.
#[allow(
    clippy::too_many_arguments,
    reason = "the parts of one call, each read in a different step"
)]
async fn invoke(
    app: &App,
    tenant: &str,
    headers: &HeaderMap,
    call: ProviderCall,
    params: BTreeMap<String, String>,
    body: BodyChannel,
    request_id: &str,
    link: Option<&LinkProof>,
) -> Response {
    let credential = match link {
        Some(link) => Credential::Link(SignedLink {
            id: &link.id,
            expires: &link.expires,
            signature: &link.signature,
        }),
        None => credential(headers),
    };
    let call = Call {
        tenant,
        credential,
        username: header_str(headers, "username"),
        endpoint: Endpoint::Document { call, params, body },
        request_id,
        trace_context: Some(headers),
    };
    match invocation::invoke(app, call).await {
        Ok(answer) => answer.into_response(),
        Err(refused) => refused.into_response(),
    }
}

/// A download: the provider's `open` decides the response's head, then its
/// bytes stream while the invocation (in a task of its own, recorded when it
/// ends) writes them. Until the head, a refusal or failure is answered as
/// JSON like any other.
async fn download(
    app: Arc<App>,
    tenant: String,
    headers: HeaderMap,
    call: ProviderCall,
    params: BTreeMap<String, String>,
    allowance: u64,
    request_id: &str,
) -> Response {
    let mut params = params;
    let link = LinkProof::take(&call, &mut params);
    let inline = params.remove("disposition").is_some_and(|d| d == "inline");
    let (sink, response) = body::download(allowance);
    let channel = BodyChannel::new(Body::Download(sink));
    let transferred = response.transferred.clone();
    let request_id_owned = request_id.to_owned();
    let mut running = tokio::spawn(async move {
        let answer = invoke(
            &app,
            &tenant,
            &headers,
            call,
            params,
            channel,
            &request_id_owned,
            link.as_ref(),
        )
        .await;
        app.transfers.count(&tenant, transferred.bytes());
        answer
    });
    tokio::select! {
        // The head first: a small file's provider can finish before this
        // task is polled, and then both branches are ready; an unbiased
        // pick answered the download's JSON record instead of its bytes.
        biased;
        head = response.head => match head {
            Ok(content) => streamed(content, response.body, inline),
            // `open` failed or the call was refused: its answer says why.
            Err(_) => running.await.unwrap_or_else(|_| failed_task()),
        },
        answer = &mut running => answer.unwrap_or_else(|_| failed_task()),
    }
}

fn failed_task() -> Response {
    invocation::Answer::failure(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        crate::manifest::DEFAULT_FAILURE_WORD,
        "the download could not be run",
    )
    .into_response()
}

/// The 200 of a download whose provider opened the file; `inline` for a
/// view link (the browser shows it rather than saving it).
fn streamed(content: Content, body: body::DownloadBody, inline: bool) -> Response {
    let mut response = HttpBody::from_stream(body).into_response();
    let headers = response.headers_mut();
    let mime = HeaderValue::from_str(&content.mime_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, mime);
    if let Some(size) = content.size {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    }
    let kind = if inline { "inline" } else { "attachment" };
    let disposition = match &content.filename {
        Some(name) => format!("{kind}; filename*=UTF-8''{}", percent_encode(name)),
        None => kind.to_owned(),
    };
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// RFC 5987 encoding of a file name for `Content-Disposition`.
fn percent_encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Feeds an upload's request body into the guest's stream, at most
/// `allowance` bytes, counting what arrives in `received`.
async fn pump_upload(
    request_body: HttpBody,
    feed: body::UploadFeed,
    allowance: u64,
    received: Arc<AtomicU64>,
) {
    let mut frames = request_body.into_data_stream();
    let mut total = 0u64;
    while let Some(frame) = frames.next().await {
        let sent = match frame {
            Ok(bytes) => {
                total += bytes.len() as u64;
                received.store(total, Ordering::Relaxed);
                if total > allowance {
                    let why = format!("the upload is over its limit of {allowance} bytes");
                    let _ = feed.send(Err(why)).await;
                    return;
                }
                feed.send(Ok(bytes)).await
            }
            Err(err) => {
                let _ = feed
                    .send(Err(format!("the upload's body could not be read: {err}")))
                    .await;
                return;
            }
        };
        if sent.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invocation::document_params::{DEFAULT_MAX, MAX_MAX};

    fn call(endpoint: DocEndpoint, query: &str) -> Result<ProviderCall, Refusal> {
        let mut params = parse_query(query);
        read_call(endpoint, &mut params, &HeaderMap::new())
    }

    #[test]
    fn paging_defaults_and_bounds() {
        assert_eq!(
            call(DocEndpoint::Files, "").unwrap(),
            ProviderCall::Files {
                parent_id: "/".into(),
                max: DEFAULT_MAX,
                offset: 0
            }
        );
        assert_eq!(
            call(DocEndpoint::Files, "parentId=7&max=99999&offset=-3").unwrap(),
            ProviderCall::Files {
                parent_id: "7".into(),
                max: MAX_MAX,
                offset: 0
            }
        );
        assert_eq!(
            call(DocEndpoint::Search, "query=x&max=ten"),
            Err(Refusal::NotANumber("max"))
        );
    }

    #[test]
    fn required_parameters_are_named_and_the_rest_pass_on() {
        assert_eq!(
            call(DocEndpoint::Metadata, "id="),
            Err(Refusal::MissingParameter("id"))
        );
        let mut params = parse_query("id=a&access_type=offline");
        let read = read_call(DocEndpoint::Download, &mut params, &HeaderMap::new()).unwrap();
        assert_eq!(read, ProviderCall::Download { id: "a".into() });
        assert_eq!(params.keys().collect::<Vec<_>>(), ["access_type"]);
        assert_eq!(
            call(DocEndpoint::Delete, "documentId=9").unwrap(),
            ProviderCall::Delete { id: "9".into() }
        );
    }

    /// Bounded fuzzing of the parameter reading: arbitrary query strings
    /// for every endpoint never panic, and a call that reads names only
    /// values from the query.
    #[test]
    fn arbitrary_queries_never_panic_the_reader() {
        const PIECES: &[&str] = &[
            "id",
            "parentId",
            "max",
            "offset",
            "size",
            "query",
            "name",
            "filename",
            "=",
            "&",
            "-",
            "1",
            "99999999999999999999",
            "%",
            "%ZZ",
            "é",
            "/",
            "+",
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for round in 0..5_000 {
            let mut query = String::new();
            for _ in 0..(state % 20) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                query.push_str(PIECES[(state % PIECES.len() as u64) as usize]);
            }
            let endpoint = DocEndpoint::ALL[round % DocEndpoint::ALL.len()];
            if let Ok(read) = call(endpoint, &query) {
                assert_eq!(read.endpoint(), endpoint);
            }
        }
    }
}
