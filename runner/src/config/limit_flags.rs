//! Operator ceilings and engine sizing, the flags `serve`, `invoke` and
//! `check` share, and the settings they become.

use crate::app::ServiceSettings;
use crate::capabilities::HostServices;
use crate::capabilities::blob::BlobStore;
use crate::capabilities::kv::{KvBackend, KvLimits};
use crate::capabilities::outbound::{OutboundClient, OutboundSettings};
use crate::engine::worker::CompileWorker;
use crate::engine::{CompileTiers, EngineSettings};
use crate::limits::Ceilings;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;

/// Operator ceilings and engine sizing, shared by `serve`, `invoke` and `check`.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Highest `timeout-ms` any manifest may set.
    #[arg(long, env = "DOCKET_MAX_TIMEOUT_MS", default_value_t = Ceilings::default().timeout_ms)]
    pub max_timeout_ms: u64,
    /// Highest `memory-mb` any manifest may set.
    #[arg(long, env = "DOCKET_MAX_MEMORY_MB", default_value_t = Ceilings::default().memory_mb)]
    pub max_memory_mb: u64,
    /// Highest `max-output-kb` any manifest may set.
    #[arg(long, env = "DOCKET_MAX_OUTPUT_KB", default_value_t = Ceilings::default().max_output_kb)]
    pub max_output_kb: u64,
    /// Highest `instance-reuse` any manifest may set: how many requests one
    /// component instance may answer. 1 turns instance reuse off for every
    /// action, stored versions included.
    #[arg(long, env = "DOCKET_MAX_INSTANCE_REUSE", default_value_t = Ceilings::default().instance_reuse)]
    pub max_instance_reuse: u32,
    /// Idle instances kept for reuse (`instance-reuse` > 1) across all
    /// actions; each holds a slot of --max-instances, given up to a request
    /// that finds no free slot.
    #[arg(long, env = "DOCKET_MAX_IDLE_INSTANCES", default_value_t = EngineSettings::default().max_idle_instances)]
    pub max_idle_instances: u32,
    /// Idle instances kept for reuse per action version.
    #[arg(long, env = "DOCKET_MAX_IDLE_INSTANCES_PER_VERSION", default_value_t = EngineSettings::default().max_idle_per_version)]
    pub max_idle_instances_per_version: u32,
    /// Linear memory all idle instances may hold together, in MiB.
    #[arg(long, env = "DOCKET_MAX_IDLE_MEMORY_MB", default_value_t = EngineSettings::default().max_idle_memory_mb)]
    pub max_idle_memory_mb: u64,
    /// Largest module accepted, in MiB.
    #[arg(long, env = "DOCKET_MAX_MODULE_MB", default_value_t = 32)]
    pub max_module_mb: usize,
    /// Instances that may run at once (sizes the pooling allocator).
    #[arg(long, env = "DOCKET_MAX_INSTANCES", default_value_t = EngineSettings::default().max_instances)]
    pub max_instances: u32,
    /// Which compilers a new version goes through: `baseline,optimized` serves
    /// it on Winch code as soon as Winch compiled it (about ten times faster
    /// than Cranelift) and switches to Cranelift code compiled in the
    /// background; `optimized` compiles with Cranelift only, before the
    /// version goes live; `baseline` with Winch only.
    #[arg(long, env = "DOCKET_COMPILE_TIERS", default_value_t = CompileTiers::default())]
    pub compile_tiers: CompileTiers,
    /// Most elements any table may grow to.
    #[arg(long, env = "DOCKET_MAX_TABLE_ELEMENTS", default_value_t = EngineSettings::default().max_table_elements)]
    pub max_table_elements: usize,
    /// WebAssembly stack per invocation, in KiB (recursion depth).
    #[arg(long, env = "DOCKET_MAX_WASM_STACK_KB", default_value_t = EngineSettings::default().max_wasm_stack / 1024)]
    pub max_wasm_stack_kb: usize,
    /// Stderr kept per invocation, in KiB; the rest is dropped (the last line is kept).
    #[arg(long, env = "DOCKET_MAX_STDERR_KB", default_value_t = EngineSettings::default().max_stderr_bytes / 1024)]
    pub max_stderr_kb: usize,
    /// Most functions a module (or all modules of a component) may define.
    #[arg(long, env = "DOCKET_MAX_FUNCTIONS", default_value_t = EngineSettings::default().max_functions)]
    pub max_functions: u32,
    /// Largest function body accepted, in KiB, checked before compiling: the
    /// compiler's time and memory grow with a function's size. Default 2048,
    /// 4.9 times the largest body of any example (CPython's).
    #[arg(long, env = "DOCKET_MAX_FUNCTION_KB", default_value_t = EngineSettings::default().max_function_bytes / 1024)]
    pub max_function_kb: usize,
    /// Most locals one function may declare, checked before compiling. Default
    /// 10000, far above any example (271) for unoptimised builds.
    #[arg(long, env = "DOCKET_MAX_LOCALS", default_value_t = EngineSettings::default().max_locals)]
    pub max_locals: u32,
    /// Deepest nesting of blocks, loops, ifs and trys in one function, checked
    /// before compiling (2.5 million nested blocks took a compile to 2.1 GB).
    /// Default 5000, 6.4 times the deepest of any example (781).
    #[arg(long, env = "DOCKET_MAX_NESTING_DEPTH", default_value_t = EngineSettings::default().max_nesting_depth)]
    pub max_nesting_depth: u32,
    /// Most blocks (`block`, `loop`, `if`, …) one function may have, nested or
    /// not (checked before compiling: many blocks make compiles slow).
    #[arg(long, env = "DOCKET_MAX_BLOCKS", default_value_t = EngineSettings::default().max_blocks)]
    pub max_blocks: u32,
    /// Most targets one `br_table` may list, checked before compiling: each is a
    /// branch the compiler builds. Default 50000, 15 times any example (3202).
    #[arg(long, env = "DOCKET_MAX_BR_TABLE_TARGETS", default_value_t = EngineSettings::default().max_br_table_targets)]
    pub max_br_table_targets: u32,
    /// Longest a module may take to compile, in milliseconds.
    #[arg(long, env = "DOCKET_MAX_COMPILE_MS", default_value_t = 60_000)]
    pub max_compile_ms: u64,
    /// Memory one compile may use, in MiB: `docket serve` compiles in a worker
    /// process limited to this, so a compile bomb fails alone.
    #[arg(long, env = "DOCKET_COMPILE_MEMORY_MB", default_value_t = 2048)]
    pub compile_memory_mb: u64,
    /// Compiles that may run at once, across all tenants (one per tenant at a time).
    #[arg(long, env = "DOCKET_COMPILE_CONCURRENCY", default_value_t = ServiceSettings::default().compile_concurrency)]
    pub compile_concurrency: usize,
    /// Failed compiles one tenant may cause in 10 minutes before its deploys
    /// are refused (429) for the rest of that window.
    #[arg(long, env = "DOCKET_TENANT_COMPILE_FAILURES", default_value_t = ServiceSettings::default().compile_failures)]
    pub tenant_compile_failures: u32,
    /// Seconds one tenant's failed compiles may take in 10 minutes (a compile
    /// stopped at --max-compile-ms counts in full) before its deploys are
    /// refused (429) for the rest of that window.
    #[arg(long, env = "DOCKET_TENANT_COMPILE_FAILURE_SECONDS", default_value_t = ServiceSettings::default().compile_failure_time.as_secs())]
    pub tenant_compile_failure_seconds: u64,
    /// Threads that run WebAssembly, apart from the HTTP threads (default: one per core).
    #[arg(long, env = "DOCKET_WASM_THREADS", default_value_t = crate::app::default_wasm_threads())]
    pub wasm_threads: usize,
    /// Invocations of one tenant that may compute at once; the rest wait for a
    /// turn without using CPU (default: one per WebAssembly thread).
    #[arg(long, env = "DOCKET_TENANT_CPU_SHARE")]
    pub tenant_cpu_share: Option<usize>,
    /// Let actions' outbound HTTP reach private, loopback and link-local addresses
    /// (off: such destinations are refused after DNS resolution).
    #[arg(long, env = "DOCKET_ALLOW_PRIVATE_OUTBOUND")]
    pub allow_private_outbound: bool,
    /// Outbound HTTP requests one invocation may make, redirect hops included.
    #[arg(long, env = "DOCKET_OUTBOUND_MAX_REQUESTS", default_value_t = OutboundSettings::default().max_requests)]
    pub outbound_max_requests: u32,
    /// Longest one outbound request may take, in milliseconds (always within the action's timeout).
    #[arg(long, env = "DOCKET_OUTBOUND_TIMEOUT_MS", default_value_t = OutboundSettings::default().request_timeout.as_millis() as u64)]
    pub outbound_timeout_ms: u64,
    /// Largest outbound response body an action may receive, in KiB.
    #[arg(long, env = "DOCKET_OUTBOUND_MAX_RESPONSE_KB", default_value_t = OutboundSettings::default().max_response_bytes / 1024)]
    pub outbound_max_response_kb: usize,
    /// Largest key-value value, in KiB.
    #[arg(long, env = "DOCKET_KV_MAX_VALUE_KB", default_value_t = KvLimits::default().max_value_bytes / 1024)]
    pub kv_max_value_kb: usize,
    /// All of one tenant's key-value data, in MiB.
    #[arg(long, env = "DOCKET_KV_MAX_TENANT_MB", default_value_t = KvLimits::default().max_tenant_bytes / (1024 * 1024))]
    pub kv_max_tenant_mb: u64,
    /// Where document providers' blobs live (`[capabilities] blob`); every
    /// replica of a cluster must mount the same directory. Default:
    /// `<data-dir>/blobs` for `serve`, `.docket/blobs` for local runs.
    #[arg(long, env = "DOCKET_BLOB_DIR")]
    pub blob_dir: Option<PathBuf>,
    /// All of one tenant's blobs, in MiB.
    #[arg(long, env = "DOCKET_TENANT_MAX_BLOB_MB", default_value_t = 10 * 1024)]
    pub tenant_max_blob_mb: u64,
    /// Largest body one upload or download through a document provider may
    /// carry, in MiB; past it the transfer is cut off.
    #[arg(long, env = "DOCKET_MAX_TRANSFER_MB", default_value_t = ServiceSettings::default().max_transfer_bytes / (1024 * 1024))]
    pub max_transfer_mb: u64,
    /// Bytes one tenant's uploads and downloads may carry per day (UTC), in
    /// MiB, counted by each replica; past it transfers get a 429 until midnight.
    #[arg(long, env = "DOCKET_TENANT_MAX_TRANSFER_MB_PER_DAY", default_value_t = ServiceSettings::default().tenant_transfer_bytes_per_day / (1024 * 1024))]
    pub tenant_max_transfer_mb_per_day: u64,
}

