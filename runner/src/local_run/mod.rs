//! One invocation on this machine, outside any server: what `docket invoke`
//! (a manifest and module on disk) and `docket replay` (a recorded request
//! against a stored version) run. It takes the server pipeline's own plan,
//! run and wording steps ([`crate::invocation::plan`],
//! [`crate::invocation::invocation_answer`]); there is no tenant to
//! authenticate or admit, and key-value data lives in memory and is gone
//! afterwards. Compiled modules are kept in a local [`ArtifactCache`], so
//! only the first run of a build compiles it. A document provider's
//! endpoint runs the same way ([`run_endpoint_locally`], `docket invoke
//! --endpoint`), its parameters read as the server reads them
//! ([`crate::invocation::document_params`]) and its answer worded by
//! [`crate::invocation::provider_answer`].

mod artifact_cache;

pub use artifact_cache::{ArtifactCache, MAX_CACHE_BYTES};

use crate::capabilities::kv::MemoryKv;
use crate::capabilities::outbound::OutboundCall;
use crate::config::LimitArgs;
use crate::engine::provider::body::{self, Body, BodyChannel};
use crate::engine::provider::call::Content;
use crate::engine::{Abi, PreparedModule};
use crate::engine::{ActionRequest, Engine};
use crate::invocation::invocation_answer;
use crate::invocation::{Refusal, Refused, provider_answer};
use crate::manifest::ActionManifest;
use crate::names::DocEndpoint;
use anyhow::Context;
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What a local run answered, and how it went.
#[derive(Debug)]
pub struct LocalAnswer {
    /// The HTTP status Workfront would get.
    pub status: u16,
    /// The JSON body Workfront would get.
    pub body: Value,
    /// How long the invocation took.
    pub duration: Duration,
    /// The last line the action wrote to stderr.
    pub stderr_tail: Option<String>,
    /// The outbound requests it made.
    pub outbound: Vec<OutboundCall>,
    /// What a document endpoint's bytes came to: a download's, or a
    /// thumbnail's image ([`run_endpoint_locally`]).
    pub bytes: Option<WrittenBody>,
}

/// Runs `request` against `module` (the bytes of a `.wasm` file) under
/// `manifest`, with the engine and limits of `limits`. The answer is worded
/// as a server's: failures under `failure_word` (a tenant's, or
/// [`DEFAULT_FAILURE_WORD`](crate::manifest::DEFAULT_FAILURE_WORD)), the
/// request's id in it unless that is `local`. With `cache`, the module is
/// loaded from its cached compiled artifact when there is a good one, and
/// the artifact is cached when it had to be compiled.
pub async fn run_locally(
    limits: &LimitArgs,
    manifest: &ActionManifest,
    module: &[u8],
    request: ActionRequest,
    failure_word: &str,
    cache: Option<&ArtifactCache>,
) -> anyhow::Result<LocalAnswer> {
    let engine = Engine::new(limits.engine()).context("creating the engine")?;
    let module = load(&engine, module, cache)?;
    let request_id = (request.request_id != "local").then(|| request.request_id.clone());
    let planned = plan_local(limits, manifest, module, request)?;
    let (ran_under, invocation) = planned.run(&engine, None).await;
    let answer = invocation_answer(
        failure_word,
        manifest.name.as_str(),
        &ran_under,
        request_id.as_deref(),
        invocation.result,
    );
    Ok(LocalAnswer {
        status: answer.status.as_u16(),
        body: answer.body,
        duration: invocation.duration,
        stderr_tail: invocation.stderr_tail,
        outbound: invocation.outbound,
        bytes: None,
    })
}

/// `module` compiled by `engine`, or loaded from its artifact in `cache`.
fn load(
    engine: &Engine,
    module: &[u8],
    cache: Option<&ArtifactCache>,
) -> anyhow::Result<PreparedModule> {
    match cache {
        Some(cache) => cache.load(engine, module),
        None => {
            let started = std::time::Instant::now();
            let loaded = engine.load(module);
            let ms = started.elapsed().as_millis() as u64;
            tracing::debug!(from = "compiled", cache = "off", ms, "module loaded");
            loaded
        }
    }
    .context("loading the module")
}

