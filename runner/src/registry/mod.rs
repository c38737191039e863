//! Tenants, their webhook keys and their live actions.
//!
//! The registry knows nothing of wasmtime: an action version points at its module
//! by content digest, and the engine's cache turns the digest into runnable code.
//! Lookups on the request path are in-memory snapshots behind `Arc`s, so a request
//! never waits on storage and never holds a lock across an await.

pub mod keys;

use crate::limits::Limits;
use crate::names::{ActionName, TenantName};
use keys::KeyHash;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, RwLock};

/// The SHA-256 of a module's bytes, in lowercase hex: its identity everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleDigest(String);

impl ModuleDigest {
    /// Hashes module bytes.
    pub fn of(bytes: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(bytes)))
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
}

/// A tenant as the request path sees it.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// The tenant's name, as in `/t/{tenant}`.
    pub name: TenantName,
    /// The status word of failure responses.
    pub failure_word: String,
    /// Hashes of every live webhook key; several at once so keys can rotate.
    pub api_keys: Vec<KeyHash>,
    /// Live version of each action.
    pub actions: BTreeMap<ActionName, Arc<ActionVersion>>,
}

/// Where the HTTP layer looks tenants up. One trait, several stores behind it.
pub trait Registry: Send + Sync {
    /// The tenant named `name`, if any.
    fn tenant(&self, name: &str) -> Option<Arc<Tenant>>;
}

/// A registry held entirely in memory, filled from declarative manifests.
#[derive(Default)]
pub struct MemoryRegistry {
    tenants: RwLock<HashMap<TenantName, Arc<Tenant>>>,
}

impl MemoryRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tenant or replaces it wholesale, atomically for readers.
    pub fn put_tenant(&self, tenant: Tenant) {
        let mut tenants = self.tenants.write().unwrap_or_else(|e| e.into_inner());
        tenants.insert(tenant.name.clone(), Arc::new(tenant));
    }
}

impl Registry for MemoryRegistry {
    fn tenant(&self, name: &str) -> Option<Arc<Tenant>> {
        let tenants = self.tenants.read().unwrap_or_else(|e| e.into_inner());
        tenants.get(name).cloned()
    }
}
