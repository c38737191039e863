//! The compile tiers' metrics: which tier the cached modules run on, and how
//! long a new version waits for its optimized code.

use super::labels::TierLabels;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Duration;

/// From a version's first (baseline) answer being possible to the optimized
/// code taking over: 100 ms to 10 minutes.
const SWITCH_BUCKETS: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 600.0];

/// The tiers' series in the service's registry.
pub struct TierMetrics {
    on: bool,
    cached: Family<TierLabels, Gauge>,
    switch: Histogram,
}

impl TierMetrics {
    /// Registers the tiers' series in `registry`; with metrics off, nothing.
    pub(super) fn register(registry: &mut Registry, on: bool) -> Self {
        let cached = Family::default();
        let switch = Histogram::new(SWITCH_BUCKETS);
        if !on {
            return Self { on, cached, switch };
        }
        registry.register(
            "modules_cached",
            "Modules in the compiled-module cache, by the compiler their code came from \
             (tier: baseline for Winch, optimized for Cranelift)",
            cached.clone(),
        );
        registry.register(
            "tier_switch_seconds",
            "From a module serving on baseline code to its optimized code taking over, in seconds",
            switch.clone(),
        );
        Self { on, cached, switch }
    }

    /// Sets the cache's gauges; counted at scrape time.
    pub fn set_cached(&self, baseline: usize, optimized: usize) {
        if !self.on {
            return;
        }
        for (tier, count) in [("baseline", baseline), ("optimized", optimized)] {
            self.cached
                .get_or_create(&TierLabels { tier })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    /// Records optimized code taking over from baseline code after `took`.
    pub fn switched(&self, took: Duration) {
        if self.on {
            self.switch.observe(took.as_secs_f64());
        }
    }
}
