//! Changes to what tenants run: deploy, rollback and delete.
//!
//! Every change of live versions in Docket goes through [`App::change_live`]
//! in this module, so what must follow one (dropping compiled modules that no
//! live version uses any more) happens in one place and no caller can forget
//! it. The rest is the store's: its writes check the quotas authoritatively
//! and refresh the tenant snapshot the request path reads.

use super::{App, DeployError, Deployed};
use crate::engine::{Abi, Tier};
use crate::limits::Ceilings;
use crate::manifest::ActionManifest;
use crate::metrics::ModuleSource;
use crate::names::{ActionName, TenantName};
use crate::registry::{ModuleDigest, NewVersion, StoreError, Tenant};
use std::collections::HashMap;
use std::sync::Arc;

impl App {
    /// The deploy path (`docs/architecture.md#the-deploy-path`): size cap, manifest, validation, ABI and
    /// import checks, ahead-of-time compile, then the store makes the new version
    /// live atomically. On any error the live version keeps serving.
    pub async fn deploy(
        &self,
        tenant: &Tenant,
        ceilings: &Ceilings,
        manifest_text: &str,
        module: Vec<u8>,
    ) -> Result<Deployed, DeployError> {
        let deployed = self
            .deploy_steps(tenant, ceilings, manifest_text, module)
            .await;
        self.metrics.deployment(false, deployed.is_ok());
        deployed
    }

    /// [`App::deploy`] before it is counted.
    async fn deploy_steps(
        &self,
        tenant: &Tenant,
        ceilings: &Ceilings,
        manifest_text: &str,
        module: Vec<u8>,
    ) -> Result<Deployed, DeployError> {
        self.register_incarnation(tenant);
        let size = module.len() as u64;
        if size > tenant.quotas.max_module_bytes {
            return Err(DeployError::TooLarge {
                size,
                limit: tenant.quotas.max_module_bytes,
            });
        }
        let mut manifest =
            ActionManifest::parse(manifest_text, ceilings).map_err(DeployError::Manifest)?;
        check_one_provider(tenant, &manifest)?;
        let digest = ModuleDigest::of(&module);
        // Refuse what the quotas will refuse before spending a compile on it.
        self.store
            .check_deploy_quota(tenant, &manifest.name, &digest, size)
            .await?;
        let (prepared, artifact) = match self.module(&tenant.name, &digest) {
            Some(prepared) => {
                let artifact = self.engine.artifact(&prepared)?;
                self.metrics.module_loaded(ModuleSource::Memory);
                (prepared, artifact)
            }
            None => {
                let compiled = self.compile_new(&tenant.name, module.clone()).await?;
                (compiled.module, compiled.artifact)
            }
        };
        manifest.grants.provider = against_manifest(&manifest, &prepared)?;
        let baseline_unavailable = prepared.baseline_unavailable().map(str::to_owned);
        let fingerprint = self.engine.artifact_fingerprint(prepared.tier());
        let (abi, tier) = (prepared.abi(), prepared.tier());
        let abi_name = abi.to_string();
        let version = self
            .change_live(async {
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
                // Cached once live and before the prune, which keeps it: a
                // module cached earlier could be pruned by a concurrent change
                // before its version went live.
                self.cache(&tenant.name, digest.clone(), prepared);
                Ok(version)
            })
            .await?;
        if tier == Tier::Baseline {
            self.optimize_later(&tenant.name, &digest, abi);
        }
        Ok(Deployed {
            name: manifest.name.to_string(),
            version,
            abi,
            hash: digest,
            tier,
            baseline_unavailable,
        })
    }

    /// Validates and compiles module bytes into the tenant's cache without
    /// storing them, and checks them against their manifest as a deploy
    /// would (a provider's endpoints): for checking a set of modules before
    /// any of them goes live.
    pub async fn precompile(
        &self,
        tenant: &TenantName,
        manifest: &ActionManifest,
        module: Vec<u8>,
    ) -> Result<Abi, DeployError> {
        let digest = ModuleDigest::of(&module);
        if let Some(prepared) = self.module(tenant, &digest) {
            against_manifest(manifest, &prepared)?;
            return Ok(prepared.abi());
        }
        // Not queued for its optimized code yet: its bytes are not stored
        // until it deploys, which queues it (or `warm`, for one unchanged).
        let compiled = self.compile_new(tenant, module).await?;
        against_manifest(manifest, &compiled.module)?;
        let abi = compiled.module.abi();
        self.cache(tenant, digest, compiled.module);
        Ok(abi)
    }

