//! The component ABI: a component of world `docket:action/action` exporting
//! `run: func(req: request) -> result<option<string>, failure>`.

use super::answer::{BoundedText, WithOutputLimit};
use super::invocation::{ActionRequest, FailureKind, InvokeError, Outcome};
use super::limiter::{GuestLimiter, LimitHit};
use super::{Engine, GuestIo, LoadError, classify};
use crate::capabilities::outbound::OutboundRequest;
use crate::capabilities::{Capabilities, outbound_not_granted};
use crate::limits::Limits;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_config::{WasiConfig, WasiConfigVariables};
use wasmtime_wasi_http::{WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../guest-sdk/wit",
        world: "action",
        exports: { default: async },
    });
}

pub(crate) use bindings::ActionPre;
use bindings::Request;

/// Store state of a component-ABI invocation.
pub(crate) struct ComponentState {
    wasi: WasiCtx,
    /// What `wasi:config/store` answers: the manifest's config and the granted secrets.
    config: WasiConfigVariables,
    http: WasiHttpCtx,
    outbound: OutboundHooks,
    /// What the invocation may use; the key-value host reads its grant here.
    pub(super) caps: Arc<Capabilities>,
    pub(super) table: ResourceTable,
    limiter: GuestLimiter,
}

impl WasiView for ComponentState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for ComponentState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// `wasi:http` is linked so toolchains that import it by default load; requests
/// go out only through the invocation's outbound grant (allow-list, SSRF guard,
/// budget), and without one fail naming the manifest key. Redirects are not
/// followed here: the guest sees the 3xx, and a request to the new location is
/// checked like any other.
struct OutboundHooks {
    caps: Arc<Capabilities>,
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = wasmtime_wasi_http::Result<(
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                )>,
            > + Send,
    > {
        let caps = self.caps.clone();
        Box::new(async move {
            let denied = |message: String| wasmtime_wasi_http::Error::InternalError(Some(message));
            let Some(grant) = caps.outbound.as_ref() else {
                let host = request.uri().host().unwrap_or("").to_owned();
                return Err(denied(outbound_not_granted(&host)));
            };
            // Check the destination and take a slot of the request budget
            // before buffering any body: a component cannot make the host hold
            // more bodies than its budget allows.
            grant
                .admit(&request.uri().to_string())
                .map_err(|e| denied(e.0))?;
            let (parts, body) = request.into_parts();
            let limit = grant.max_request_bytes();
            let body = Limited::new(body, limit)
                .collect()
                .await
                .map_err(|e| {
                    denied(format!(
                        "reading the request body: {e} (limit {limit} bytes)"
                    ))
                })?
                .to_bytes();
            let outbound = OutboundRequest {
                method: parts.method.to_string(),
                url: parts.uri.to_string(),
                headers: parts
                    .headers
                    .iter()
                    .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                    .collect(),
                body: body.to_vec(),
            };
            let answer = grant
                .send(outbound, false, true)
                .await
                .map_err(|e| denied(e.0))?;
            let mut response = http::Response::builder().status(answer.status);
            for (name, value) in &answer.headers {
                response = response.header(name, value);
            }
            let body = Full::new(Bytes::from(answer.body))
                .map_err(|never| match never {})
                .boxed_unsync();
            let response = response
                .body(body)
                .map_err(|e| denied(format!("bad response: {e}")))?;
            let done: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send> =
                Box::new(async { Ok(()) });
            Ok((response, done))
        })
    }
}

/// The linker for components: WASI 0.2 and `wasi:http`, all denying by context.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<ComponentState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    wasmtime_wasi_config::add_to_linker(&mut linker, |state: &mut ComponentState| {
        WasiConfig::from(&state.config)
    })?;
    super::keyvalue::add_to_linker(&mut linker)?;
    Ok(linker)
}

/// Compiles a component.
pub(crate) fn compile(engine: &wasmtime::Engine, bytes: &[u8]) -> Result<Component, LoadError> {
    Component::new(engine, bytes).map_err(|e| LoadError::Invalid(format!("{e:#}")))
}

