//! The WebAssembly engine: one wasmtime [`wasmtime::Engine`] per process, modules
//! compiled once and pre-instantiated, and each invocation in a fresh store with
//! its limits set before anything of the guest runs.
//!
//! The engine knows nothing of HTTP or storage: it takes module bytes and a
//! request, and gives back an [`Invocation`].
//!
//! * [`Engine::load`] validates, detects the ABI, checks imports, compiles and
//!   builds an `InstancePre`. This is the only place guest code is compiled.
//! * [`Engine::invoke`] instantiates and runs one request under [`Limits`].
//!
//! One background thread ticks the epoch for all stores ([`EpochTicker`]): a
//! per-request timer would cost a thread or task per call for nothing.

mod artifacts;
mod command;
mod component;
pub mod cpu;
mod crash;
mod epoch;
mod error;
mod inspect;
mod limiter;
mod output_guard;
mod pipe;
pub mod provider;
mod request;
mod reuse;
mod settings;
mod store;
mod tier;
mod tier_engines;
pub mod worker;

pub use cpu::CpuShare;
pub use epoch::EPOCH_TICK;
pub(crate) use error::classify;
pub use error::{Abi, LoadError};
pub use limiter::LimitHit;
pub use request::{ActionRequest, FailureKind, Invocation, InvokeError, Outcome};
pub use reuse::ReuseKey;
pub use settings::EngineSettings;
pub use tier::{CompileTiers, Tier};
pub use tier_engines::{compiler_config, precompile};

use crate::capabilities::Capabilities;
use crate::limits::Limits;
use epoch::EpochTicker;
use std::sync::Arc;
use std::time::Instant;
use tier_engines::TierEngine;

/// A compiled, pre-instantiated action module, ready to run many times.
#[derive(Clone)]
pub struct PreparedModule {
    abi: Abi,
    tier: Tier,
    /// Why Winch could not compile it, when Cranelift did instead.
    baseline_unavailable: Option<Arc<str>>,
    kind: PreparedKind,
}

#[derive(Clone)]
enum PreparedKind {
    Command(Arc<wasmtime::InstancePre<command::CommandState>>),
    Component(Arc<component::ActionPre<component::ComponentState>>),
    Provider(Arc<provider::ProviderPre>),
}

impl PreparedModule {
    /// Which ABI the module speaks.
    pub fn abi(&self) -> Abi {
        self.abi
    }

    /// Which compiler produced its code.
    pub fn tier(&self) -> Tier {
        self.tier
    }

    /// Why the baseline compiler could not compile it, when the optimizing
    /// one did instead.
    pub fn baseline_unavailable(&self) -> Option<&str> {
        self.baseline_unavailable.as_deref()
    }

    /// Notes why Winch could not compile it.
    pub fn with_baseline_unavailable(mut self, why: String) -> Self {
        self.baseline_unavailable = Some(why.into());
        self
    }

    /// The document endpoints it answers, when it is a provider component;
    /// `None` for an action (and for any command module, which says nothing
    /// of what it answers until it runs).
    pub fn provider_endpoints(&self) -> Option<Vec<crate::names::DocEndpoint>> {
        match &self.kind {
            PreparedKind::Provider(pre) => Some(pre.endpoints()),
            _ => None,
        }
    }

    /// The bytes its compiled image takes in memory (code, data and
    /// metadata, as wasmtime maps it): what the loaded-module bound counts.
    pub fn code_bytes(&self) -> u64 {
        let range = match &self.kind {
            PreparedKind::Command(pre) => pre.module().image_range(),
            PreparedKind::Component(pre) => pre.instance_pre().component().image_range(),
            PreparedKind::Provider(pre) => pre.instance_pre().component().image_range(),
        };
        (range.end as usize).saturating_sub(range.start as usize) as u64
    }
}

/// The process-wide engine. Cheap to share behind an `Arc`.
///
/// It holds one wasmtime engine per compile tier (a module runs only in the
/// engine that compiled it), each with its own pooling allocator and linkers,
/// and one thread ticks the epoch of both.
pub struct Engine {
    optimized: TierEngine,
    baseline: Option<TierEngine>,
    /// `--max-instances` across both tiers: the steady tier's pool holds
    /// that many, the other tier allocates on demand (see [`TierEngine::new`]).
    /// Idle instances kept for reuse hold a permit too.
    instances: Arc<tokio::sync::Semaphore>,
    /// Instances of actions that opted into reuse, between requests.
    idle: reuse::IdleInstances<component::Reusable>,
    settings: EngineSettings,
    _ticker: EpochTicker,
}