    /// Makes a stored version of an action live again. Its module is loaded
    /// before the live pointer moves, so a version that cannot run never goes
    /// live.
    pub async fn rollback(
        &self,
        tenant: &TenantName,
        action: &str,
        version: u32,
    ) -> Result<(), DeployError> {
        let rolled_back = async {
            let stored = self.store.version(tenant, action, version).await?;
            self.ensure_module(tenant, &stored.module).await?;
            self.change_live(self.store.set_live(tenant, action, version))
                .await?;
            Ok(())
        }
        .await;
        self.metrics.deployment(true, rolled_back.is_ok());
        rolled_back
    }

    /// Deletes an action and all its versions.
    pub async fn delete_action(&self, tenant: &TenantName, action: &str) -> Result<(), StoreError> {
        self.change_live(self.store.delete_action(tenant, action))
            .await
    }

    /// Deletes every action of the tenant not named in `keep` (a declarative
    /// tenant whose manifest files were removed).
    pub async fn retain_actions(
        &self,
        tenant: &TenantName,
        keep: &[ActionName],
    ) -> Result<(), StoreError> {
        self.change_live(self.store.retain_actions(tenant, keep))
            .await
    }

    /// Deletes a tenant with all its actions and versions.
    pub async fn delete_tenant(&self, tenant: &TenantName) -> Result<(), StoreError> {
        let deleted = self.change_live(self.store.delete_tenant(tenant)).await;
        if deleted.is_ok()
            && let Err(err) = self.services.blob.delete_tenant(tenant.as_str()).await
        {
            tracing::error!(tenant = %tenant, error = %err, "the deleted tenant's blobs could not be removed");
        }
        // At once rather than at the next tick: a tenant made again under
        // this name a moment later starts from nothing.
        self.reconcile_tenants();
        deleted
    }

    /// Runs a store write that changes live versions, then brings what depends
    /// on them up to date. The one place that follows such a change: a new kind
    /// of change calls this, and a new dependant (another cache, a notice to
    /// other replicas) is added here. It follows failed writes too, because a
    /// write can fail after it committed (in the garbage collection that ends
    /// a delete), and following a write that changed nothing is harmless.
    async fn change_live<T>(
        &self,
        write: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let written = write.await;
        self.prune_modules();
        self.drop_stale_instances();
        written
    }

    /// Drops compiled modules no live version uses any more, so memory follows
    /// what is live, not what was ever uploaded. A rollback reloads from the
    /// cached artifact in milliseconds. (Modules still live are bounded by
    /// `--max-loaded-modules-mb`: `app/module_cache.rs`.)
    ///
    /// Each loaded module is checked against its own tenant's snapshot rather
    /// than against a set of every live module: the work follows what is
    /// loaded, not what is deployed (at 100,000 live versions, building that
    /// set took most of a deploy's time in a debug build).
    pub(super) fn prune_modules(&self) {
        let mut snapshots: HashMap<TenantName, Option<Arc<Tenant>>> = HashMap::new();
        let usage = self.modules.retain(|(tenant, digest)| {
            snapshots
                .entry(tenant.clone())
                .or_insert_with(|| self.store.tenant(tenant.as_str()))
                .as_ref()
                .is_some_and(|t| t.actions.values().any(|a| &a.module == digest))
        });
        self.loaded_modules_changed(usage);
    }
}

/// A tenant has one document provider: a provider manifest under another
/// name than the live provider's is refused until that one is deleted.
fn check_one_provider(tenant: &Tenant, manifest: &ActionManifest) -> Result<(), DeployError> {
    if manifest.grants.provider.is_none() {
        return Ok(());
    }
    match tenant.provider() {
        Some(live) if live.name != manifest.name => Err(DeployError::Provider(format!(
            "the tenant's document provider is {:?}; a tenant has one provider, so delete it \
             before deploying {:?} as its provider (or deploy under the name {:?})",
            live.name.as_str(),
            manifest.name.as_str(),
            live.name.as_str(),
        ))),
        _ => Ok(()),
    }
}

