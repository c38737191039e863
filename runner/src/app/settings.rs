//! The operator's service-wide settings and their defaults.

use crate::compiles::CompileSettings;
use crate::limits::Ceilings;

/// Service-wide settings chosen by the operator.
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// The operator's limit ceilings for manifests.
    pub ceilings: Ceilings,
    /// The operator token (`DOCKET_ADMIN_TOKEN`); `None` turns operator routes off.
    pub operator_token: Option<String>,
    /// Longest a compile may take before the deploy is refused.
    pub compile_timeout: std::time::Duration,
    /// Compiles that may run at once; the rest wait, so uploads cannot take every core.
    pub compile_concurrency: usize,
    /// Where compiles run: `Some` in bounded worker processes (what `docket
    /// serve` uses), `None` in this process (tests and local tools).
    pub compile_worker: Option<crate::engine::worker::CompileWorker>,
    /// Failed compiles one tenant may cause per [`ServiceSettings::compile_failure_window`];
    /// past it the tenant's deploys are refused until the window ends.
    pub compile_failures: u32,
    /// Time one tenant's failed compiles may take per window; a compile
    /// stopped at the timeout counts in full, so a tenant cannot hold a
    /// compile slot with modules that never finish.
    pub compile_failure_time: std::time::Duration,
    /// The window `compile_failures` and `compile_failure_time` count in.
    pub compile_failure_window: std::time::Duration,
    /// Threads that run WebAssembly, apart from the HTTP threads.
    pub wasm_threads: usize,
    /// Invocations of one tenant that may compute at once (see `engine::cpu`).
    pub tenant_cpu_share: usize,
    /// Distinct (tenant, action) pairs the metrics label by name (`--metrics-max-series`).
    pub metrics_max_series: usize,
    /// How many of those one tenant may name (`--metrics-max-series-per-tenant`).
    pub metrics_max_series_per_tenant: usize,
    /// Guest memory all tenants' running invocations may hold at once, in
    /// MiB (`--guest-memory-budget-mb`), beside each tenant's own budget.
    pub guest_memory_budget_mb: u64,
    /// The bytes of compiled code loaded modules may take, in MiB
    /// (`--max-loaded-modules-mb`); past it the least recently used are
    /// evicted, and loaded again from their artifact at their next call.
    pub max_loaded_modules_mb: u64,
    /// Whether metrics are recorded at all (`--no-metrics` turns them off).
    pub metrics_on: bool,
    /// How long invocation records are kept (`--invocation-max-age-days`).
    pub invocation_max_age: std::time::Duration,
    /// Where browsers and Workfront reach this server (`--public-url`, or
    /// http:// and the listen address): OAuth2 mode's URLs are made from it.
    pub public_url: String,
    /// How long a web console session lasts after sign-in
    /// (`--console-session-seconds`).
    pub console_session: std::time::Duration,
    /// Largest body of one upload or download through a document provider
    /// (`--max-transfer-mb`).
    pub max_transfer_bytes: u64,
    /// Bytes one tenant's uploads and downloads may carry per UTC day, on
    /// this replica (`--tenant-max-transfer-mb-per-day`).
    pub tenant_transfer_bytes_per_day: u64,
}

impl ServiceSettings {
    /// What the compile queue needs of these settings.
    pub fn compile_settings(&self) -> CompileSettings {
        CompileSettings {
            concurrency: self.compile_concurrency,
            failures: self.compile_failures,
            failure_time: self.compile_failure_time,
            failure_window: self.compile_failure_window,
            worker: self.compile_worker.clone(),
            timeout: self.compile_timeout,
        }
    }
}

/// The default service-wide guest memory budget: half the machine's memory
/// (`MemTotal` in `/proc/meminfo`), or 4 GiB where that cannot be read. The
/// other half is left to the host: compiled code, the compile worker, the
/// database and the kernel's caches.
pub fn default_guest_memory_budget_mb() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib / 1024 / 2)
        })
        .filter(|mb| *mb > 0)
        .unwrap_or(4096)
}

/// The default bound on loaded modules' compiled code
/// (`--max-loaded-modules-mb`): 1 GiB, some 15,000 small actions.
pub const DEFAULT_MAX_LOADED_MODULES_MB: u64 = 1024;

/// One WebAssembly thread per core.
pub fn default_wasm_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            ceilings: Ceilings::default(),
            operator_token: None,
            compile_timeout: std::time::Duration::from_secs(60),
            compile_concurrency: 2,
            compile_worker: None,
            compile_failures: 10,
            compile_failure_time: std::time::Duration::from_secs(120),
            compile_failure_window: std::time::Duration::from_secs(600),
            wasm_threads: default_wasm_threads(),
            tenant_cpu_share: default_wasm_threads(),
            metrics_max_series: crate::metrics::DEFAULT_MAX_SERIES,
            metrics_max_series_per_tenant: crate::metrics::DEFAULT_MAX_SERIES_PER_TENANT,
            guest_memory_budget_mb: default_guest_memory_budget_mb(),
            max_loaded_modules_mb: DEFAULT_MAX_LOADED_MODULES_MB,
            metrics_on: true,
            invocation_max_age: std::time::Duration::from_secs(30 * 86_400),
            public_url: "http://127.0.0.1:8080".to_owned(),
            console_session: std::time::Duration::from_secs(8 * 3600),
            max_transfer_bytes: 2 * 1024 * 1024 * 1024,
            tenant_transfer_bytes_per_day: 100 * 1024 * 1024 * 1024,
        }
    }
}