/// Checks a compiled component's imports and its `run` export, and
/// pre-instantiates it.
pub(crate) fn prepare(
    engine: &wasmtime::Engine,
    linker: &Linker<ComponentState>,
    component: &Component,
) -> Result<ActionPre<ComponentState>, LoadError> {
    let unknown: Vec<String> = component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .filter(|name| !is_provided(name))
        .collect();
    let pre = linker
        .instantiate_pre(component)
        .map_err(|e| match unknown.is_empty() {
            true => LoadError::UnknownImports(vec![format!("{e:#}")]),
            false => LoadError::UnknownImports(unknown.clone()),
        })?;
    ActionPre::new(pre).map_err(|e| {
        LoadError::NoAbi(format!(
            "the component does not export `run` of world docket:action/action: {e:#}"
        ))
    })
}

/// The WASI 0.2 packages the linker provides (each denying what is not granted).
const PROVIDED_PACKAGES: [&str; 9] = [
    "wasi:config/",
    "wasi:keyvalue/",
    "wasi:cli/",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:filesystem/",
    "wasi:sockets/",
    "wasi:http/",
];

/// Whether a top-level component import is one the linker provides: the one
/// list, used before compiling (`inspect`) and after ([`prepare`]).
pub(super) fn is_provided(import: &str) -> bool {
    PROVIDED_PACKAGES.iter().any(|p| import.starts_with(p))
}

/// Runs one request through a component.
pub(crate) async fn run(
    engine: &Engine,
    pre: &ActionPre<ComponentState>,
    limits: &Limits,
    request: &ActionRequest,
    caps: Arc<Capabilities>,
    io: &GuestIo,
    deadline: Instant,
) -> Result<Outcome, InvokeError> {
    let wasi = WasiCtxBuilder::new()
        .stdout(io.stderr.clone())
        .stderr(io.stderr.clone())
        .arg(&request.action)
        .allow_tcp(false)
        .allow_udp(false)
        .build();
    let config = request
        .config
        .iter()
        .chain(request.secrets.iter())
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let state = ComponentState {
        wasi,
        config,
        http: WasiHttpCtx::new(),
        outbound: OutboundHooks { caps: caps.clone() },
        caps,
        table: ResourceTable::new(),
        limiter: GuestLimiter::new(limits.memory_bytes(), engine.settings.max_table_elements),
    };
    let mut store = engine.new_store(state, limits, deadline, |s| &mut s.limiter);
    let instance = pre
        .instance_pre()
        .instantiate_async(&mut store)
        .await
        .map_err(classify)?;
    // `run` is called through its raw signature so that the answer's text is
    // measured against the output limit before the host copies it (`answer`).
    let run = instance
        .get_typed_func::<(&Request,), (Result<Option<BoundedText>, FailureText>,)>(
            &mut store, "run",
        )
        .map_err(classify)?;
    let input = to_wit(request);
    let call = run.call_async(&mut store, (&input,));
    let (answer,) = WithOutputLimit::new(limits.max_output_bytes(), call)
        .await
        .map_err(classify)?;
    let outcome = match answer {
        Ok(message) => Outcome::Success {
            message: message.map(|m| m.0),
        },
        Err(FailureText::Forbidden(message)) => failure(FailureKind::Forbidden, message.0),
        Err(FailureText::NotFound(message)) => failure(FailureKind::NotFound, message.0),
        Err(FailureText::Failed(message)) => failure(FailureKind::Failed, message.0),
    };
    // The lift measured code units; a UTF-16 answer may grow in UTF-8.
    let answer_len = match &outcome {
        Outcome::Success { message } => message.as_ref().map_or(0, String::len),
        Outcome::Failure { message, .. } => message.len(),
    };
    if answer_len > limits.max_output_bytes() {
        return Err(InvokeError::Limit(LimitHit::Output));
    }
    Ok(outcome)
}

/// The WIT `failure` variant, its message bounded like the success message.
#[derive(wasmtime::component::ComponentType, wasmtime::component::Lift)]
#[component(variant)]
enum FailureText {
    #[component(name = "forbidden")]
    Forbidden(BoundedText),
    #[component(name = "not-found")]
    NotFound(BoundedText),
    #[component(name = "failed")]
    Failed(BoundedText),
}

fn failure(kind: FailureKind, message: String) -> Outcome {
    Outcome::Failure { kind, message }
}

fn to_wit(request: &ActionRequest) -> Request {
    let pairs = |map: &std::collections::BTreeMap<String, String>| {
        map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    Request {
        action: request.action.clone(),
        document_id: request.document_id.clone(),
        document_version_id: request.document_version_id.clone(),
        username: request.username.clone(),
        params: pairs(&request.params),
        config: pairs(&request.config),
        tenant: request.tenant.clone(),
        request_id: request.request_id.clone(),
    }
}
