//! The component ABI: a component of world `docket:action/action` exporting
//! `run: func(req: request) -> result<option<string>, failure>`.

use super::limiter::{GuestLimiter, LimitHit};
use super::output_guard::{BoundedText, WithOutputLimit};
use super::pipe::Redirect;
use super::request::{ActionRequest, FailureKind, InvokeError, Outcome};
use super::{Engine, GuestIo, LoadError, classify};
use crate::capabilities::blob::BlobBucket;
use crate::capabilities::blob::component::BlobView;
use crate::capabilities::kv::KvBucket;
use crate::capabilities::kv::component::KvView;
use crate::capabilities::outbound::component::OutboundHttp;
use crate::capabilities::wasi_config::{ConfigVariables, ConfigView};
use crate::capabilities::{Capabilities, blob, kv, outbound, wasi_config};
use crate::limits::Limits;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;
use wasmtime::component::{Component, Func, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtxView, WasiHttpView};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../guest-sdk/wit",
        world: "action",
        exports: { default: async },
    });
}

pub(crate) use bindings::ActionPre;
use bindings::Request;

/// Store state of a component-ABI invocation: WASI itself, then one field per
/// capability, each linked by that capability's own `add_to_linker`.
pub(crate) struct ComponentState {
    wasi: WasiCtx,
    pub(super) table: ResourceTable,
    limiter: GuestLimiter,
    /// What `wasi:config/store` answers: the manifest's config and the granted secrets.
    config: ConfigVariables,
    /// `wasi:http`, sending through the invocation's outbound grant.
    outbound: OutboundHttp,
    /// `wasi:keyvalue`: the invocation's namespace, when granted.
    kv: Option<KvBucket>,
    /// What `docket:action/caller` answers.
    username_verified: bool,
    /// `docket:provider/blob`: the tenant's blobs, when granted.
    blob: Option<BlobBucket>,
    /// Where the guest's stdout and stderr go: the current request's pipe.
    stderr: Redirect,
}

impl ComponentState {
    /// Gives a reused instance's state the request it answers now: its
    /// stderr capture, its capabilities (fresh budgets, bound to its
    /// deadline), its config and secrets, its caller. The WASI context and
    /// the resource table are the guest's and stay.
    fn renew(&mut self, request: &ActionRequest, caps: &Capabilities, io: &GuestIo) {
        self.stderr.point_to(io.stderr.clone());
        self.outbound = OutboundHttp::new(caps.outbound.clone());
        self.kv = caps.kv.clone();
        self.blob = caps.blob.clone();
        self.config = ConfigVariables::new(&request.config, &request.secrets);
        self.username_verified = request.username_verified;
    }
}

impl bindings::docket::action::caller::Host for ComponentState {
    fn username_verified(&mut self) -> bool {
        self.username_verified
    }
}

impl WasiView for ComponentState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl ConfigView for ComponentState {
    fn config(&mut self) -> &ConfigVariables {
        &self.config
    }
}

impl WasiHttpView for ComponentState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        self.outbound.view(&mut self.table)
    }
}

/// The linker for components: WASI 0.2 and each capability, all denying by context.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<ComponentState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    outbound::component::add_to_linker(&mut linker)?;
    wasi_config::add_to_linker(&mut linker)?;
    bindings::docket::action::caller::add_to_linker::<_, wasmtime::component::HasSelf<_>>(
        &mut linker,
        |state| state,
    )?;
    kv::component::add_to_linker(&mut linker, |state: &mut ComponentState| KvView {
        bucket: state.kv.as_ref(),
        table: &mut state.table,
    })?;
    blob::component::add_to_linker(&mut linker, |state: &mut ComponentState| BlobView {
        bucket: state.blob.as_ref(),
        table: &mut state.table,
    })?;
    Ok(linker)
}

/// Compiles a component.
pub(crate) fn compile(engine: &wasmtime::Engine, bytes: &[u8]) -> Result<Component, LoadError> {
    Component::new(engine, bytes).map_err(|e| LoadError::Invalid(format!("{e:#}")))
}

/// A pre-instantiated component, by what it exports.
pub(crate) enum PreparedComponent {
    /// World `docket:action/action`: `run`.
    Action(ActionPre<ComponentState>),
    /// World `docket:provider/provider` (some of its interfaces).
    Provider(super::provider::ProviderPre),
}

/// Checks a compiled component's imports and its exports (an action's `run`,
/// or a provider's endpoint interfaces), and pre-instantiates it.
pub(crate) fn prepare(
    engine: &wasmtime::Engine,
    linker: &Linker<ComponentState>,
    component: &Component,
) -> Result<PreparedComponent, LoadError> {
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
    if let Some(provider) = super::provider::ProviderPre::new(&pre) {
        return Ok(PreparedComponent::Provider(provider));
    }
    ActionPre::new(pre)
        .map(PreparedComponent::Action)
        .map_err(|e| {
            LoadError::NoAbi(format!(
                "the component exports neither `run` of world docket:action/action \
                 nor an interface of world docket:provider/provider: {e:#}"
            ))
        })
}

