//! Prometheus metrics: one registry per [`crate::app::App`], served at
//! `GET /metrics` (operator token) and, with `--metrics-listen`, on an
//! internal listener without authentication.
//!
//! Tenant and action names come from tenants, so every label built from them
//! goes through [`SeriesCap`]: at most `--metrics-max-series` distinct
//! (tenant, action) pairs get their own series; every later pair is counted
//! under `tenant="_other",action="_other"`. `_other` is no valid tenant name
//! (tenant names are lower-case letters, digits and `-`), so it cannot be
//! mistaken for a tenant. Every other label (outcome, kind, op, …) is a fixed
//! set of `&'static str`s chosen here, never text from a request.
//!
//! The request path pays a read lock and two hash lookups for the capped
//! names, then one lookup per metric family it touches; no lock is held
//! across an await.

mod labels;
mod series_cap;

use series_cap::SeriesCap;
mod module_cache_metrics;
mod tier_metrics;

use labels::{
    ChangeLabels, CompileLabels, InvocationLabels, KindLabels, KvLabels, OutcomeLabels,
    RefusedLabels, SeriesLabels, SourceLabels, TenantLabels,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Duration;

pub use labels::Series;
pub use module_cache_metrics::ModuleCacheMetrics;
pub use tier_metrics::TierMetrics;

/// Distinct (tenant, action) pairs given their own series unless the
/// operator says otherwise (`--metrics-max-series`).
pub const DEFAULT_MAX_SERIES: usize = 1000;

/// Of those, how many one tenant may name unless the operator says
/// otherwise (`--metrics-max-series-per-tenant`): its further actions are
/// counted under its own name with `action="_other"`.
pub const DEFAULT_MAX_SERIES_PER_TENANT: usize = 100;

/// Every outcome word an invocation is counted under, as its run record
/// says it (`InvocationRecord::outcome`).
pub const OUTCOMES: [&str; 8] = [
    "success",
    "failure",
    "limit",
    "trap",
    "bad-response",
    "busy",
    "host-error",
    "cancelled",
];

/// The label value of tenants and actions past the cap.
pub const OTHER: &str = "_other";

/// Invocation durations: 1 ms to 30 s (the default ceiling on `timeout-ms`).
const INVOCATION_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Compile durations: 10 ms to the default compile timeout (60 s) and past it.
const COMPILE_BUCKETS: [f64; 12] = [
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn invocation_histogram() -> Histogram {
    Histogram::new(INVOCATION_BUCKETS)
}

fn compile_histogram() -> Histogram {
    Histogram::new(COMPILE_BUCKETS)
}

/// Why an invocation was answered 429.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The tenant's concurrency quota (`maxConcurrency`) was used up.
    Concurrency,
    /// The tenant's memory budget (`maxMemoryMb`) stayed taken.
    Memory,
}

/// What became of one outbound HTTP request of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundOutcome {
    /// It was sent and a response came back (whatever its status).
    Allowed,
    /// Docket refused it: not on the allow-list, a private address, over the
    /// per-invocation budget or the body limit.
    Denied,
    /// It left but failed: connection, timeout, an oversized response.
    Error,
}

impl OutboundOutcome {
    /// The label value and run-log word: `allowed`, `denied` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboundOutcome::Allowed => "allowed",
            OutboundOutcome::Denied => "denied",
            OutboundOutcome::Error => "error",
        }
    }
}

/// Where a module in the compiled-module cache came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleSource {
    /// Already compiled in memory (a deploy of bytes this tenant already runs).
    Memory,
    /// Its stored compiled artifact was loaded: no compile.
    Artifact,
    /// It was compiled from its bytes.
    Compiled,
}

/// The service's metrics. Cheap to share behind an `Arc`; every recording
/// method takes `&self`. [`Metrics::off`] records nothing (`--no-metrics`).
pub struct Metrics {
    /// Whether anything is recorded.
    on: bool,
    registry: Registry,
    series: SeriesCap,
    invocations: Family<InvocationLabels, Counter>,
    duration: HistogramFamily<SeriesLabels>,
    queued: HistogramFamily<SeriesLabels>,
    instantiate: HistogramFamily<SeriesLabels>,
    limit_hits: Family<KindLabels, Counter>,
    refused: Family<RefusedLabels, Counter>,
    in_flight: Family<TenantLabels, Gauge>,
    outbound: Family<OutcomeLabels, Counter>,
    kv: Family<KvLabels, Counter>,
    modules: Family<SourceLabels, Counter>,
    compiles: HistogramFamily<CompileLabels>,
    changes: Family<ChangeLabels, Counter>,
    pool_instances: Gauge,
    pool_memories: Gauge,
    /// The compile tiers' series.
    pub tiers: TierMetrics,
    /// The loaded modules' series.
    pub module_cache: ModuleCacheMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_SERIES)
    }
}