impl LimitArgs {
    /// The flags a run on this machine (`invoke`, `check`, `replay`) shows in
    /// its help: those that decide whether a manifest or module is accepted,
    /// and whether its outbound requests may reach this machine's network.
    const SHOWN_FOR_LOCAL_RUNS: [&str; 6] = [
        "max_timeout_ms",
        "max_memory_mb",
        "max_output_kb",
        "max_instance_reuse",
        "max_module_mb",
        "allow_private_outbound",
    ];

    /// The ids of the other flags: the operator's tuning of a server (pool
    /// and thread sizes, compile capacity, static-check bounds, per-tenant
    /// budgets), hidden from the help of `invoke`, `check` and `replay` but
    /// still accepted there.
    pub fn server_tuning_ids() -> Vec<String> {
        Self::augment_args(clap::Command::new("limits"))
            .get_arguments()
            .map(|arg| arg.get_id().as_str().to_owned())
            .filter(|id| !Self::SHOWN_FOR_LOCAL_RUNS.contains(&id.as_str()))
            .collect()
    }

    /// The operator's ceilings.
    pub fn ceilings(&self) -> Ceilings {
        Ceilings {
            timeout_ms: self.max_timeout_ms,
            memory_mb: self.max_memory_mb,
            max_output_kb: self.max_output_kb,
            instance_reuse: self.max_instance_reuse,
            ..Ceilings::default()
        }
    }