/// Checks a compiled module against its manifest, as only its ABI allows:
/// `instance-reuse` above 1 is for components (`ActionManifest::check_command_module`),
/// then the provider's endpoints ([`provider_endpoints`]).
fn against_manifest(
    manifest: &ActionManifest,
    prepared: &crate::engine::PreparedModule,
) -> Result<Option<Vec<crate::names::DocEndpoint>>, DeployError> {
    if prepared.abi() == crate::engine::Abi::Command {
        manifest
            .check_command_module()
            .map_err(DeployError::Manifest)?;
    }
    provider_endpoints(manifest, prepared)
}

/// The endpoints a provider version answers: its component's exports (the
/// manifest's `endpoints` may narrow them), or a command module's
/// `endpoints`. An action's manifest with a provider component, and the
/// reverse, are refused with what to change.
fn provider_endpoints(
    manifest: &ActionManifest,
    prepared: &crate::engine::PreparedModule,
) -> Result<Option<Vec<crate::names::DocEndpoint>>, DeployError> {
    let refuse = |why: String| Err(DeployError::Provider(why));
    let exported = prepared.provider_endpoints();
    let Some(declared) = &manifest.grants.provider else {
        return match exported {
            Some(_) => refuse(
                "the component is a document provider (it exports docket:provider interfaces): \
                 add kind = \"provider\" to its manifest"
                    .into(),
            ),
            None => Ok(None),
        };
    };
    match (prepared.abi(), exported) {
        (Abi::Component, None) => refuse(
            "kind = \"provider\", but the component is an action (it exports `run` of \
             docket:action/action, and no docket:provider interface)"
                .into(),
        ),
        (Abi::Component, Some(exported)) => {
            let missing: Vec<&str> = declared
                .iter()
                .filter(|e| !exported.contains(e))
                .map(|e| e.name())
                .collect();
            if !missing.is_empty() {
                return refuse(format!(
                    "endpoints lists {} but the component does not export {}",
                    missing.join(", "),
                    missing
                        .iter()
                        .filter_map(|name| crate::names::DocEndpoint::parse(name))
                        .map(|e| e.interface())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            Ok(Some(match declared.is_empty() {
                true => exported,
                false => declared.clone(),
            }))
        }
        (Abi::Command, _) if declared.is_empty() => refuse(
            "a command module that is a provider must list what it answers: \
             endpoints = [\"metadata\", \"files\", …]"
                .into(),
        ),
        (Abi::Command, _) => {
            let streamed = crate::engine::provider::command::COMPONENT_ONLY;
            match declared.iter().find(|e| streamed.contains(e)) {
                Some(endpoint) => refuse(format!(
                    "`{endpoint}` streams a body, which needs the component ABI \
                     (world docket:provider/provider); a command module may answer the others"
                )),
                None => Ok(Some(declared.clone())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_app::{app_with_acme, module};

    /// Issue #13: rollback moved the live pointer without pruning, so the
    /// module it replaced stayed compiled in memory. Not observable over HTTP.
    #[tokio::test]
    async fn rollback_drops_the_module_no_longer_live() {
        let dir = tempfile::tempdir().unwrap();
        let (app, name) = app_with_acme(dir.path()).await;
        let deploy = async |tag| {
            let tenant = app.tenant("acme").unwrap();
            app.deploy(&tenant, &app.ceilings, "name = \"greet\"\n", module(tag))
                .await
                .unwrap()
                .hash
        };
        let (v1, v2) = (deploy(1).await, deploy(2).await);
        assert!(app.module(&name, &v1).is_none(), "a deploy prunes too");

        app.rollback(&name, "greet", 1).await.unwrap();

        assert!(app.module(&name, &v1).is_some());
        assert!(app.module(&name, &v2).is_none());
    }
}
