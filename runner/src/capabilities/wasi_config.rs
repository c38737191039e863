//! `wasi:config/store` for components: the manifest's `[config]` and the tenant
//! secrets it grants (`[capabilities] secrets`), read-only. Command modules
//! read the same values from their JSON request, so there is no `host_call`
//! operation for them.

use std::collections::BTreeMap;
use wasmtime::component::Linker;
use wasmtime_wasi_config::{WasiConfig, WasiConfigVariables};

/// What `wasi:config/store` answers for one invocation.
pub struct ConfigVariables(WasiConfigVariables);

impl ConfigVariables {
    /// The manifest's `config` and the granted `secrets` (a secret wins a clash).
    pub fn new(config: &BTreeMap<String, String>, secrets: &BTreeMap<String, String>) -> Self {
        Self(
            config
                .iter()
                .chain(secrets.iter())
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
        )
    }
}

/// A store state that holds [`ConfigVariables`].
pub trait ConfigView {
    /// The invocation's variables.
    fn config(&mut self) -> &ConfigVariables;
}

/// Adds `wasi:config/store` to a component linker.
pub fn add_to_linker<T: ConfigView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wasmtime_wasi_config::add_to_linker(linker, |state: &mut T| WasiConfig::from(&state.config().0))
}