impl Engine {
    /// Builds the engine, its linkers and its epoch ticker. Winch compiles
    /// for x86_64 only here; elsewhere every policy compiles with Cranelift.
    pub fn new(mut settings: EngineSettings) -> Result<Self, LoadError> {
        if settings.compile_tiers.has_baseline() && !cfg!(target_arch = "x86_64") {
            tracing::warn!(
                policy = %settings.compile_tiers,
                "Winch (the baseline tier) is for x86_64 only; compiling with Cranelift alone"
            );
            settings.compile_tiers = CompileTiers::OptimizedOnly;
        }
        // The tier that serves once the background compiles caught up.
        let steady = match settings.compile_tiers.optimizes_later() {
            true => Tier::Optimized,
            false => settings.compile_tiers.first(),
        };
        let pooled = |tier: Tier| (tier == steady).then_some(settings.max_instances);
        let optimized = TierEngine::new(&settings, Tier::Optimized, pooled(Tier::Optimized))?;
        let baseline = match settings.compile_tiers.has_baseline() {
            true => Some(TierEngine::new(
                &settings,
                Tier::Baseline,
                pooled(Tier::Baseline),
            )?),
            false => None,
        };
        let mut ticked = vec![optimized.wasmtime.clone()];
        ticked.extend(baseline.iter().map(|b| b.wasmtime.clone()));
        let ticker = EpochTicker::start(ticked);
        Ok(Self {
            optimized,
            baseline,
            instances: Arc::new(tokio::sync::Semaphore::new(settings.max_instances as usize)),
            idle: reuse::IdleInstances::new(
                settings.max_idle_instances as usize,
                settings.max_idle_per_version as usize,
                usize::try_from(settings.max_idle_memory_mb.saturating_mul(1024 * 1024))
                    .unwrap_or(usize::MAX),
            ),
            settings,
            _ticker: ticker,
        })
    }

    /// The engine of a tier. Without a baseline engine every module is
    /// optimized, so asking for baseline gets the optimized engine.
    fn tier(&self, tier: Tier) -> (&TierEngine, Tier) {
        match (tier, &self.baseline) {
            (Tier::Baseline, Some(baseline)) => (baseline, Tier::Baseline),
            _ => (&self.optimized, Tier::Optimized),
        }
    }

    /// The tier a new version is compiled with first under the operator's policy.
    pub fn first_tier(&self) -> Tier {
        self.tier(self.settings.compile_tiers.first()).1
    }

    /// Whether modules serving on baseline code get optimized code compiled
    /// in the background.
    pub fn optimizes_later(&self) -> bool {
        self.settings.compile_tiers.optimizes_later()
    }

    /// Instances and memories currently taken from the pool: `(instances, memories)`.
    /// Both return to zero when no invocation is running and no instance is
    /// kept idle for reuse ([`Engine::idle_instances`]).
    pub fn pool_usage(&self) -> (u64, usize) {
        std::iter::once(&self.optimized)
            .chain(&self.baseline)
            .filter_map(|tier| tier.wasmtime.pooling_allocator_metrics())
            .fold((0, 0), |(instances, memories), m| {
                (instances + m.core_instances(), memories + m.memories())
            })
    }

    /// Instances kept idle for reuse now.
    pub fn idle_instances(&self) -> usize {
        self.idle.count()
    }

    /// Drops every idle instance whose key `keep` refuses: those of a tenant
    /// whose snapshot changed (a deploy, a rollback, a suspension) or that
    /// is gone, so they give back their pool slots at once.
    pub fn retain_idle(&self, keep: impl Fn(&ReuseKey) -> bool) {
        self.idle.retain(keep);
    }

    /// A permit of `--max-instances`: a free one, else the one of the
    /// oldest idle instance, dropped for it. An instance kept for reuse
    /// never makes a request wait or be refused.
    fn slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, InvokeError> {
        match self.instances.clone().try_acquire_owned() {
            Ok(permit) => Ok(permit),
            Err(_) => self.idle.evict_oldest().ok_or(InvokeError::Busy),
        }
    }

    /// The settings the engine was built with.
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Validates, compiles and pre-instantiates module bytes. CPU-heavy: call it
    /// from a blocking context, never on the request path.
    /// Compiles with the optimizing compiler, for local tools that run a
    /// module once or a few times.
    pub fn load(&self, bytes: &[u8]) -> Result<PreparedModule, LoadError> {
        let abi = self.check(bytes)?;
        self.compile_checked(bytes, abi, Tier::Optimized)
    }

