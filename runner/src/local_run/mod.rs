//! One invocation on this machine, outside any server: what `docket invoke`
//! (a manifest and module on disk) and `docket replay` (a recorded request
//! against a stored version) run. It takes the server pipeline's own plan,
//! run and wording steps ([`crate::invocation::plan`],
//! [`crate::invocation::invocation_answer`]); there is no tenant to
//! authenticate or admit, and key-value data lives in memory and is gone
//! afterwards. Compiled modules are kept in a local [`ArtifactCache`], so
//! only the first run of a build compiles it.

mod artifact_cache;

pub use artifact_cache::{ArtifactCache, MAX_CACHE_BYTES};

use crate::capabilities::kv::MemoryKv;
use crate::capabilities::outbound::OutboundCall;
use crate::config::LimitArgs;
use crate::engine::{ActionRequest, Engine};
use crate::invocation::invocation_answer;
use crate::manifest::ActionManifest;
use anyhow::Context;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

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
    let module = match cache {
        Some(cache) => cache.load(&engine, module),
        None => {
            let started = std::time::Instant::now();
            let loaded = engine.load(module);
            let ms = started.elapsed().as_millis() as u64;
            tracing::debug!(from = "compiled", cache = "off", ms, "module loaded");
            loaded
        }
    }
    .context("loading the module")?;
    let services =
        limits.host_services(Arc::new(MemoryKv::default()), local_blob_dir())?;
    let request_id = (request.request_id != "local").then(|| request.request_id.clone());
    let planned = crate::invocation::plan(
        &services,
        &limits.ceilings(),
        module,
        &manifest.limits,
        &manifest.grants,
        request,
    );
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
    })
}

/// Where `docket invoke` keeps blobs between runs (`--blob-dir` overrides):
/// `.docket/blobs` in the working directory, so an upload then a download
/// of a provider work as two invocations.
fn local_blob_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(".docket").join("blobs")
}
