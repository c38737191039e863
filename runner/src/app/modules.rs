//! Loading modules: prepared modules by tenant and content digest, loaded
//! from the best compiled artifact the store has, else compiled, into the
//! bounded cache of loaded modules (`app/module_cache.rs`). A start loads
//! only the versions called lately ([`App::warm`]); every other one is
//! loaded by its first call, one load per module at a time.

use super::module_cache::{Key, Usage};
use super::{App, DeployError};
use crate::compiles::Compiled;
use crate::engine::{Abi, Engine, LoadError, PreparedModule, Tier};
use crate::metrics::ModuleSource;
use crate::names::TenantName;
use crate::registry::{CheckedArtifact, ModuleDigest};
use futures_util::StreamExt;
use std::collections::HashSet;
use std::sync::Arc;

/// A load in progress: every caller of the same module waits on it.
pub(super) type Loading = Arc<tokio::sync::OnceCell<PreparedModule>>;

/// A start warms the versions called within this window, newest first…
const WARM_WINDOW_MS: i64 = 7 * 86_400_000;
/// …at most this many of them (and only as many as the bound holds).
const WARM_MAX_VERSIONS: u32 = 100_000;

impl App {
    /// The tenant's prepared module for a digest, if it is loaded; the
    /// lookup counts as a use of it.
    pub fn module(&self, tenant: &TenantName, digest: &ModuleDigest) -> Option<PreparedModule> {
        self.modules.get(&(tenant.clone(), digest.clone()))
    }

    /// Whether the tenant's module for a digest is loaded (not a use).
    pub(super) fn module_loaded(&self, tenant: &TenantName, digest: &ModuleDigest) -> bool {
        self.modules.contains(&(tenant.clone(), digest.clone()))
    }

    /// Caches a module, but never baseline code over optimized code of the
    /// same bytes (a deploy that reused the cached module while its
    /// optimized code took over); evicts the least recently used past
    /// `--max-loaded-modules-mb`.
    pub(super) fn cache(&self, tenant: &TenantName, digest: ModuleDigest, module: PreparedModule) {
        let usage = self.modules.insert((tenant.clone(), digest), module);
        self.loaded_modules_changed(usage);
    }

    /// Reports a change of the loaded modules to the metrics.
    pub(super) fn loaded_modules_changed(&self, usage: Usage) {
        self.metrics
            .module_cache
            .changed(usage.modules, usage.bytes, usage.evicted);
        if usage.evicted > 0 {
            tracing::debug!(
                evicted = usage.evicted,
                loaded = usage.modules,
                bytes = usage.bytes,
                "least recently used modules evicted"
            );
        }
    }

    /// Puts optimized code in place of the baseline code of a cached module.
    /// Invocations already running keep the module they cloned; the next one
    /// gets the new code. Returns false when the module is not loaded (no
    /// live version uses it any more, or it was evicted) or is optimized
    /// already.
    pub(super) fn replace_baseline(
        &self,
        tenant: &TenantName,
        digest: &ModuleDigest,
        optimized: PreparedModule,
    ) -> bool {
        let (replaced, usage) = self
            .modules
            .replace_baseline(&(tenant.clone(), digest.clone()), optimized);
        self.loaded_modules_changed(usage);
        replaced
    }

    /// How many cached modules run baseline code and how many optimized code.
    pub fn modules_by_tier(&self) -> (usize, usize) {
        self.modules.by_tier()
    }

    /// Compiles new bytes for `tenant` with the first tier of the operator's
    /// policy, counting the compile.
    pub(super) async fn compile_new(
        &self,
        tenant: &TenantName,
        bytes: Vec<u8>,
    ) -> Result<Compiled, DeployError> {
        let compiled = self.compiles.compile(&self.engine, tenant, bytes).await?;
        self.metrics.module_loaded(ModuleSource::Compiled);
        Ok(compiled)
    }

    /// Loads a stored module into the cache: from the best compiled artifact
    /// recorded for this engine (optimized, else baseline), else by compiling
    /// its bytes (and then recording the artifact for the next start). A
    /// module on baseline code is queued for its optimized compile. One load
    /// per module at a time: callers that come meanwhile wait for it.
    pub async fn ensure_module(
        &self,
        tenant: &TenantName,
        digest: &ModuleDigest,
    ) -> Result<PreparedModule, DeployError> {
        self.ensure(tenant, digest, false).await
    }

    /// [`App::ensure_module`] for a call that found its module not loaded
    /// (never called since the start, or evicted): counted as a lazy load.
    pub async fn load_on_call(
        &self,
        tenant: &TenantName,
        digest: &ModuleDigest,
    ) -> Result<PreparedModule, DeployError> {
        self.ensure(tenant, digest, true).await
    }

