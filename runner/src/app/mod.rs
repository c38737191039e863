//! The running service's shared state: the engine, the store, the cache of
//! prepared modules that joins them by content digest, per-tenant concurrency
//! gates and the invocation log writer. Deploy, rollback and delete, the only
//! changes of live versions, are in `app/deployments.rs`; the log writer is
//! in `app/run_log_writer.rs`; the tenant gates and admission in
//! `app/gates.rs`; tenant lifetimes in `app/lifetimes.rs`; the operator's
//! settings in `app/settings.rs`.

use crate::capabilities::HostServices;
use crate::compiles::{CompileError, CompileQueue};
use crate::engine::{Abi, CpuShare, Engine, Invocation, InvokeError, LoadError, Tier};
use crate::limits::Ceilings;
use crate::metrics::Metrics;
use crate::names::TenantName;
use crate::registry::{ModuleDigest, NewInvocation, Storage, StoreError, Tenant, TenantId};
use crate::wasm_pool::WasmPool;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tracing::Instrument;

mod background_compiles;
mod deployments;
mod gates;
mod lifetimes;
mod module_cache;
mod modules;
mod run_log_writer;
mod settings;
#[cfg(test)]
mod test_app;
pub mod transfers;

pub use gates::{Admission, InFlight, MemoryRefused, MemoryReservation};
use gates::{GuestMemory, TenantGates};
pub use settings::{
    DEFAULT_MAX_LOADED_MODULES_MB, ServiceSettings, default_guest_memory_budget_mb,
    default_wasm_threads,
};

pub use lifetimes::{Holder, TenantLease};

use run_log_writer::{INVOCATION_QUEUE, LogMessage, write_invocations};

