//! Declarative tenants: `docket serve --manifests DIR` syncs `DIR/<tenant>/*.toml`
//! into the store at start, so a demo runs without a single admin call and an
//! operator can keep tenants in version control.
//!
//! Every manifest and module is checked before anything is written, so a bad
//! file stops the start with an error naming it and changes nothing. An action
//! whose manifest or module changed gets a new version (history is kept); an
//! action whose manifest was removed is deleted.
//!
//! With [`MissingModules::Skip`] (`docket serve --skip-missing-modules`, what
//! `make run` uses), a manifest whose module file does not exist yet is skipped
//! with a warning instead, and its action left as it is in the store, so the
//! demo serves the examples that are built. `docket check` never skips.
//!
//! Each tenant gets one webhook key and one admin token, without an admin
//! call: from `DOCKET_API_KEY_<TENANT>` and `DOCKET_ADMIN_TOKEN_<TENANT>`, or
//! else generated at the first start with only their hashes kept under
//! `--data-dir` ([`keys::declarative_credential`]). The admin token is how a
//! tenant served by `make run`, which has no operator token, reads its run log.

use crate::app::{App, DeployError};
use crate::engine::Abi;
use crate::manifest::{self, ActionManifest, ManifestFileError, TenantSettings};
use crate::names::{ActionName, TenantName};
use crate::registry::ModuleDigest;
use crate::registry::StoreError;
use crate::registry::keys::DeclarativeCredential::{self, AdminToken, WebhookKey};
use crate::registry::keys::{self, KeyHash, KeySource};
use std::path::{Path, PathBuf};

/// Why the declarative tenants could not be loaded. Each variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum DeclarativeError {
    /// A manifest is unreadable or invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestFileError),
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
    /// A manifest's module is not a usable action, or could not be stored.
    #[error("{manifest}: module {module}: {source}")]
    Module {
        /// The manifest naming the module.
        manifest: PathBuf,
        /// The module path.
        module: PathBuf,
        /// What is wrong with it.
        source: DeployError,
    },
    /// The tenant's webhook key or admin token could not be read or stored.
    #[error("tenant {tenant}: {what}: {source}")]
    Key {
        /// The tenant.
        tenant: TenantName,
        /// `webhook key` or `admin token`.
        what: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Replicas share the tenant, so its webhook key and admin token cannot
    /// be ones each replica generates under its own data directory.
    #[error(
        "tenant {tenant}: replicas on a shared database need the declarative tenant's {what} \
         from the environment: set {var} to the same value on every replica that loads --manifests"
    )]
    SharedKeyRequired {
        /// The tenant.
        tenant: TenantName,
        /// `webhook key` or `admin token`.
        what: &'static str,
        /// The variable to set.
        var: String,
    },
    /// The tenant could not be written to the store.
    #[error("tenant {tenant}: {source}")]
    Store {
        /// The tenant.
        tenant: TenantName,
        /// The store's error.
        source: StoreError,
    },
}

/// What [`sync_with`] does with a manifest whose module file does not exist.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MissingModules {
    /// Stop with [`DeclarativeError::ModuleRead`] naming the manifest and the
    /// file. The default, and always what `docket check` does.
    #[default]
    Fail,
    /// Skip the manifest with a warning (`docket serve --skip-missing-modules`):
    /// its action is left as it is in the store, neither deployed nor deleted.
    /// Only a file that does not exist is skipped; an unreadable or invalid
    /// module still stops the start.
    Skip,
}

/// What was loaded for one tenant, for the start-up banner.
#[derive(Debug)]
pub struct LoadedTenant {
    /// The tenant.
    pub name: TenantName,
    /// Where its webhook key came from.
    pub key: KeySource,
    /// Where its admin token (run log, replay, keys listing) came from.
    pub admin_token: KeySource,
    /// Its actions with their ABI, in manifest file order.
    pub actions: Vec<(ActionName, Abi)>,
    /// Its manifests skipped because their module file does not exist, in
    /// manifest file order (only with [`MissingModules::Skip`]).
    pub skipped: Vec<SkippedAction>,
    /// Its live document provider, if one of its actions is one.
    pub provider: Option<ActionName>,
}

