//! Tenants, their webhook keys and their live actions.
//!
//! The registry knows nothing of wasmtime: an action version points at its module
//! by content digest, and the engine's cache turns the digest into runnable code.
//! Lookups on the request path are in-memory snapshots behind `Arc`s, so a request
//! never waits on storage and never holds a lock across an await.

pub mod keys;
pub mod kv_store;
pub mod quotas;
pub mod secrets;
pub mod store;

use crate::limits::Limits;
use crate::names::{ActionName, TenantName};
use keys::KeyHash;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

pub use quotas::{QuotaOverrides, Quotas};

/// The SHA-256 of a module's bytes, in lowercase hex: its identity everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ModuleDigest(String);

impl ModuleDigest {
    /// Hashes module bytes.
    pub fn of(bytes: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(bytes)))
    }

    /// Wraps a digest read back from storage.
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    /// The digest in hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ModuleDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One immutable version of an action.
#[derive(Debug, Clone)]
pub struct ActionVersion {
    /// The name Workfront sends.
    pub name: ActionName,
    /// The label under Document Actions.
    pub display_name: String,
    /// Counts up from 1 per action.
    pub version: u32,
    /// Which module runs.
    pub module: ModuleDigest,
    /// Limits per invocation.
    pub limits: Limits,
    /// The manifest's `[config]`.
    pub config: BTreeMap<String, String>,
    /// Names of the tenant secrets this version may read.
    pub secrets: Vec<String>,
    /// Outbound hosts and key-value access this version's manifest grants.
    pub grants: crate::capabilities::Grants,
}

/// A tenant's decrypted secrets, kept in the snapshot so the request path needs
/// no database or decryption. `Debug` prints names only.
#[derive(Clone, Default)]
pub struct SecretValues(pub BTreeMap<String, String>);

impl fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl SecretValues {
    /// The values of the `granted` names that are set.
    pub fn granted(&self, granted: &[String]) -> BTreeMap<String, String> {
        granted
            .iter()
            .filter_map(|name| Some((name.clone(), self.0.get(name)?.clone())))
            .collect()
    }
}

/// A tenant as the request path sees it: an immutable snapshot, replaced whole
/// on every change.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// The tenant's name, as in `/t/{tenant}`.
    pub name: TenantName,
    /// A human-friendly name.
    pub display_name: Option<String>,
    /// The status word of failure responses.
    pub failure_word: String,
    /// Suspended tenants get 403 on every route.
    pub suspended: bool,
    /// Managed from `--manifests` rather than the admin API.
    pub declarative: bool,
    /// Effective quotas (operator defaults with this tenant's overrides).
    pub quotas: Quotas,
    /// Hashes of every live webhook key; several at once so keys can rotate.
    pub webhook_keys: Vec<KeyHash>,
    /// Hashes of the tenant's admin tokens.
    pub admin_tokens: Vec<KeyHash>,
    /// Live version of each action.
    pub actions: BTreeMap<ActionName, Arc<ActionVersion>>,
    /// The tenant's secrets, decrypted.
    pub secrets: SecretValues,
}

/// Where the HTTP layer looks tenants up on the request path: an in-memory
/// snapshot, never a database round trip.
pub trait Registry: Send + Sync {
    /// The tenant named `name`, if any.
    fn tenant(&self, name: &str) -> Option<Arc<Tenant>>;
}