/// Why a deploy was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The manifest is malformed or breaks a ceiling.
    #[error("manifest: {0}")]
    Manifest(crate::manifest::ManifestError),
    /// The module is over the tenant's size quota.
    #[error("module is {size} bytes, over the tenant's limit of {limit} bytes (maxModuleBytes)")]
    TooLarge {
        /// The module's size.
        size: u64,
        /// The tenant's limit.
        limit: u64,
    },
    /// The module is not a usable action.
    #[error("module: {0}")]
    Module(#[from] LoadError),
    /// The tenant's compiles failed too often lately; it must wait
    /// ([`CompileError::FailuresExceeded`]; a failed compile itself is a
    /// [`DeployError::Module`]).
    #[error(transparent)]
    CompileFailures(CompileError),
    /// A provider's manifest and module disagree, or the tenant has another provider.
    #[error("provider: {0}")]
    Provider(String),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A deploy that went live.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployed {
    /// The action.
    pub name: String,
    /// Its new live version.
    pub version: u32,
    /// `command` or `component`.
    pub abi: Abi,
    /// The module's SHA-256.
    pub hash: ModuleDigest,
    /// The compiler whose code serves it now: `baseline` (Winch; the
    /// optimized code replaces it when compiled) or `optimized` (Cranelift).
    pub tier: Tier,
    /// Why Winch could not compile the module, when Cranelift did instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_unavailable: Option<String>,
}

impl From<CompileError> for DeployError {
    fn from(err: CompileError) -> Self {
        match err {
            CompileError::Load(err) => DeployError::Module(err),
            refused @ CompileError::FailuresExceeded { .. } => {
                DeployError::CompileFailures(refused)
            }
        }
    }
}

/// Everything a request handler needs, shared behind an `Arc`.
pub struct App {
    /// Runs guests.
    pub engine: Arc<Engine>,
    /// Tenants, keys, actions and versions; also the request path's registry.
    pub store: Arc<dyn Storage>,
    /// The operator's limit ceilings.
    pub ceilings: Ceilings,
    /// Outbound HTTP and key-value data, for the actions granted them.
    pub services: HostServices,
    /// Hash of the operator token (`DOCKET_ADMIN_TOKEN`); `None` disables operator routes.
    pub operator_token: Option<crate::registry::keys::KeyHash>,
    /// What `/metrics` shows; capabilities and compiles report here too.
    pub metrics: Arc<Metrics>,
    /// Loaded modules by tenant and digest: compiled once per tenant, however
    /// many of its versions point at it. Never shared between tenants, so the
    /// time a deploy takes says nothing about what other tenants run. Bounded
    /// by `--max-loaded-modules-mb`, least recently used evicted first.
    modules: module_cache::ModuleCache,
    /// Loads in progress, so concurrent calls of a module load it once.
    loading: Mutex<HashMap<module_cache::Key, modules::Loading>>,
    /// Who may compile when: bounded, fair between tenants, failures rate-limited.
    compiles: CompileQueue,
    /// Versions serving on baseline code, waiting for their optimized compile.
    optimizing: background_compiles::Optimizing,
    /// What each tenant's running invocations share: the concurrency quota,
    /// the CPU share and the memory budget. Keyed by the tenant's immutable
    /// id, so a tenant made again under a deleted one's name starts afresh.
    gates: Mutex<HashMap<TenantId, Arc<TenantGates>>>,
    /// Each tenant's long-lived state and how it is revoked.
    lifetimes: lifetimes::Lifetimes,
    /// Invocations of one tenant that may compute at once.
    cpu_share: usize,
    /// The service-wide guest memory budget every admission shares.
    memory: Arc<GuestMemory>,
    /// The threads guests run on.
    pool: WasmPool,
    /// Set once the server starts shutting down, so long-lived responses
    /// (run log streams) end instead of holding the shutdown for its grace.
    shutting_down: std::sync::atomic::AtomicBool,
    /// Feeds the invocation log writer, off the request path.
    invocations: mpsc::Sender<LogMessage>,
    /// Where browsers and Workfront reach this server, without a trailing
    /// slash (OAuth2 mode's URLs are made from it).
    pub public_url: String,
    /// How long a web console session lasts after sign-in.
    pub console_session: std::time::Duration,
    /// Bytes of document uploads and downloads, against their limits.
    pub transfers: transfers::Transfers,
}

impl App {
    /// A service over an engine and a store. Spawns the invocation log writer,
    /// so it must be called inside a Tokio runtime.
    pub fn new(
        engine: Arc<Engine>,
        store: Arc<dyn Storage>,
        mut services: HostServices,
        settings: ServiceSettings,
    ) -> Self {
        let metrics = Arc::new(match settings.metrics_on {
            true => Metrics::with_tenant_share(
                settings.metrics_max_series,
                settings.metrics_max_series_per_tenant,
            ),
            false => Metrics::off(),
        });
        services.outbound.observe(metrics.clone());
        services.kv = Arc::new(crate::capabilities::kv::ObservedKv::new(
            services.kv,
            metrics.clone(),
        ));
        metrics
            .module_cache
            .set_limit(settings.max_loaded_modules_mb.saturating_mul(1024 * 1024));
        let (sender, receiver) = mpsc::channel(INVOCATION_QUEUE);
        let max_age = settings.invocation_max_age;
        tokio::spawn(write_invocations(store.clone(), receiver, max_age));
        Self {
            engine,
            store,
            ceilings: settings.ceilings,
            services,
            operator_token: settings
                .operator_token
                .as_deref()
                .filter(|t| !t.is_empty())
                .map(crate::registry::keys::KeyHash::of),
            modules: module_cache::ModuleCache::new(
                settings.max_loaded_modules_mb.saturating_mul(1024 * 1024),
            ),
            loading: Mutex::new(HashMap::new()),
            compiles: CompileQueue::new(&settings.compile_settings(), metrics.clone()),
            optimizing: background_compiles::Optimizing::default(),
            metrics,
            gates: Mutex::new(HashMap::new()),
            lifetimes: lifetimes::Lifetimes::default(),
            cpu_share: settings.tenant_cpu_share,
            memory: Arc::new(GuestMemory::new(settings.guest_memory_budget_mb)),
            pool: WasmPool::new(settings.wasm_threads).expect("starting the WebAssembly threads"),
            shutting_down: std::sync::atomic::AtomicBool::new(false),
            invocations: sender,
            public_url: settings.public_url.trim_end_matches('/').to_owned(),
            console_session: settings.console_session,
            transfers: transfers::Transfers::new(
                settings.max_transfer_bytes,
                settings.tenant_transfer_bytes_per_day,
            ),
        }
    }

    /// The tenant snapshot, from the store's in-memory registry.
    pub fn tenant(&self, name: &str) -> Option<Arc<Tenant>> {
        self.store.tenant(name)
    }

    /// Follows other replicas' changes: drops the modules no live version
    /// uses any more, and when another replica makes a new version of an
    /// action whose live module is loaded here (it is called here), loads the
    /// new version's, so the next call here does not wait for the load.
    /// Other new versions are loaded by their first call. Does nothing for a
    /// store no other process writes to.
    ///
    /// Only the tenants whose snapshot was replaced since the last change are
    /// compared (snapshots are replaced whole, so an unchanged tenant keeps
    /// its `Arc`): at 10,000 tenants a change costs pointer comparisons, not
    /// a map of every live action.
    pub fn follow_changes(self: &Arc<Self>) {
        let Some(mut changes) = self.store.changes() else {
            return;
        };
        let app = Arc::downgrade(self);
        let mut seen = self.store.tenants();
        tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                let Some(app) = app.upgrade() else {
                    return;
                };
                let now = app.store.tenants();
                // Borrowed names: no allocation per tenant and change.
                let before: HashMap<&str, &Arc<Tenant>> =
                    seen.iter().map(|t| (t.name.as_str(), t)).collect();
                let mut follow: Vec<(TenantName, ModuleDigest)> = Vec::new();
                for tenant in &now {
                    let Some(old) = before
                        .get(tenant.name.as_str())
                        .filter(|old| !Arc::ptr_eq(old, tenant))
                    else {
                        continue;
                    };
                    for (action, version) in &tenant.actions {
                        let moved = old
                            .actions
                            .get(action)
                            .filter(|was| was.module != version.module);
                        if moved.is_some_and(|was| app.module_loaded(&tenant.name, &was.module)) {
                            follow.push((tenant.name.clone(), version.module.clone()));
                        }
                    }
                }
                drop(before);
                seen = now;
                app.prune_modules();
                for (tenant, digest) in follow {
                    if let Err(err) = app.ensure_module(&tenant, &digest).await {
                        tracing::error!(tenant = %tenant, module = %digest, error = %err, "live version cannot be loaded");
                    }
                }
            }
        });
    }

    /// Registers a long-lived thing of `tenant` (a run log stream), held by
    /// `holder`: revoked within a second when the tenant is deleted, made
    /// again or suspended, or the holder's admin token is rotated away.
    pub fn lease(&self, tenant: &Tenant, holder: Holder) -> TenantLease {
        let current = self.store.tenant(tenant.name.as_str());
        self.lifetimes.lease(tenant, current.as_deref(), holder)
    }

    /// Registers `tenant`'s incarnation, so that its deletion is reported
    /// to the caches keyed by name even if it never ran anything (a tenant
    /// that only deployed has compile records).
    pub(super) fn register_incarnation(&self, tenant: &Tenant) {
        let current = self.store.tenant(tenant.name.as_str());
        self.lifetimes.token(tenant, current.as_deref());
        // A predecessor of the same name found just now is forgotten before
        // this deploy is admitted (its failed compiles are not this tenant's).
        self.reconcile_tenants();
    }

    /// Checks every tenant's long-lived state against the snapshots: what
    /// belongs to a deleted, re-created or suspended tenant is revoked, and
    /// the caches keyed by name forget a deleted or re-created one.
    pub fn reconcile_tenants(&self) {
        self.drop_stale_instances();
        let ended = self
            .lifetimes
            .reconcile(|name| self.store.tenant(name.as_str()));
        self.gates
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, gates| !gates.revoked.is_cancelled());
        if ended.is_empty() {
            return;
        }
        self.prune_modules();
        for name in &ended {
            self.metrics.forget_tenant(name.as_str());
            self.compiles.forget(name);
            self.optimizing.forget(name);
            tracing::info!(tenant = %name, "tenant gone: its streams, running actions and series are ended");
        }
    }

    /// Drops the idle instances (`instance-reuse`) made under a tenant
    /// snapshot that is no longer its tenant's current one: after a deploy,
    /// a rollback, a suspension, a deletion or any other change. No request
    /// could take them any more (their key names the old snapshot); this
    /// gives their pool slots and memory back at once rather than when
    /// they are next looked at.
    pub(super) fn drop_stale_instances(&self) {
        self.engine.retain_idle(|key| {
            self.store
                .tenant(key.tenant_name())
                .is_some_and(|now| key.is_snapshot(&now))
        });
    }

    /// Runs [`App::reconcile_tenants`] every [`lifetimes::RECONCILE_EVERY`],
    /// and at once when another replica changed a tenant; stops when the
    /// service is dropped.
    pub fn watch_tenants(self: &Arc<Self>) {
        let mut changes = self.store.changes();
        let app = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(lifetimes::RECONCILE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                match changes.as_mut() {
                    Some(changes) => tokio::select! {
                        _ = tick.tick() => {}
                        changed = changes.changed() => if changed.is_err() { return },
                    },
                    None => {
                        tick.tick().await;
                    }
                }
                let Some(app) = app.upgrade() else {
                    return;
                };
                app.reconcile_tenants();
            }
        });
    }

    /// Runs one guest on the WebAssembly threads: `run` gets the engine and
    /// the tenant's CPU share, to take turns within it. The guest is dropped
    /// (and so stopped) when its tenant is deleted or suspended meanwhile,
    /// and when the returned future is dropped.
    pub async fn run_guest<F, Fut>(&self, admitted: &Admission, run: F) -> Invocation
    where
        F: FnOnce(Arc<Engine>, CpuShare) -> Fut + Send + 'static,
        Fut: Future<Output = Invocation> + Send + 'static,
    {
        let cpu = admitted.gates.cpu.clone();
        let engine = self.engine.clone();
        let started = std::time::Instant::now();
        // The guest runs on the pool's threads; its spans belong to this request's.
        let span = tracing::Span::current();
        let revoked = admitted.gates.revoked.clone();
        let stopped = move |why: String| Invocation {
            result: Err(InvokeError::Host(why)),
            duration: started.elapsed(),
            instantiate: std::time::Duration::ZERO,
            stderr_tail: None,
            stderr: None,
            outbound: Vec::new(),
        };
        // Boxed so that spawning moves a pointer, and so that this future (and
        // every one awaiting it, up to the handler's, which axum boxes per
        // request) does not carry the guest task's whole state inline: each
        // async level that held it roughly doubled the request's future
        // (about 30 KB copied and allocated per request, before).
        let running = self.pool.run(Box::pin(async move {
            tokio::select! {
                finished = run(engine, cpu).instrument(span) => finished,
                () = revoked.cancelled() => {
                    stopped("the tenant was suspended or deleted while the action ran".into())
                }
            }
        }));
        running
            .await
            .unwrap_or_else(|e| stopped(format!("the guest's task failed: {e}")))
    }

    /// Queues an invocation record for the log; drops it (with a warning) rather
    /// than slow the request path when the writer is behind.
    pub fn record(&self, invocation: NewInvocation) {
        if self
            .invocations
            .try_send(LogMessage::Record(invocation))
            .is_err()
        {
            tracing::warn!("invocation log is behind; a record was dropped");
        }
    }

    /// Marks the start of a shutdown: streams end at their next poll.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    /// Whether a shutdown has started.
    pub fn shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Waits until every invocation recorded so far is written (at shutdown).
    pub async fn flush_invocations(&self) {
        let (done, written) = tokio::sync::oneshot::channel();
        if self.invocations.send(LogMessage::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}