    /// Compiles and pre-instantiates bytes that already passed [`Engine::check`],
    /// which returned `abi`, with the compiler of `tier`.
    pub fn compile_checked(
        &self,
        bytes: &[u8],
        abi: Abi,
        tier: Tier,
    ) -> Result<PreparedModule, LoadError> {
        let (engine, tier) = self.tier(tier);
        match abi {
            Abi::Command => {
                self.prepare_command(engine, tier, command::compile(&engine.wasmtime, bytes)?)
            }
            Abi::Component => {
                self.prepare_component(engine, tier, component::compile(&engine.wasmtime, bytes)?)
            }
        }
    }

    /// Every check that needs no compile: size, preamble (which ABI), then one
    /// pass for imports, function count and each function's size, locals,
    /// nesting and `br_table`s (see `inspect`). Linear in the input and
    /// allocating little; [`Engine::load`] runs it first.
    pub fn check(&self, bytes: &[u8]) -> Result<Abi, LoadError> {
        if bytes.len() > self.settings.max_module_bytes {
            return Err(LoadError::TooLarge {
                size: bytes.len(),
                limit: self.settings.max_module_bytes,
            });
        }
        let abi = detect_abi(bytes)?;
        inspect::check(bytes, abi, &self.settings)?;
        Ok(abi)
    }

    /// The compiled form of a prepared module, to cache on disk so a restart does
    /// not compile again. Only [`Engine::load_artifact`] of this same engine
    /// configuration may read it back.
    pub fn artifact(&self, module: &PreparedModule) -> Result<Vec<u8>, LoadError> {
        let serialized = match &module.kind {
            PreparedKind::Command(pre) => pre.module().serialize(),
            PreparedKind::Component(pre) => pre.instance_pre().component().serialize(),
            PreparedKind::Provider(pre) => pre.instance_pre().component().serialize(),
        };
        serialized.map_err(|e| LoadError::Engine(format!("{e:#}")))
    }

    /// Identifies the engine configuration compiled artifacts depend on; part of
    /// every artifact's file name so an upgrade never reads a stale one.
    /// The tier is hashed in too, though wasmtime's own compatibility hash
    /// already tells Winch's calling convention from Cranelift's.
    pub fn artifact_fingerprint(&self, tier: Tier) -> String {
        use std::hash::{Hash, Hasher};
        let (engine, tier) = self.tier(tier);
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine
            .wasmtime
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        if tier == Tier::Baseline {
            tier.hash(&mut hasher);
        }
        format!("{:016x}", hasher.finish())
    }

    fn prepare_command(
        &self,
        engine: &TierEngine,
        tier: Tier,
        module: wasmtime::Module,
    ) -> Result<PreparedModule, LoadError> {
        let pre = command::prepare(&engine.command_linker, &module)?;
        Ok(PreparedModule {
            abi: Abi::Command,
            tier,
            baseline_unavailable: None,
            kind: PreparedKind::Command(Arc::new(pre)),
        })
    }

    fn prepare_component(
        &self,
        engine: &TierEngine,
        tier: Tier,
        component: wasmtime::component::Component,
    ) -> Result<PreparedModule, LoadError> {
        let kind = match component::prepare(&engine.wasmtime, &engine.component_linker, &component)?
        {
            component::PreparedComponent::Action(pre) => PreparedKind::Component(Arc::new(pre)),
            component::PreparedComponent::Provider(pre) => PreparedKind::Provider(Arc::new(pre)),
        };
        Ok(PreparedModule {
            abi: Abi::Component,
            tier,
            baseline_unavailable: None,
            kind,
        })
    }

    /// Runs one request against a prepared module under `limits`, stopping it
    /// at `deadline` (the invocation's one deadline, which its capabilities
    /// were given too), taking turns on the CPU within `share` when one is
    /// given (see [`cpu`]). Always on a fresh instance.
    pub async fn invoke(
        &self,
        module: &PreparedModule,
        limits: &Limits,
        request: &ActionRequest,
        caps: Capabilities,
        share: Option<&CpuShare>,
        deadline: Instant,
    ) -> Invocation {
        self.invoke_reusing(module, limits, request, caps, share, deadline, None)
            .await
    }

