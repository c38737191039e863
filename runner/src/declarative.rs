//! Declarative tenants: `docket serve --manifests DIR` turns `DIR/<tenant>/*.toml`
//! into live tenants at start, so a demo runs without a single admin call.

use crate::app::App;
use crate::engine::{Abi, LoadError};
use crate::limits::Ceilings;
use crate::manifest::{self, ManifestError};
use crate::names::{ActionName, TenantName};
use crate::registry::keys::{self, KeySource};
use crate::registry::{ActionVersion, MemoryRegistry, Tenant};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why the declarative tenants could not be loaded. Each variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum DeclarativeError {
    /// A manifest is unreadable or invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A manifest's module file could not be read.
    #[error("{manifest}: cannot read module {module}: {source}")]
    ModuleRead {
        /// The manifest naming the module.
        manifest: PathBuf,
        /// The module path.
        module: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A manifest's module is not a usable action.
    #[error("{manifest}: module {module}: {source}")]
    Module {
        /// The manifest naming the module.
        manifest: PathBuf,
        /// The module path.
        module: PathBuf,
        /// What is wrong with it.
        source: LoadError,
    },
    /// The tenant's webhook key could not be read or stored.
    #[error("tenant {tenant}: webhook key: {source}")]
    Key {
        /// The tenant.
        tenant: TenantName,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What was loaded for one tenant, for the start-up banner.
#[derive(Debug)]
pub struct LoadedTenant {
    /// The tenant.
    pub name: TenantName,
    /// Where its webhook key came from.
    pub key: KeySource,
    /// Its actions with their ABI, in manifest file order.
    pub actions: Vec<(ActionName, Abi)>,
}

/// Loads every tenant under `dir` into `registry`, compiling modules through `app`.
/// Nothing is registered unless everything loads.
pub fn load(
    app: &App,
    registry: &MemoryRegistry,
    dir: &Path,
    data_dir: &Path,
    ceilings: Ceilings,
) -> Result<Vec<LoadedTenant>, DeclarativeError> {
    let mut tenants = Vec::new();
    let mut loaded = Vec::new();
    for declared in manifest::load_dir(dir, ceilings)? {
        let mut actions = BTreeMap::new();
        let mut summary = Vec::new();
        for (path, manifest) in declared.actions {
            let module_path = manifest.module.clone().unwrap_or_default();
            let bytes =
                std::fs::read(&module_path).map_err(|source| DeclarativeError::ModuleRead {
                    manifest: path.clone(),
                    module: module_path.clone(),
                    source,
                })?;
            let (digest, module) =
                app.load_module(&bytes)
                    .map_err(|source| DeclarativeError::Module {
                        manifest: path.clone(),
                        module: module_path.clone(),
                        source,
                    })?;
            summary.push((manifest.name.clone(), module.abi()));
            let version = ActionVersion {
                name: manifest.name.clone(),
                display_name: manifest.display_name,
                version: 1,
                module: digest,
                limits: manifest.limits,
                config: manifest.config,
            };
            actions.insert(manifest.name, Arc::new(version));
        }
        let env_key = std::env::var(declared.name.api_key_env_var()).ok();
        let (hash, source) =
            keys::declarative_key(data_dir, &declared.name, env_key).map_err(|source| {
                DeclarativeError::Key {
                    tenant: declared.name.clone(),
                    source,
                }
            })?;
        tenants.push(Tenant {
            name: declared.name.clone(),
            failure_word: declared.settings.failure_word,
            api_keys: vec![hash],
            actions,
        });
        loaded.push(LoadedTenant {
            name: declared.name,
            key: source,
            actions: summary,
        });
    }
    for tenant in tenants {
        registry.put_tenant(tenant);
    }
    Ok(loaded)
}