impl Metrics {
    /// An empty registry giving at most `max_series` (tenant, action) pairs
    /// their own series, any number of them to one tenant.
    pub fn new(max_series: usize) -> Self {
        Self::with(max_series, max_series, true)
    }

    /// An empty registry giving at most `max_series` (tenant, action) pairs
    /// their own series, and at most `per_tenant` of them to one tenant.
    pub fn with_tenant_share(max_series: usize, per_tenant: usize) -> Self {
        Self::with(max_series, per_tenant, true)
    }

    fn with(max_series: usize, per_tenant: usize, on: bool) -> Self {
        let mut registry = Registry::with_prefix("docket");
        let invocations = Family::default();
        registry.register(
            "invocations",
            "Invocations by tenant, action and outcome (success, failure, limit, trap, \
             bad-response, busy, host-error, cancelled), as the invocation log records them",
            invocations.clone(),
        );
        let duration = HistogramFamily::new_with_constructor(invocation_histogram as fn() -> _);
        registry.register(
            "invocation_duration_seconds",
            "How long invocations ran, in seconds, by tenant and action (every outcome)",
            duration.clone(),
        );
        let queued = HistogramFamily::new_with_constructor(invocation_histogram as fn() -> _);
        registry.register(
            "invocation_queue_seconds",
            "How long admitted invocations waited before running (module load, memory \
             budget, a free WebAssembly thread), in seconds, by tenant and action",
            queued.clone(),
        );
        let instantiate = HistogramFamily::new_with_constructor(invocation_histogram as fn() -> _);
        registry.register(
            "invocation_instantiate_seconds",
            "How much of invocation_duration_seconds went to setting up the sandbox and \
             instantiating (start functions included), in seconds, by tenant and action",
            instantiate.clone(),
        );
        let limit_hits = Family::default();
        registry.register(
            "limit_hits",
            "Invocations stopped at a limit, by kind (time, memory, table, fuel, output, stack)",
            limit_hits.clone(),
        );
        let refused = Family::default();
        registry.register(
            "refused",
            "Invocations refused with 429, by tenant and reason (concurrency, memory)",
            refused.clone(),
        );
        let in_flight = Family::default();
        registry.register(
            "in_flight",
            "Invocations admitted and not yet answered, by tenant",
            in_flight.clone(),
        );
        let outbound = Family::default();
        registry.register(
            "outbound_requests",
            "Outbound HTTP requests of actions, by outcome (allowed, denied, error)",
            outbound.clone(),
        );
        let kv = Family::default();
        registry.register(
            "kv_operations",
            "Key-value operations of actions, by op (get, set, delete, increment, keys) and \
             result (ok, error)",
            kv.clone(),
        );
        let modules = Family::default();
        registry.register(
            "modules_loaded",
            "Modules put in the compiled-module cache, by source (memory, artifact, compiled)",
            modules.clone(),
        );
        let compiles = HistogramFamily::new_with_constructor(compile_histogram as fn() -> _);
        registry.register(
            "compile_duration_seconds",
            "How long compiles took once they had a compile slot, in seconds, by outcome (ok, error) \
             and tier (baseline: Winch, optimized: Cranelift, background recompiles included)",
            compiles.clone(),
        );
        let changes = Family::default();
        registry.register(
            "deployments",
            "Deploys and rollbacks, by kind (deploy, rollback) and outcome (ok, error)",
            changes.clone(),
        );
        let pool_instances = Gauge::default();
        registry.register(
            "pool_instances_in_use",
            "Core instances taken from the engine's pooling allocator",
            pool_instances.clone(),
        );
        let pool_memories = Gauge::default();
        registry.register(
            "pool_memories_in_use",
            "Linear memories taken from the engine's pooling allocator",
            pool_memories.clone(),
        );
        let tiers = TierMetrics::register(&mut registry, on);
        let module_cache = ModuleCacheMetrics::register(&mut registry, on);
        Self {
            on,
            registry,
            series: SeriesCap::new(max_series, per_tenant),
            invocations,
            duration,
            queued,
            instantiate,
            limit_hits,
            refused,
            in_flight,
            outbound,
            kv,
            modules,
            compiles,
            changes,
            pool_instances,
            pool_memories,
            tiers,
            module_cache,
        }
    }

    /// Metrics that record nothing: every recording method returns at once,
    /// and [`Metrics::is_on`] says so (`/metrics` answers 404).
    pub fn off() -> Self {
        Self::with(0, 0, false)
    }

    /// Forgets a deleted tenant: its series leave the exposition and the
    /// cap, so a new tenant of the same name starts from zero.
    pub fn forget_tenant(&self, tenant: &str) {
        for series in self.series.forget(tenant) {
            for outcome in OUTCOMES {
                self.invocations
                    .remove(&InvocationLabels::new(&series, outcome));
            }
            let labels = SeriesLabels::new(&series);
            self.duration.remove(&labels);
            self.queued.remove(&labels);
            self.instantiate.remove(&labels);
            for reason in ["concurrency", "memory"] {
                self.refused.remove(&RefusedLabels::new(&series, reason));
            }
            self.in_flight.remove(&TenantLabels::new(&series));
        }
    }

