//! The running service's shared state: the engine, the registry, and the cache of
//! prepared modules that joins them by content digest.

use crate::engine::{Engine, LoadError, PreparedModule};
use crate::registry::{ModuleDigest, Registry};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Everything a request handler needs, shared behind an `Arc`.
pub struct App {
    /// Runs guests.
    pub engine: Arc<Engine>,
    /// Resolves tenants, keys and live action versions.
    pub registry: Arc<dyn Registry>,
    /// Compiled modules by digest: each module is compiled once, however many
    /// tenants or versions point at it.
    modules: RwLock<HashMap<ModuleDigest, PreparedModule>>,
}

impl App {
    /// A service over an engine and a registry, with an empty module cache.
    pub fn new(engine: Arc<Engine>, registry: Arc<dyn Registry>) -> Self {
        Self {
            engine,
            registry,
            modules: RwLock::new(HashMap::new()),
        }
    }

    /// The prepared module for a digest, if it was loaded.
    pub fn module(&self, digest: &ModuleDigest) -> Option<PreparedModule> {
        let modules = self.modules.read().unwrap_or_else(|e| e.into_inner());
        modules.get(digest).cloned()
    }

    /// Compiles module bytes unless a module with the same digest is cached.
    pub fn load_module(&self, bytes: &[u8]) -> Result<(ModuleDigest, PreparedModule), LoadError> {
        let digest = ModuleDigest::of(bytes);
        if let Some(module) = self.module(&digest) {
            return Ok((digest, module));
        }
        let module = self.engine.load(bytes)?;
        let mut modules = self.modules.write().unwrap_or_else(|e| e.into_inner());
        modules.insert(digest.clone(), module.clone());
        Ok((digest, module))
    }
}