    /// [`Engine::invoke`], on an idle instance of `reuse` when the action
    /// is a component whose `limits.instance_reuse` is above 1 (see `reuse`).
    #[allow(clippy::too_many_arguments)]
    pub async fn invoke_reusing(
        &self,
        module: &PreparedModule,
        limits: &Limits,
        request: &ActionRequest,
        caps: Capabilities,
        share: Option<&CpuShare>,
        deadline: Instant,
        reuse: Option<&ReuseKey>,
    ) -> Invocation {
        let started = Instant::now();
        let outbound = caps.outbound.clone();
        let caps = Arc::new(caps);
        let io = GuestIo::new(limits, self.settings.max_stderr_bytes);
        let run = async {
            match &module.kind {
                PreparedKind::Command(pre) => {
                    let _slot = self.slot()?;
                    command::run(self, pre, limits, request, caps, &io, deadline).await
                }
                PreparedKind::Component(_) | PreparedKind::Provider(_)
                    if request.provider.is_some()
                        != matches!(module.kind, PreparedKind::Provider(_)) =>
                {
                    Err(InvokeError::Host(
                        "an action was called as a provider, or a provider as an action".into(),
                    ))
                }
                PreparedKind::Component(pre) => match reuse {
                    Some(key) if limits.instance_reuse > 1 => {
                        self.run_reusing(pre, key, limits, request, &caps, &io, deadline)
                            .await
                    }
                    _ => {
                        let _slot = self.slot()?;
                        component::run(self, pre, limits, request, caps, &io, deadline).await
                    }
                },
                PreparedKind::Provider(pre) => {
                    let _slot = self.slot()?;
                    provider::run(self, pre, limits, request, caps, &io, deadline).await
                }
            }
        };
        let run = cpu::TakingTurns::new(share, run);
        // The epoch callback stops guests that compute; this stops guests that wait
        // on the host (a sleep, later an outbound call), whose stores never tick.
        let result = match tokio::time::timeout_at(deadline.into(), run).await {
            Ok(result) => result,
            Err(_elapsed) => Err(InvokeError::Limit(LimitHit::Timeout)),
        };
        let result = match result {
            Err(InvokeError::Trap(_)) if io.stdout.overflowed() => {
                Err(InvokeError::Limit(LimitHit::Output))
            }
            // A trap after a runtime reported its panic: the panic says why.
            Err(InvokeError::Trap(trap)) => Err(InvokeError::Trap(
                crash::panic_report(&io.stderr.text()).unwrap_or(trap),
            )),
            other => other,
        };
        let duration = started.elapsed();
        let instantiate = io
            .instantiated
            .get()
            .map_or(duration, |at| at.saturating_duration_since(started));
        Invocation {
            result,
            duration,
            instantiate,
            stderr_tail: io.stderr.last_line(),
            stderr: io.stderr.excerpt(),
            outbound: outbound.map(|grant| grant.calls()).unwrap_or_default(),
        }
    }
}

/// The stdio pipes of one invocation, and when its instance was ready.
pub(crate) struct GuestIo {
    stdout: pipe::BoundedPipe,
    stderr: pipe::BoundedPipe,
    /// Set once instantiation (start functions included) finished.
    instantiated: std::sync::OnceLock<Instant>,
}

impl GuestIo {
    /// Notes that the instance is ready: what came before was instantiation,
    /// what follows is the run.
    fn mark_instantiated(&self) {
        let _ = self.instantiated.set(Instant::now());
    }

    fn new(limits: &Limits, max_stderr_bytes: usize) -> Self {
        Self {
            stdout: pipe::BoundedPipe::new(limits.max_output_bytes(), pipe::Overflow::Trap),
            stderr: pipe::BoundedPipe::new(max_stderr_bytes, pipe::Overflow::Truncate),
            instantiated: std::sync::OnceLock::new(),
        }
    }
}

/// Reads the preamble: core modules are version 1, components layer 1.
fn detect_abi(bytes: &[u8]) -> Result<Abi, LoadError> {
    const MAGIC: &[u8; 4] = b"\0asm";
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(LoadError::NotWasm);
    }
    match bytes[4..8] {
        [1, 0, 0, 0] => Ok(Abi::Command),
        [_, _, 1, 0] => Ok(Abi::Component),
        _ => Err(LoadError::Invalid(format!(
            "unsupported WebAssembly version/layer bytes {:02x?}",
            &bytes[4..8]
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_core_modules_and_components_by_preamble() {
        assert_eq!(detect_abi(b"\0asm\x01\0\0\0"), Ok(Abi::Command));
        assert_eq!(detect_abi(b"\0asm\x0d\0\x01\0"), Ok(Abi::Component));
        assert_eq!(detect_abi(b"PK\x03\x04rest"), Err(LoadError::NotWasm));
        assert_eq!(detect_abi(b"\0as"), Err(LoadError::NotWasm));
    }
}