/// The packages the linker provides: WASI 0.2 (each denying what is not
/// granted) and Docket's own `docket:action/caller`.
const PROVIDED_PACKAGES: [&str; 11] = [
    "docket:action/",
    "docket:provider/",
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

/// A store for one invocation of `engine`'s component, its limits in place.
pub(super) fn new_store(
    engine: &Engine,
    wasmtime: &wasmtime::Engine,
    limits: &Limits,
    request: &ActionRequest,
    caps: &Capabilities,
    io: &GuestIo,
    deadline: Instant,
) -> wasmtime::Store<ComponentState> {
    let stderr = Redirect::new(io.stderr.clone());
    let wasi = WasiCtxBuilder::new()
        .stdout(stderr.clone())
        .stderr(stderr.clone())
        .arg(&request.action)
        .allow_tcp(false)
        .allow_udp(false)
        .build();
    let config = ConfigVariables::new(&request.config, &request.secrets);
    let state = ComponentState {
        wasi,
        outbound: OutboundHttp::new(caps.outbound.clone()),
        kv: caps.kv.clone(),
        table: ResourceTable::new(),
        limiter: GuestLimiter::new(limits.memory_bytes(), engine.settings.max_table_elements),
        config,
        username_verified: request.username_verified,
        blob: caps.blob.clone(),
        stderr,
    };
    engine.new_store(wasmtime, state, limits, deadline, |s| &mut s.limiter)
}

/// Instantiates `pre` in `store` (its start functions run here, under the
/// deadline already set) and finds its `run` export.
async fn instantiate_run(
    pre: &ActionPre<ComponentState>,
    store: &mut wasmtime::Store<ComponentState>,
) -> Result<Func, InvokeError> {
    let instance = pre
        .instance_pre()
        .instantiate_async(&mut *store)
        .instrument(tracing::debug_span!("instantiate"))
        .await
        .map_err(classify)?;
    instance
        .get_func(&mut *store, "run")
        .ok_or_else(|| InvokeError::Host("the component has no `run`".into()))
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
    let wasmtime = pre.instance_pre().engine();
    let mut store = new_store(engine, wasmtime, limits, request, &caps, io, deadline);
    let run = instantiate_run(pre, &mut store).await?;
    io.mark_instantiated();
    answer(&mut store, run, limits, request).await
}

/// Calls `run` once and reads its answer.
async fn answer(
    store: &mut wasmtime::Store<ComponentState>,
    run: Func,
    limits: &Limits,
    request: &ActionRequest,
) -> Result<Outcome, InvokeError> {
    // `run` is called through its raw signature so that the answer's text is
    // measured against the output limit before the host copies it (`answer`).
    let run = run
        .typed::<(&Request,), (Result<Option<BoundedText>, FailureText>,)>(&*store)
        .map_err(classify)?;
    let input = to_wit(request);
    let call = run.call_async(&mut *store, (&input,));
    let (answer,) = WithOutputLimit::new(limits.max_output_bytes(), call)
        .instrument(tracing::debug_span!("run"))
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
        Outcome::Provided(_) => 0,
        Outcome::Failure { message, .. } => message.len(),
    };
    if answer_len > limits.max_output_bytes() {
        return Err(InvokeError::Limit(LimitHit::Output));
    }
    Ok(outcome)
}

/// An instance that may answer more than one request (`instance-reuse`
/// above 1; see `reuse`), with what it was made from.
pub(crate) struct Reusable {
    store: wasmtime::Store<ComponentState>,
    run: Func,
    pre: Arc<ActionPre<ComponentState>>,
    limits: Limits,
}

impl Reusable {
    /// Instantiates `pre` for a first request, its state and bounds already
    /// that request's.
    pub(super) async fn instantiate(
        engine: &Engine,
        pre: &Arc<ActionPre<ComponentState>>,
        limits: &Limits,
        request: &ActionRequest,
        caps: &Capabilities,
        io: &GuestIo,
        deadline: Instant,
    ) -> Result<Self, InvokeError> {
        let wasmtime = pre.instance_pre().engine();
        let mut store = new_store(engine, wasmtime, limits, request, caps, io, deadline);
        let run = instantiate_run(pre, &mut store).await?;
        Ok(Self {
            store,
            run,
            pre: pre.clone(),
            limits: *limits,
        })
    }

    /// Whether it may answer a request of `pre` under `limits`: only ever
    /// for the very module and limits it was made with.
    pub(super) fn fits(&self, pre: &Arc<ActionPre<ComponentState>>, limits: &Limits) -> bool {
        Arc::ptr_eq(&self.pre, pre) && self.limits == *limits
    }

    /// Makes everything request-scoped this request's (see `reuse`).
    pub(super) fn renew(
        &mut self,
        request: &ActionRequest,
        caps: &Capabilities,
        io: &GuestIo,
        deadline: Instant,
    ) {
        self.store.data_mut().renew(request, caps, io);
        super::store::arm(&mut self.store, &self.limits, deadline);
    }

    /// Answers one request.
    pub(super) async fn answer(&mut self, request: &ActionRequest) -> Result<Outcome, InvokeError> {
        answer(&mut self.store, self.run, &self.limits, request).await
    }

    /// The linear memory it holds, in bytes.
    pub(super) fn memory_granted(&self) -> usize {
        self.store.data().limiter.memory_granted()
    }
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