/// The body a local run of a document endpoint moves besides its JSON.
pub enum EndpointBody {
    /// None: every endpoint but `download`, `upload` and `thumbnail`.
    None,
    /// Where `download`'s bytes (or `thumbnail`'s image) go.
    Output(Box<dyn AsyncWrite + Unpin + Send>),
    /// Where `upload`'s bytes come from, and how many there are (sent as
    /// the `Content-Length` a client would send).
    Input(Box<dyn AsyncRead + Unpin + Send>, Option<u64>),
}

/// What went to an [`EndpointBody::Output`].
#[derive(Debug)]
pub struct WrittenBody {
    /// What the provider said the file is (`download`'s `open`).
    pub content: Option<Content>,
    /// Bytes written.
    pub bytes: u64,
    /// Why the body was cut short, when it was (a client would see a
    /// broken transfer).
    pub cut_short: Option<String>,
}

/// Runs one call of a document provider's `endpoint` with `request`'s
/// `params` as Workfront's query parameters (read as the server reads them:
/// what Docket takes is taken, the rest reaches the provider), under
/// `manifest` (which must say `kind = "provider"`). The answer is worded as
/// the server's; a download's bytes (a thumbnail's image) go to `body`'s
/// output, an upload's come from its input. An endpoint the provider does
/// not answer is the server's 501.
#[allow(clippy::too_many_arguments)]
pub async fn run_endpoint_locally(
    limits: &LimitArgs,
    manifest: &ActionManifest,
    module: &[u8],
    mut request: ActionRequest,
    endpoint: DocEndpoint,
    transfer: EndpointBody,
    failure_word: &str,
    cache: Option<&ArtifactCache>,
) -> anyhow::Result<LocalAnswer> {
    // A download's bytes need somewhere to go, an upload's somewhere to come from.
    let transfer = match (endpoint, transfer) {
        (DocEndpoint::Download, EndpointBody::None) => {
            EndpointBody::Output(Box::new(tokio::io::sink()))
        }
        (DocEndpoint::Upload, EndpointBody::None) => {
            EndpointBody::Input(Box::new(tokio::io::empty()), Some(0))
        }
        (_, transfer) => transfer,
    };
    let Some(declared) = &manifest.grants.provider else {
        anyhow::bail!(
            "{} is an action, not a document provider (its manifest has no kind = \"provider\"): \
             run it without --endpoint",
            manifest.name
        );
    };
    let refused = |refusal: Refusal| {
        let answer = Refused::in_word(failure_word, refusal).answer();
        LocalAnswer {
            status: answer.status.as_u16(),
            body: answer.body,
            duration: Duration::ZERO,
            stderr_tail: None,
            outbound: Vec::new(),
            bytes: None,
        }
    };
    let engine = Engine::new(limits.engine()).context("creating the engine")?;
    let module = load(&engine, module, cache)?;
    // What the server would list in serviceInfo: the manifest's `endpoints`,
    // else what the component exports.
    let answered = match (module.abi(), module.provider_endpoints()) {
        (Abi::Component, None) => anyhow::bail!(
            "kind = \"provider\", but the component is an action (it exports `run` of \
             docket:action/action, and no docket:provider interface)"
        ),
        (_, Some(exported)) if declared.is_empty() => exported,
        _ => declared.clone(),
    };
    // As on the server: an endpoint the provider does not answer is 501
    // whatever its parameters; then the parameters are read.
    if !answered.contains(&endpoint) {
        return Ok(refused(Refusal::NotImplemented(endpoint.name().to_owned())));
    }
    let mut headers = http::HeaderMap::new();
    if let EndpointBody::Input(_, Some(size)) = &transfer {
        headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(*size));
    }
    let call = match crate::invocation::document_params::read_call(
        endpoint,
        &mut request.params,
        &headers,
    ) {
        Ok(call) => call,
        Err(refusal) => return Ok(refused(refusal)),
    };
    let request_id = (request.request_id != "local").then(|| request.request_id.clone());
    request.provider = Some(call);
    let (mut copying, mut pumping, mut image_to) = (None, None, None);
    match transfer {
        EndpointBody::Output(writer) if endpoint == DocEndpoint::Download => {
            let (sink, response) = body::download(u64::MAX);
            request.body = BodyChannel::new(Body::Download(sink));
            copying = Some(tokio::spawn(copy_download(response, writer)));
        }
        EndpointBody::Output(writer) => image_to = Some(writer),
        EndpointBody::Input(reader, _) => {
            let (feed, source) = body::upload();
            request.body = BodyChannel::new(Body::Upload(source));
            pumping = Some(tokio::spawn(pump_upload(reader, feed)));
        }
        EndpointBody::None => {}
    }
    let planned = plan_local(limits, manifest, module, request)?;
    let (ran_under, invocation) = planned.run(&engine, None).await;
    if let Some(pumping) = pumping {
        pumping.abort();
    }
    let mut written = match copying {
        Some(copying) => Some(
            copying
                .await
                .context("copying the download")?
                .context("writing the download")?,
        ),
        None => None,
    };
    let answer = provider_answer(
        failure_word,
        endpoint,
        manifest.name.as_str(),
        &ran_under,
        request_id.as_deref(),
        invocation.result,
    );
    if let (Some(mut writer), Some(raw)) = (image_to, &answer.raw) {
        writer
            .write_all(&raw.bytes)
            .await
            .context("writing the image")?;
        writer.flush().await.context("writing the image")?;
        written = Some(WrittenBody {
            content: Some(Content {
                mime_type: raw.content_type.clone(),
                size: Some(raw.bytes.len() as u64),
                filename: None,
            }),
            bytes: raw.bytes.len() as u64,
            cut_short: None,
        });
    }
    Ok(LocalAnswer {
        status: answer.status.as_u16(),
        body: answer.body,
        duration: invocation.duration,
        stderr_tail: invocation.stderr_tail,
        outbound: invocation.outbound,
        bytes: written,
    })
}

