//! The running service's shared state: the engine, the store, the cache of
//! prepared modules that joins them by content digest, per-tenant concurrency
//! gates and the invocation log writer.

use crate::capabilities::HostServices;
use crate::engine::{Abi, Engine, LoadError, PreparedModule};
use crate::limits::Ceilings;
use crate::manifest::ActionManifest;
use crate::names::TenantName;
use crate::registry::store::{NewInvocation, NewVersion, Store, StoreError};
use crate::registry::{ModuleDigest, Registry, Tenant};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::mpsc;

/// How many invocation records may wait for the log writer before new ones are dropped.
const INVOCATION_QUEUE: usize = 16_384;
/// How long the log writer waits after a write before taking the next batch.
const INVOCATION_FLUSH_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);
/// How many records the writer puts in one transaction.
const INVOCATION_BATCH: usize = 4096;

/// Why a deploy was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The manifest is malformed or breaks a ceiling.
    #[error("manifest: {0}")]
    Manifest(String),
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
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A deploy that went live.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Deployed {
    /// The action.
    pub name: String,
    /// Its new live version.
    pub version: u32,
    /// `command` or `component`.
    pub abi: Abi,
    /// The module's SHA-256.
    pub hash: ModuleDigest,
}

/// Service-wide settings chosen by the operator.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// The operator's limit ceilings for manifests.
    pub ceilings: Ceilings,
    /// The operator token (`DOCKET_ADMIN_TOKEN`); `None` turns operator routes off.
    pub operator_token: Option<String>,
    /// Longest a compile may take before the deploy is refused.
    pub compile_timeout: std::time::Duration,
    /// Compiles that may run at once; the rest wait, so uploads cannot take every core.
    pub compile_concurrency: usize,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            ceilings: Ceilings::default(),
            operator_token: None,
            compile_timeout: std::time::Duration::from_secs(60),
            compile_concurrency: 2,
        }
    }
}

/// Everything a request handler needs, shared behind an `Arc`.
pub struct App {
    /// Runs guests.
    pub engine: Arc<Engine>,
    /// Tenants, keys, actions and versions; also the request path's registry.
    pub store: Arc<Store>,
    /// The operator's limit ceilings.
    pub ceilings: Ceilings,
    /// Outbound HTTP and key-value data, for the actions granted them.
    pub services: HostServices,
    /// Hash of the operator token (`DOCKET_ADMIN_TOKEN`); `None` disables operator routes.
    pub operator_token: Option<crate::registry::keys::KeyHash>,
    /// Compiled modules by digest: each module is compiled once, however many
    /// tenants or versions point at it.
    modules: RwLock<HashMap<ModuleDigest, PreparedModule>>,
    /// Bounds concurrent compiles.
    compile_slots: Arc<tokio::sync::Semaphore>,
    /// Longest a compile may take.
    compile_timeout: std::time::Duration,
    /// Invocations running per tenant, for the concurrency quota.
    in_flight: Mutex<HashMap<TenantName, Arc<AtomicU32>>>,
    /// Feeds the invocation log writer, off the request path.
    invocations: mpsc::Sender<LogMessage>,
}

