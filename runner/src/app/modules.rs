//! The compiled-module cache: prepared modules by tenant and content digest,
//! loaded from the best compiled artifact the store has, else compiled.

use super::{App, DeployError};
use crate::compiles::Compiled;
use crate::engine::{Abi, LoadError, PreparedModule, Tier};
use crate::metrics::ModuleSource;
use crate::names::TenantName;
use crate::registry::ModuleDigest;
use futures_util::StreamExt;
use std::collections::HashMap;

impl App {
    /// The tenant's prepared module for a digest, if it is loaded.
    pub fn module(&self, tenant: &TenantName, digest: &ModuleDigest) -> Option<PreparedModule> {
        let modules = self.modules.read().unwrap_or_else(|e| e.into_inner());
        modules.get(&(tenant.clone(), digest.clone())).cloned()
    }

    /// Caches a module, but never baseline code over optimized code of the
    /// same bytes (a deploy that reused the cached module while its
    /// optimized code took over).
    pub(super) fn cache(&self, tenant: &TenantName, digest: ModuleDigest, module: PreparedModule) {
        let mut modules = self.modules.write().unwrap_or_else(|e| e.into_inner());
        let key = (tenant.clone(), digest);
        let optimized_already = modules
            .get(&key)
            .is_some_and(|cached| cached.tier() == Tier::Optimized);
        if !(optimized_already && module.tier() == Tier::Baseline) {
            modules.insert(key, module);
        }
    }

    /// Puts optimized code in place of the baseline code of a cached module.
    /// Invocations already running keep the module they cloned; the next one
    /// gets the new code. Returns false when the module left the cache (no
    /// live version uses it any more) or is optimized already.
    pub(super) fn replace_baseline(
        &self,
        tenant: &TenantName,
        digest: &ModuleDigest,
        optimized: PreparedModule,
    ) -> bool {
        let mut modules = self.modules.write().unwrap_or_else(|e| e.into_inner());
        match modules.get_mut(&(tenant.clone(), digest.clone())) {
            Some(cached) if cached.tier() == Tier::Baseline => {
                *cached = optimized;
                true
            }
            _ => false,
        }
    }

    /// How many cached modules run baseline code and how many optimized code.
    pub fn modules_by_tier(&self) -> (usize, usize) {
        let modules = self.modules.read().unwrap_or_else(|e| e.into_inner());
        let baseline = modules
            .values()
            .filter(|m| m.tier() == Tier::Baseline)
            .count();
        (baseline, modules.len() - baseline)
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
    /// module on baseline code is queued for its optimized compile.
    pub async fn ensure_module(
        &self,
        tenant: &TenantName,
        digest: &ModuleDigest,
    ) -> Result<PreparedModule, DeployError> {
        if let Some(module) = self.module(tenant, digest) {
            // Compiled before its bytes were stored (a declarative check):
            // its optimized compile is queued now that it is live.
            if module.tier() == Tier::Baseline {
                self.optimize_later(tenant, digest, module.abi());
            }
            return Ok(module);
        }
        let abi = match self.store.module_abi(digest).await?.as_deref() {
            Some("component") => Abi::Component,
            _ => Abi::Command,
        };
        if let Some(module) = self.load_best_artifact(digest, abi).await? {
            self.metrics.module_loaded(ModuleSource::Artifact);
            self.cache(tenant, digest.clone(), module.clone());
            if module.tier() == Tier::Baseline {
                self.optimize_later(tenant, digest, abi);
            }
            return Ok(module);
        }
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
    /// optimized code first, then baseline code.
    async fn load_best_artifact(
        &self,
        digest: &ModuleDigest,
        abi: Abi,
    ) -> Result<Option<PreparedModule>, DeployError> {
        let mut tiers = vec![Tier::Optimized];
        if self.engine.first_tier() == Tier::Baseline {
            tiers.push(Tier::Baseline);
        }
        for tier in tiers {
            if let Some(module) = self.load_artifact(digest, abi, tier).await? {
                return Ok(Some(module));
            }
        }
        Ok(None)
    }

    /// The stored artifact of `digest` compiled by `tier`, loaded. An
    /// artifact that does not load is skipped with a warning.
    pub(super) async fn load_artifact(
        &self,
        digest: &ModuleDigest,
        abi: Abi,
        tier: Tier,
    ) -> Result<Option<PreparedModule>, DeployError> {
        let fingerprint = self.engine.artifact_fingerprint(tier);
        let started = std::time::Instant::now();
        let Some(artifact) = self.store.read_artifact(digest, &fingerprint).await? else {
            return Ok(None);
        };
        let engine = self.engine.clone();
        let loaded =
            tokio::task::spawn_blocking(move || engine.load_artifact(&artifact, abi, tier))
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

    /// Loads every live version's module, so the first request after a start
    /// does not compile. A module that fails is logged, not fatal: its action
    /// answers 500 until fixed, and the others serve. Different modules load
    /// side by side ([`WARM_CONCURRENCY`] at a time), so a start with many
    /// actions waits for the cores, not for one store round trip after
    /// another; the actions sharing one module load it one after another,
    /// so it is compiled (if it must be) once and the others find its
    /// artifact. Returns how many actions' modules are loaded.
    pub async fn warm(&self) -> usize {
        let mut by_module: HashMap<ModuleDigest, Vec<_>> = HashMap::new();
        for tenant in self.store.tenants() {
            for action in tenant.actions.values() {
                by_module
                    .entry(action.module.clone())
                    .or_default()
                    .push((tenant.clone(), action.clone()));
            }
        }
        let loads = futures_util::stream::iter(by_module.into_values()).map(|users| async move {
            let mut loaded = 0;
            for (tenant, action) in users {
                match self.ensure_module(&tenant.name, &action.module).await {
                    Ok(_) => loaded += 1,
                    Err(err) => {
                        tracing::error!(tenant = %tenant.name, action = %action.name, error = %err, "live version cannot be loaded")
                    }
                }
            }
            loaded
        });
        loads
            .buffer_unordered(WARM_CONCURRENCY)
            .fold(0, |total, loaded| std::future::ready(total + loaded))
            .await
    }
}

/// How many modules [`App::warm`] loads at once: enough to keep both
/// the store and the cores busy, few enough that a start's memory peak is a
/// handful of artifacts.
const WARM_CONCURRENCY: usize = 8;