/// Writes a download's bytes to `writer` once the provider opened the file.
async fn copy_download(
    response: body::DownloadResponse,
    mut writer: Box<dyn AsyncWrite + Unpin + Send>,
) -> std::io::Result<WrittenBody> {
    let Ok(content) = response.head.await else {
        // `open` failed, or the call never got that far: nothing to write.
        return Ok(WrittenBody {
            content: None,
            bytes: 0,
            cut_short: None,
        });
    };
    let mut chunks = response.body;
    let (mut bytes, mut cut_short) = (0, None);
    while let Some(chunk) = chunks.next().await {
        match chunk {
            Ok(chunk) => {
                writer.write_all(&chunk).await?;
                bytes += chunk.len() as u64;
            }
            Err(err) => {
                cut_short = Some(err.to_string());
                break;
            }
        }
    }
    writer.flush().await?;
    Ok(WrittenBody {
        content: Some(content),
        bytes,
        cut_short,
    })
}

/// Feeds an upload's bytes from `reader` into the guest's stream.
async fn pump_upload(mut reader: Box<dyn AsyncRead + Unpin + Send>, feed: body::UploadFeed) {
    let mut buffer = vec![0; body::CHUNK_BYTES];
    loop {
        let sent = match reader.read(&mut buffer).await {
            Ok(0) => return,
            Ok(n) => feed.send(Ok(Bytes::copy_from_slice(&buffer[..n]))).await,
            Err(err) => {
                let _ = feed
                    .send(Err(format!("the upload could not be read: {err}")))
                    .await;
                return;
            }
        };
        if sent.is_err() {
            return;
        }
    }
}

/// One local invocation of `module` planned under its manifest, with the
/// capabilities of a local run: an in-memory key-value store and blobs of
/// this run only.
fn plan_local(
    limits: &LimitArgs,
    manifest: &ActionManifest,
    module: crate::engine::PreparedModule,
    request: ActionRequest,
) -> anyhow::Result<crate::invocation::Planned> {
    // Refused here as a deploy refuses it, though a local run is one request.
    if module.abi() == crate::engine::Abi::Command {
        manifest.check_command_module()?;
    }
    let services = limits.host_services(Arc::new(MemoryKv::default()), local_blob_dir())?;
    Ok(crate::invocation::plan(
        &services,
        &limits.ceilings(),
        module,
        &manifest.limits,
        &manifest.grants,
        request,
    ))
}

/// Where `docket invoke` keeps blobs (`--blob-dir` overrides): a directory
/// of this run only, as its key-value store is, so every local run starts
/// from nothing.
fn local_blob_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("docket-invoke-blobs-{}", std::process::id()))
}