    /// The engine's settings.
    pub fn engine(&self) -> EngineSettings {
        EngineSettings {
            max_instances: self.max_instances,
            max_memory_mb: self.max_memory_mb,
            max_table_elements: self.max_table_elements,
            max_module_bytes: self.max_module_mb.saturating_mul(1024 * 1024),
            max_wasm_stack: self.max_wasm_stack_kb.saturating_mul(1024),
            max_stderr_bytes: self.max_stderr_kb.saturating_mul(1024),
            max_functions: self.max_functions,
            max_function_bytes: self.max_function_kb.saturating_mul(1024),
            max_locals: self.max_locals,
            max_nesting_depth: self.max_nesting_depth,
            max_blocks: self.max_blocks,
            max_br_table_targets: self.max_br_table_targets,
            compile_tiers: self.compile_tiers,
            max_idle_instances: self.max_idle_instances,
            max_idle_per_version: self.max_idle_instances_per_version,
            max_idle_memory_mb: self.max_idle_memory_mb,
        }
    }

    /// The services capabilities are served from, with key-value data in
    /// `kv` and blobs under `--blob-dir`, else `default_blob_dir`.
    pub fn host_services(
        &self,
        kv: Arc<dyn KvBackend>,
        default_blob_dir: PathBuf,
    ) -> anyhow::Result<HostServices> {
        let outbound = OutboundSettings {
            allow_private: self.allow_private_outbound,
            max_requests: self.outbound_max_requests,
            request_timeout: std::time::Duration::from_millis(self.outbound_timeout_ms),
            max_response_bytes: self.outbound_max_response_kb.saturating_mul(1024),
            ..OutboundSettings::default()
        };
        Ok(HostServices {
            outbound: Arc::new(OutboundClient::new(outbound).map_err(anyhow::Error::msg)?),
            kv,
            kv_limits: KvLimits {
                max_value_bytes: self.kv_max_value_kb.saturating_mul(1024),
                max_tenant_bytes: self.kv_max_tenant_mb.saturating_mul(1024 * 1024),
                ..KvLimits::default()
            },
            blob: BlobStore::new(
                self.blob_dir.clone().unwrap_or(default_blob_dir),
                self.tenant_max_blob_mb.saturating_mul(1024 * 1024),
            ),
        })
    }

    /// Compiles in `docket compile-worker` processes of `program` under these
    /// bounds (what `docket serve` does).
    pub fn compile_worker(&self, program: PathBuf) -> CompileWorker {
        CompileWorker::new(
            program,
            self.compile_memory_mb,
            std::time::Duration::from_millis(self.max_compile_ms),
        )
    }

    /// The service's settings, with the operator token if any.
    pub fn service(&self, operator_token: Option<String>) -> ServiceSettings {
        ServiceSettings {
            ceilings: self.ceilings(),
            operator_token,
            compile_timeout: std::time::Duration::from_millis(self.max_compile_ms),
            compile_concurrency: self.compile_concurrency,
            compile_failures: self.tenant_compile_failures,
            compile_failure_time: std::time::Duration::from_secs(
                self.tenant_compile_failure_seconds,
            ),
            wasm_threads: self.wasm_threads,
            tenant_cpu_share: self.tenant_cpu_share.unwrap_or(self.wasm_threads),
            max_transfer_bytes: self.max_transfer_mb.saturating_mul(1024 * 1024),
            tenant_transfer_bytes_per_day: self
                .tenant_max_transfer_mb_per_day
                .saturating_mul(1024 * 1024),
            ..ServiceSettings::default()
        }
    }
}