    /// Whether anything is recorded.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// The labels of `action` of `tenant`, within the cap.
    pub fn series(&self, tenant: &str, action: &str) -> Series {
        if !self.on {
            return self.series.other.clone();
        }
        self.series.pair(tenant, action)
    }

    /// Records one finished (or cancelled) invocation: its outcome word, the
    /// limit it hit if any (`time`, `memory`, …), how long it ran and how long
    /// it waited after admission.
    pub fn invoked(
        &self,
        series: &Series,
        outcome: &'static str,
        limit: Option<&'static str>,
        ran: Duration,
        queued: Option<Duration>,
    ) {
        if !self.on {
            return;
        }
        self.invocations
            .get_or_create(&InvocationLabels::new(series, outcome))
            .inc();
        let labels = SeriesLabels::new(series);
        self.duration
            .get_or_create(&labels)
            .observe(ran.as_secs_f64());
        if let Some(queued) = queued {
            self.queued
                .get_or_create(&labels)
                .observe(queued.as_secs_f64());
        }
        if let Some(kind) = limit {
            self.limit_hits.get_or_create(&KindLabels { kind }).inc();
        }
    }

    /// Records how long a finished invocation took to instantiate (the rest
    /// of its duration was the run).
    pub fn instantiated(&self, series: &Series, took: Duration) {
        if !self.on {
            return;
        }
        self.instantiate
            .get_or_create(&SeriesLabels::new(series))
            .observe(took.as_secs_f64());
    }

    /// Records a 429.
    pub fn refused(&self, series: &Series, why: Refused) {
        if !self.on {
            return;
        }
        let reason = match why {
            Refused::Concurrency => "concurrency",
            Refused::Memory => "memory",
        };
        self.refused
            .get_or_create(&RefusedLabels::new(series, reason))
            .inc();
    }

    /// Counts an admitted invocation in its tenant's in-flight gauge until
    /// the returned guard is dropped (answered or cancelled).
    pub fn enter(&self, series: &Series) -> InFlightGauge {
        if !self.on {
            return InFlightGauge(None);
        }
        let gauge = self
            .in_flight
            .get_or_create_owned(&TenantLabels::new(series));
        gauge.inc();
        InFlightGauge(Some(gauge))
    }

    /// Records one outbound request.
    pub fn outbound(&self, outcome: OutboundOutcome) {
        if !self.on {
            return;
        }
        self.outbound
            .get_or_create(&OutcomeLabels {
                outcome: outcome.as_str(),
            })
            .inc();
    }

    /// Records one key-value operation (`op` is one of the capability's
    /// fixed operation names).
    pub fn kv(&self, op: &'static str, ok: bool) {
        if !self.on {
            return;
        }
        let result = if ok { "ok" } else { "error" };
        self.kv.get_or_create(&KvLabels { op, result }).inc();
    }

    /// Records a module put in the compiled-module cache.
    pub fn module_loaded(&self, source: ModuleSource) {
        if !self.on {
            return;
        }
        let source = match source {
            ModuleSource::Memory => "memory",
            ModuleSource::Artifact => "artifact",
            ModuleSource::Compiled => "compiled",
        };
        self.modules.get_or_create(&SourceLabels { source }).inc();
    }

    /// Records one compile, how long it took and which tier's compiler
    /// (`baseline` or `optimized`) made the code.
    pub fn compiled(&self, took: Duration, ok: bool, tier: &'static str) {
        if !self.on {
            return;
        }
        let outcome = if ok { "ok" } else { "error" };
        self.compiles
            .get_or_create(&CompileLabels { outcome, tier })
            .observe(took.as_secs_f64());
    }

    /// Records a deploy (`rollback = false`) or a rollback and whether it
    /// went live.
    pub fn deployment(&self, rollback: bool, ok: bool) {
        if !self.on {
            return;
        }
        let labels = ChangeLabels {
            kind: if rollback { "rollback" } else { "deploy" },
            outcome: if ok { "ok" } else { "error" },
        };
        self.changes.get_or_create(&labels).inc();
    }

    /// Sets the pooling allocator's gauges; read at scrape time, as the
    /// engine keeps the counts itself.
    pub fn set_pool_usage(&self, instances: u64, memories: usize) {
        self.pool_instances
            .set(i64::try_from(instances).unwrap_or(i64::MAX));
        self.pool_memories
            .set(i64::try_from(memories).unwrap_or(i64::MAX));
    }

    /// The whole registry in the Prometheus text exposition format (0.0.4).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// The `Content-Type` of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Holds one unit of a tenant's in-flight gauge; released on drop.
pub struct InFlightGauge(Option<Gauge>);

impl Drop for InFlightGauge {
    fn drop(&mut self) {
        if let Some(gauge) = &self.0 {
            gauge.dec();
        }
    }
}

#[cfg(test)]
mod tests;