/// A manifest skipped because its module file does not exist.
#[derive(Debug, Clone)]
pub struct SkippedAction {
    /// The action the manifest declares.
    pub name: ActionName,
    /// The manifest file.
    pub manifest: PathBuf,
    /// The module file that does not exist.
    pub module: PathBuf,
    /// Whether a version from an earlier start is still live in the store, and
    /// so still served.
    pub still_live: bool,
}

/// An action whose manifest and module passed every check, ready to sync.
struct CheckedAction {
    manifest_path: PathBuf,
    module_path: PathBuf,
    name: ActionName,
    text: String,
    bytes: Vec<u8>,
    abi: Abi,
}

/// The outcome of checking one manifest.
enum Checked {
    /// Ready to sync.
    Ready(CheckedAction),
    /// Its module file does not exist, and [`MissingModules::Skip`] was asked for.
    Missing(SkippedAction),
}

/// One tenant's checked manifests, before anything is written.
struct CheckedTenant {
    name: TenantName,
    settings: TenantSettings,
    actions: Vec<CheckedAction>,
    skipped: Vec<SkippedAction>,
}

/// Checks every tenant under `dir`, then syncs them into the store through
/// `app`. A missing module file stops the start ([`MissingModules::Fail`]).
pub async fn sync(
    app: &App,
    dir: &Path,
    data_dir: &Path,
) -> Result<Vec<LoadedTenant>, DeclarativeError> {
    sync_with(app, dir, data_dir, MissingModules::Fail).await
}

/// As [`sync`], with `missing` deciding what a manifest whose module file does
/// not exist does: stop the start, or be skipped with a warning.
pub async fn sync_with(
    app: &App,
    dir: &Path,
    data_dir: &Path,
    missing: MissingModules,
) -> Result<Vec<LoadedTenant>, DeclarativeError> {
    let declared = manifest::load_dir(dir, app.ceilings)?;
    let mut checked = Vec::new();
    for tenant in declared {
        let mut actions = Vec::new();
        let mut skipped = Vec::new();
        for (path, manifest) in tenant.actions {
            match check_action(app, &tenant.name, path, manifest, missing).await? {
                Checked::Ready(action) => actions.push(action),
                Checked::Missing(action) => skipped.push(action),
            }
        }
        checked.push(CheckedTenant {
            name: tenant.name,
            settings: tenant.settings,
            actions,
            skipped,
        });
    }

    let mut loaded = Vec::new();
    for CheckedTenant {
        name,
        settings,
        actions,
        skipped,
    } in checked
    {
        let shared = app.store.cluster_health().is_some();
        let (hash, key) = credential(WebhookKey, data_dir, &name, shared)?;
        let (admin_hash, admin_token) = credential(AdminToken, data_dir, &name, shared)?;
        let store_err = |source| DeclarativeError::Store {
            tenant: name.clone(),
            source,
        };
        app.store
            .sync_declarative_tenant(
                &name,
                settings.display_name.as_deref(),
                &settings.failure_word,
                &hash,
                &admin_hash,
            )
            .await
            .map_err(store_err)?;
        let mut summary = Vec::new();
        for action in actions {
            let digest = ModuleDigest::of(&action.bytes);
            let live = app
                .store
                .live_source(&name, &action.name)
                .await
                .map_err(store_err)?;
            if live != Some((action.text.clone(), digest)) {
                let tenant = app
                    .tenant(name.as_str())
                    .ok_or_else(|| store_err(StoreError::UnknownTenant(name.to_string())))?;
                app.deploy(&tenant, &settings.ceilings, &action.text, action.bytes)
                    .await
                    .map_err(|source| DeclarativeError::Module {
                        manifest: action.manifest_path.clone(),
                        module: action.module_path.clone(),
                        source,
                    })?;
            }
            summary.push((action.name, action.abi));
        }
        // A skipped action is left as it is: kept, not deleted.
        let keep: Vec<ActionName> = summary
            .iter()
            .map(|(n, _)| n.clone())
            .chain(skipped.iter().map(|s| s.name.clone()))
            .collect();
        app.retain_actions(&name, &keep).await.map_err(store_err)?;
        let provider = app
            .tenant(name.as_str())
            .and_then(|t| t.provider().map(|p| p.name.clone()));
        loaded.push(LoadedTenant {
            name,
            key,
            admin_token,
            actions: summary,
            skipped,
            provider,
        });
    }
    // The directory is the source of truth: a declarative tenant whose directory
    // is gone stops serving.
    for tenant in app.store.tenants() {
        if tenant.declarative && !loaded.iter().any(|l| l.name == tenant.name) {
            tracing::warn!(tenant = %tenant.name, "declarative tenant no longer in the manifests directory; deleting it");
            app.delete_tenant(&tenant.name)
                .await
                .map_err(|source| DeclarativeError::Store {
                    tenant: tenant.name.clone(),
                    source,
                })?;
        }
    }
    Ok(loaded)
}

