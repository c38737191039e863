//! The loaded modules' metrics: how many are loaded and the bytes their
//! compiled images take against `--max-loaded-modules-mb`, how many were
//! evicted to stay under it, and how many were loaded on a first call rather
//! than at start. No label is built from a tenant's names.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The loaded modules' series in the service's registry.
pub struct ModuleCacheMetrics {
    on: bool,
    loaded: Gauge,
    bytes: Gauge,
    limit: Gauge,
    evictions: Counter,
    lazy_loads: Counter,
}

impl ModuleCacheMetrics {
    /// Registers the series in `registry`; with metrics off, nothing.
    pub(super) fn register(registry: &mut Registry, on: bool) -> Self {
        let this = Self {
            on,
            loaded: Gauge::default(),
            bytes: Gauge::default(),
            limit: Gauge::default(),
            evictions: Counter::default(),
            lazy_loads: Counter::default(),
        };
        if !on {
            return this;
        }
        registry.register(
            "loaded_modules",
            "Modules loaded in memory (compiled code ready to instantiate), every tenant's",
            this.loaded.clone(),
        );
        registry.register(
            "loaded_module_bytes",
            "Bytes the compiled images of the loaded modules take",
            this.bytes.clone(),
        );
        registry.register(
            "loaded_module_bytes_limit",
            "The bound on loaded_module_bytes (--max-loaded-modules-mb); past it the least \
             recently used modules are evicted",
            this.limit.clone(),
        );
        registry.register(
            "module_evictions",
            "Loaded modules evicted to stay under --max-loaded-modules-mb (loaded again from \
             their compiled artifact at their next call)",
            this.evictions.clone(),
        );
        registry.register(
            "module_lazy_loads",
            "Modules loaded by a call that found them not loaded (never called since the \
             start, or evicted), by artifact or compile",
            this.lazy_loads.clone(),
        );
        this
    }

    /// Sets the gauges and counts evictions after a change of the loaded modules.
    pub fn changed(&self, modules: usize, bytes: u64, evicted: usize) {
        if !self.on {
            return;
        }
        self.loaded.set(i64::try_from(modules).unwrap_or(i64::MAX));
        self.bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
        if evicted > 0 {
            self.evictions.inc_by(evicted as u64);
        }
    }

    /// Sets the bound's gauge.
    pub fn set_limit(&self, bytes: u64) {
        if self.on {
            self.limit.set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
    }

    /// Counts a module loaded by a call.
    pub fn lazy_load(&self) {
        if self.on {
            self.lazy_loads.inc();
        }
    }
}