/// What the invocation log writer receives.
enum LogMessage {
    /// A record to write.
    Record(NewInvocation),
    /// Write everything received so far, then answer.
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Holds one unit of a tenant's concurrency quota; released on drop.
pub struct InFlight(Arc<AtomicU32>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl App {
    /// A service over an engine and a store. Spawns the invocation log writer,
    /// so it must be called inside a Tokio runtime.
    pub fn new(
        engine: Arc<Engine>,
        store: Arc<Store>,
        services: HostServices,
        settings: ServiceSettings,
    ) -> Self {
        let (sender, receiver) = mpsc::channel(INVOCATION_QUEUE);
        tokio::spawn(write_invocations(store.clone(), receiver));
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
            modules: RwLock::new(HashMap::new()),
            compile_slots: Arc::new(tokio::sync::Semaphore::new(
                settings.compile_concurrency.max(1),
            )),
            compile_timeout: settings.compile_timeout,
            in_flight: Mutex::new(HashMap::new()),
            invocations: sender,
        }
    }

    /// The tenant snapshot, from the store's in-memory registry.
    pub fn tenant(&self, name: &str) -> Option<Arc<Tenant>> {
        self.store.tenant(name)
    }

    /// The prepared module for a digest, if it is loaded.
    pub fn module(&self, digest: &ModuleDigest) -> Option<PreparedModule> {
        let modules = self.modules.read().unwrap_or_else(|e| e.into_inner());
        modules.get(digest).cloned()
    }

    fn cache(&self, digest: ModuleDigest, module: PreparedModule) {
        let mut modules = self.modules.write().unwrap_or_else(|e| e.into_inner());
        modules.insert(digest, module);
    }

    /// Loads a stored module into the cache: from its compiled artifact when one
    /// matching this engine was recorded, else by compiling its bytes (and then
    /// recording the artifact for the next start).
    pub async fn ensure_module(
        &self,
        digest: &ModuleDigest,
    ) -> Result<PreparedModule, DeployError> {
        if let Some(module) = self.module(digest) {
            return Ok(module);
        }
        let abi = match self.store.module_abi(digest).await?.as_deref() {
            Some("component") => Abi::Component,
            _ => Abi::Command,
        };
        let fingerprint = self.engine.artifact_fingerprint();
        let started = std::time::Instant::now();
        if let Some(artifact) = self.store.read_artifact(digest, &fingerprint).await? {
            let engine = self.engine.clone();
            let loaded = tokio::task::spawn_blocking(move || engine.load_artifact(&artifact, abi))
                .await
                .map_err(|e| LoadError::Engine(e.to_string()))?;
            match loaded {
                Ok(module) => {
                    let ms = started.elapsed().as_millis() as u64;
                    tracing::info!(module = %digest, from = "artifact", ms, "module loaded");
                    self.cache(digest.clone(), module.clone());
                    return Ok(module);
                }
                Err(err) => {
                    tracing::warn!(module = %digest, error = %err, "cached artifact unusable; recompiling")
                }
            }
        }
        let bytes = self.store.read_module(digest)?;
        let (module, artifact) = self.compile(bytes).await?;
        if let Err(err) = self
            .store
            .save_artifact(digest, &fingerprint, &artifact)
            .await
        {
            tracing::warn!(module = %digest, error = %err, "could not cache the compiled artifact");
        }
        self.cache(digest.clone(), module.clone());
        Ok(module)
    }

    /// Loads every live version's module, so the first request after a start
    /// does not compile. A module that fails is logged, not fatal: its action
    /// answers 500 until fixed, and the others serve.
    pub async fn warm(&self) -> usize {
        let mut loaded = 0;
        for tenant in self.store.tenants() {
            for action in tenant.actions.values() {
                match self.ensure_module(&action.module).await {
                    Ok(_) => loaded += 1,
                    Err(err) => {
                        tracing::error!(tenant = %tenant.name, action = %action.name, error = %err, "live version cannot be loaded")
                    }
                }
            }
        }
        loaded
    }

    /// The deploy path (DESIGN §5): size cap, manifest, validation, ABI and
    /// import checks, ahead-of-time compile, then the store makes the new version
    /// live atomically. On any error the live version keeps serving.
    pub async fn deploy(
        &self,
        tenant: &Tenant,
        ceilings: &Ceilings,
        manifest_text: &str,
        module: Vec<u8>,
    ) -> Result<Deployed, DeployError> {
        let size = module.len() as u64;
        if size > tenant.quotas.max_module_bytes {
            return Err(DeployError::TooLarge {
                size,
                limit: tenant.quotas.max_module_bytes,
            });
        }
        let manifest =
            ActionManifest::parse(manifest_text, ceilings).map_err(DeployError::Manifest)?;
        let digest = ModuleDigest::of(&module);
        let fingerprint = self.engine.artifact_fingerprint();
        let (prepared, artifact) = match self.module(&digest) {
            Some(prepared) => {
                let artifact = self.engine.artifact(&prepared)?;
                (prepared, artifact)
            }
            None => self.compile(module.clone()).await?,
        };
        let abi = prepared.abi();
        let abi_name = abi.to_string();
        let version = self
            .store
            .deploy(NewVersion {
                tenant: &tenant.name,
                manifest: &manifest,
                manifest_text,
                module: &module,
                abi: &abi_name,
                artifact: Some((&artifact, fingerprint.as_str())),
            })
            .await?;
        self.cache(digest.clone(), prepared);
        self.prune_modules();
        Ok(Deployed {
            name: manifest.name.to_string(),
            version,
            abi,
            hash: digest,
        })
    }

    /// Validates and compiles module bytes into the cache without storing them:
    /// for checking a set of modules before any of them goes live.
    pub async fn precompile(&self, module: Vec<u8>) -> Result<Abi, LoadError> {
        let digest = ModuleDigest::of(&module);
        if let Some(prepared) = self.module(&digest) {
            return Ok(prepared.abi());
        }
        let (prepared, _artifact) = self.compile(module).await?;
        let abi = prepared.abi();
        self.cache(digest, prepared);
        Ok(abi)
    }

    /// Validates and compiles bytes on a blocking thread, at most
    /// `compile_concurrency` at once, refusing compiles that outlast the timeout.
    /// (A compile cannot be interrupted: a timed-out one finishes in the
    /// background, still holding its slot, so it cannot be multiplied.)
    async fn compile(&self, bytes: Vec<u8>) -> Result<(PreparedModule, Vec<u8>), LoadError> {
        let slot = self
            .compile_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| LoadError::Engine(e.to_string()))?;
        // The static checks are not part of the compile-time budget: a module
        // refused for its size or function count is told so, whatever the timeout.
        let engine = self.engine.clone();
        let (bytes, checked) = tokio::task::spawn_blocking(move || {
            let checked = engine.check(&bytes);
            (bytes, checked)
        })
        .await
        .map_err(|e| LoadError::Engine(e.to_string()))?;
        let abi = checked?;
        let engine = self.engine.clone();
        let task = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let started = std::time::Instant::now();
            let module = engine.compile_checked(&bytes, abi)?;
            let artifact = engine.artifact(&module)?;
            tracing::debug!(
                ms = started.elapsed().as_millis() as u64,
                bytes = bytes.len(),
                "compiled"
            );
            Ok((module, artifact))
        });
        match tokio::time::timeout(self.compile_timeout, task).await {
            Ok(joined) => joined.map_err(|e| LoadError::Engine(e.to_string()))?,
            Err(_) => Err(LoadError::CompileTimeout {
                limit_ms: self.compile_timeout.as_millis() as u64,
            }),
        }
    }

    /// Takes one unit of the tenant's concurrency quota, or `None` when it is used up.
    pub fn try_enter(&self, tenant: &Tenant) -> Option<InFlight> {
        let counter = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            in_flight.entry(tenant.name.clone()).or_default().clone()
        };
        let limit = tenant.quotas.max_concurrency;
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| InFlight(counter))
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

    /// Waits until every invocation recorded so far is written (at shutdown).
    pub async fn flush_invocations(&self) {
        let (done, written) = tokio::sync::oneshot::channel();
        if self.invocations.send(LogMessage::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }

    /// Drops compiled modules no live version uses any more (after a deploy,
    /// rollback or delete), so memory follows what is live, not what was ever
    /// uploaded. A rollback reloads from the cached artifact in milliseconds.
    pub fn prune_modules(&self) {
        let live: std::collections::HashSet<ModuleDigest> = self
            .store
            .tenants()
            .iter()
            .flat_map(|t| t.actions.values().map(|a| a.module.clone()))
            .collect();
        let mut modules = self.modules.write().unwrap_or_else(|e| e.into_inner());
        modules.retain(|digest, _| live.contains(digest));
    }
}

/// Writes the invocation log in batches. After each write it pauses briefly, so
/// that under load one transaction (one fsync) carries many records instead of
/// one each; the queue holds far more than a pause's worth of invocations.
async fn write_invocations(store: Arc<Store>, mut receiver: mpsc::Receiver<LogMessage>) {
    let mut messages = Vec::with_capacity(INVOCATION_BATCH);
    let mut records = Vec::with_capacity(INVOCATION_BATCH);
    while receiver.recv_many(&mut messages, INVOCATION_BATCH).await > 0 {
        let mut flushed = Vec::new();
        for message in messages.drain(..) {
            match message {
                LogMessage::Record(record) => records.push(record),
                LogMessage::Flush(done) => flushed.push(done),
            }
        }
        if !records.is_empty()
            && let Err(err) = store.record_invocations(&records).await
        {
            tracing::error!(error = %err, records = records.len(), "could not write the invocation log");
        }
        records.clear();
        for done in flushed {
            let _ = done.send(());
        }
        tokio::time::sleep(INVOCATION_FLUSH_PAUSE).await;
    }
}