/// A declarative tenant's webhook key or admin token: from its environment
/// variable, else (on a store of its own, never on a shared database, where
/// each replica would make a different one) the hash an earlier start kept
/// under `data_dir`, else a new one generated now.
fn credential(
    kind: DeclarativeCredential,
    data_dir: &Path,
    tenant: &TenantName,
    shared: bool,
) -> Result<(KeyHash, KeySource), DeclarativeError> {
    let var = kind.env_var(tenant);
    let env_value = std::env::var(&var).ok().filter(|v| !v.is_empty());
    if env_value.is_none() && shared {
        return Err(DeclarativeError::SharedKeyRequired {
            tenant: tenant.clone(),
            what: kind.noun(),
            var,
        });
    }
    keys::declarative_credential(kind, data_dir, tenant, env_value).map_err(|source| {
        DeclarativeError::Key {
            tenant: tenant.clone(),
            what: kind.noun(),
            source,
        }
    })
}

/// Checks one manifest and its module: reads the module and compiles it (or,
/// unchanged since the last start, loads its cached artifact), writing nothing.
/// A module file that does not exist is [`Checked::Missing`] with
/// [`MissingModules::Skip`] and an error otherwise.
async fn check_action(
    app: &App,
    tenant: &TenantName,
    path: PathBuf,
    manifest: ActionManifest,
    missing: MissingModules,
) -> Result<Checked, DeclarativeError> {
    let module_path = manifest.module.clone().unwrap_or_default();
    let bytes = match std::fs::read(&module_path) {
        Ok(bytes) => bytes,
        Err(source)
            if source.kind() == std::io::ErrorKind::NotFound && missing == MissingModules::Skip =>
        {
            let still_live = app
                .store
                .live_source(tenant, &manifest.name)
                .await
                .map_err(|source| DeclarativeError::Store {
                    tenant: tenant.clone(),
                    source,
                })?
                .is_some();
            tracing::warn!(
                tenant = %tenant,
                action = %manifest.name,
                manifest = %path.display(),
                module = %module_path.display(),
                still_live,
                "skipping the action: its module file does not exist (not built yet? \
                 `make actions` builds the example actions)"
            );
            return Ok(Checked::Missing(SkippedAction {
                name: manifest.name,
                manifest: path,
                module: module_path,
                still_live,
            }));
        }
        Err(source) => {
            return Err(DeclarativeError::ModuleRead {
                manifest: path,
                module: module_path,
                source,
            });
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ManifestFileError::Read {
        path: path.clone(),
        source,
    })?;
    let module_err = |source| DeclarativeError::Module {
        manifest: path.clone(),
        module: module_path.clone(),
        source,
    };
    // Unchanged since the last start: load the cached artifact, don't compile.
    let digest = ModuleDigest::of(&bytes);
    let unchanged = app
        .store
        .live_source(tenant, &manifest.name)
        .await
        .map_err(|e| module_err(e.into()))?
        == Some((text.clone(), digest.clone()));
    let abi = if unchanged {
        app.ensure_module(tenant, &digest)
            .await
            .map_err(module_err)?
            .abi()
    } else {
        app.precompile(tenant, &manifest, bytes.clone())
            .await
            .map_err(module_err)?
    };
    Ok(Checked::Ready(CheckedAction {
        manifest_path: path,
        module_path,
        name: manifest.name,
        text,
        bytes,
        abi,
    }))
}