    async fn ensure(
        &self,
        tenant: &TenantName,
        digest: &ModuleDigest,
        on_call: bool,
    ) -> Result<PreparedModule, DeployError> {
        let key: Key = (tenant.clone(), digest.clone());
        if let Some(module) = self.modules.get(&key) {
            // Compiled before its bytes were stored (a declarative check):
            // its optimized compile is queued now that it is live.
            if module.tier() == Tier::Baseline {
                self.optimize_later(tenant, digest, module.abi());
            }
            return Ok(module);
        }
        let loading = self.loading_of(&key);
        let _done = LoadingDone {
            app: self,
            key: &key,
            loading: &loading,
        };
        loading
            .get_or_try_init(|| async {
                // Loaded by a load that ended between the miss and now.
                if let Some(module) = self.modules.get(&key) {
                    return Ok(module);
                }
                if on_call {
                    self.metrics.module_cache.lazy_load();
                }
                self.load_module(tenant, digest).await
            })
            .await
            .cloned()
    }

    /// The load of `key` in progress, or a new one.
    fn loading_of(&self, key: &Key) -> Loading {
        self.loading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.clone())
            .or_default()
            .clone()
    }

    /// Loads a module that is not loaded; see [`App::ensure_module`].
    async fn load_module(
        &self,
        tenant: &TenantName,
        digest: &ModuleDigest,
    ) -> Result<PreparedModule, DeployError> {
        // The artifact says its own ABI: a load from it needs no other
        // record (and, on a replica whose database is away, no database).
        if let Some(module) = self.load_best_artifact(digest).await? {
            self.metrics.module_loaded(ModuleSource::Artifact);
            self.cache(tenant, digest.clone(), module.clone());
            if module.tier() == Tier::Baseline {
                self.optimize_later(tenant, digest, module.abi());
            }
            return Ok(module);
        }
        let abi = match self.store.module_abi(digest).await?.as_deref() {
            Some("component") => Abi::Component,
            _ => Abi::Command,
        };
        let bytes = self.store.read_module(digest).await?;
        let compiled = self.compile_new(tenant, bytes).await?;
        let module = compiled.module;
        let fingerprint = self.engine.artifact_fingerprint(module.tier());
        if let Err(err) = self
            .store
            .save_artifact(digest, &fingerprint, &compiled.artifact)
            .await
        {
            tracing::warn!(module = %digest, error = %err, "could not cache the compiled artifact");
        }
        self.cache(tenant, digest.clone(), module.clone());
        if module.tier() == Tier::Baseline {
            self.optimize_later(tenant, digest, abi);
        }
        Ok(module)
    }

    /// The best artifact of `digest` the store has for this engine, loaded:
    /// optimized code first, then baseline code. A store error is returned
    /// only when no tier's artifact loaded.
    async fn load_best_artifact(
        &self,
        digest: &ModuleDigest,
    ) -> Result<Option<PreparedModule>, DeployError> {
        let mut tiers = vec![Tier::Optimized];
        if self.engine.first_tier() == Tier::Baseline {
            tiers.push(Tier::Baseline);
        }
        // A store that fails for one tier (PostgreSQL away, the replica's
        // disk without that tier's copy) may still have the next on disk.
        let mut failed = None;
        for tier in tiers {
            match self.load_artifact(digest, None, tier).await {
                Ok(Some(module)) => return Ok(Some(module)),
                Ok(None) => {}
                Err(err) => failed = failed.or(Some(err)),
            }
        }
        failed.map_or(Ok(None), Err)
    }

    /// The stored artifact of `digest` compiled by `tier`, loaded as `abi`,
    /// or as the ABI its header says when `abi` is `None`. An artifact that
    /// does not load is skipped with a warning.
    pub(super) async fn load_artifact(
        &self,
        digest: &ModuleDigest,
        abi: Option<Abi>,
        tier: Tier,
    ) -> Result<Option<PreparedModule>, DeployError> {
        let fingerprint = self.engine.artifact_fingerprint(tier);
        let started = std::time::Instant::now();
        let Some(artifact) = self.store.open_artifact(digest, &fingerprint).await? else {
            return Ok(None);
        };
        let engine = self.engine.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            let unknown = || LoadError::Invalid("not a compiled module or component".into());
            match artifact {
                CheckedArtifact::File(file) => {
                    let abi = abi
                        .or_else(|| Engine::artifact_file_abi(&file))
                        .ok_or_else(unknown)?;
                    engine.load_artifact_file(file, abi, tier)
                }
                CheckedArtifact::Bytes(bytes) => {
                    let abi = abi
                        .or_else(|| Engine::artifact_abi(&bytes))
                        .ok_or_else(unknown)?;
                    engine.load_artifact(&bytes, abi, tier)
                }
            }
        })
        .await
        .map_err(|e| LoadError::Engine(e.to_string()))?;
        match loaded {
            Ok(module) => {
                let ms = started.elapsed().as_millis() as u64;
                tracing::info!(module = %digest, from = "artifact", %tier, ms, "module loaded");
                Ok(Some(module))
            }
            Err(err) => {
                tracing::warn!(module = %digest, %tier, error = %err, "cached artifact unusable");
                Ok(None)
            }
        }
    }

    /// Runs [`App::warm`] in its own task, then starts the optimized
    /// compiles ([`App::start_background_compiles`]). The server listens
    /// meanwhile: at 10,000 tenants the warm would be a large part of the
    /// time to ready, and a call it has not reached yet loads its module
    /// itself, or waits for the warm's load of it (one load per module).
    /// The compiles wait for the warm, as they would take a core from it.
    pub fn warm_in_background(self: &Arc<Self>) {
        let app = self.clone();
        tokio::spawn(async move {
            let warming = std::time::Instant::now();
            let warmed = app.warm().await;
            tracing::info!(
                modules = warmed,
                ms = warming.elapsed().as_millis() as u64,
                "live versions called lately loaded; the others load on their first call"
            );
            app.start_background_compiles();
        });
    }

    /// Loads the live versions called lately (an invocation recorded in the
    /// last seven days), newest first, while they fit in
    /// `--max-loaded-modules-mb`, so the first calls after a start do not
    /// wait for a load; every other live version is loaded by its first
    /// call. A module that fails is logged, not fatal: its action answers
    /// 500 until fixed, and the others serve. Different modules load side
    /// by side ([`WARM_CONCURRENCY`] at a time). Returns how many modules
    /// are loaded.
    pub async fn warm(&self) -> usize {
        let since = crate::registry::store::now_ms() - WARM_WINDOW_MS;
        let recent = match self.store.recently_called(since, WARM_MAX_VERSIONS).await {
            Ok(recent) => recent,
            Err(err) => {
                tracing::warn!(error = %err, "could not read which actions were called lately; loading each on its first call");
                return 0;
            }
        };
        let mut seen = HashSet::new();
        let mut called = Vec::new();
        for call in recent {
            let Some(tenant) = self.store.tenant(&call.tenant) else {
                continue;
            };
            let Some(action) = tenant.actions.get(call.action.as_str()) else {
                continue;
            };
            if action.version == call.version
                && seen.insert((tenant.name.clone(), action.module.clone()))
            {
                called.push((tenant.name.clone(), action.clone()));
            }
        }
        let loads = futures_util::stream::iter(called).map(|(tenant, action)| async move {
            // Newest first: once the bound is reached, the rest wait for a call.
            if self.modules.full() {
                return 0;
            }
            match self.ensure_module(&tenant, &action.module).await {
                Ok(_) => 1,
                Err(err) => {
                    tracing::error!(tenant = %tenant, action = %action.name, error = %err, "live version cannot be loaded");
                    0
                }
            }
        });
        loads
            .buffered(WARM_CONCURRENCY)
            .fold(0, |total, loaded| std::future::ready(total + loaded))
            .await
    }
}

/// Ends a load's entry once its caller is done with it (loaded, failed or
/// dropped): the next miss, after an eviction, loads anew. The entry stays
/// while other callers still wait on it, so they share the load.
struct LoadingDone<'a> {
    app: &'a App,
    key: &'a Key,
    loading: &'a Loading,
}

impl Drop for LoadingDone<'_> {
    fn drop(&mut self) {
        let mut loading = self.app.loading.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(current) = loading.get(self.key)
            && Arc::ptr_eq(current, self.loading)
            // The map's and this caller's: nobody else waits on it.
            && (self.loading.initialized() || Arc::strong_count(self.loading) <= 2)
        {
            loading.remove(self.key);
        }
    }
}

/// How many modules [`App::warm`] loads at once: enough to keep both
/// the store and the cores busy, few enough that a start's memory peak is a
/// handful of artifacts.
const WARM_CONCURRENCY: usize = 8;

#[cfg(test)]
mod tests {
    use super::super::test_app::{app_with_acme, module};
    use super::*;

    fn counted(app: &App, name: &str) -> String {
        let text = app.metrics.encode();
        text.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {text}"))
            .to_owned()
    }

    /// Many calls that miss the same module at once load it once, from its
    /// artifact (no compile), and all get it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_load_a_module_once_from_its_artifact() {
        let dir = tempfile::tempdir().unwrap();
        let (app, name) = app_with_acme(dir.path()).await;
        let tenant = app.tenant("acme").unwrap();
        let digest = app
            .deploy(&tenant, &app.ceilings, "name = \"greet\"\n", module(1))
            .await
            .unwrap()
            .hash;
        // Evicted (as past the bound).
        app.loaded_modules_changed(app.modules.retain(|_| false));
        assert!(!app.module_loaded(&name, &digest));

        let calls: Vec<_> = (0..16)
            .map(|_| {
                let (app, name, digest) = (app.clone(), name.clone(), digest.clone());
                tokio::spawn(async move { app.load_on_call(&name, &digest).await.is_ok() })
            })
            .collect();
        for call in calls {
            assert!(call.await.unwrap());
        }
        assert!(app.module_loaded(&name, &digest));
        assert_eq!(
            counted(&app, "docket_module_lazy_loads_total"),
            "docket_module_lazy_loads_total 1"
        );
        assert_eq!(
            counted(&app, "docket_modules_loaded_total{source=\"artifact\"}"),
            "docket_modules_loaded_total{source=\"artifact\"} 1"
        );
        assert_eq!(
            counted(&app, "docket_loaded_modules "),
            "docket_loaded_modules 1"
        );
        assert!(
            app.loading.lock().unwrap().is_empty(),
            "no load left behind"
        );
    }
}
