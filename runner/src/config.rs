//! Settings from the command line and the environment (`DOCKET_<FLAG>`).

use crate::app::ServiceSettings;
use crate::capabilities::HostServices;
use crate::capabilities::kv::{KvBackend, KvLimits};
use crate::capabilities::outbound::{OutboundClient, OutboundSettings};
use crate::engine::EngineSettings;
use crate::engine::worker::CompileWorker;
use crate::http::serve::ConnectionSettings;
use crate::limits::Ceilings;
use crate::registry::Quotas;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Docket: Workfront custom document actions as sandboxed WebAssembly.
#[derive(Debug, Parser)]
#[command(name = "docket", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Docket's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the webhook and admin APIs.
    Serve(ServeArgs),
    /// Run one action, locally or through a server, and print its response.
    Invoke(InvokeArgs),
    /// Check manifests and their modules without serving.
    Check(CheckArgs),
    /// Deploy an action (manifest + module) to a server.
    Deploy(DeployArgs),
    /// Manage tenants on a server (operator token).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage a tenant's webhook apiKeys on a server.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Start a new action from a template, in any supported language.
    New(NewArgs),
    /// Internal: compile one module read from stdin under memory and CPU
    /// bounds (the server runs this; see `engine::worker`).
    #[command(hide = true)]
    CompileWorker {
        /// The compile job, as JSON.
        #[arg(long)]
        job: String,
    },
}

/// `docket new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The template's language (`docket new --lang list` lists them).
    #[arg(long, default_value = "rust")]
    pub lang: String,
    /// The action's name: the `name` Workfront sends, and the project directory.
    pub name: String,
    /// Where to create the project (default: ./NAME).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Where the admin API is and who is calling.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// The Docket server's base URL.
    #[arg(long, env = "DOCKET_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// Bearer token: the operator's (DOCKET_ADMIN_TOKEN) or a tenant admin's.
    #[arg(long, env = "DOCKET_TOKEN")]
    pub token: String,
}

/// `docket deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The action manifest (TOML).
    pub manifest: PathBuf,
    /// The module to upload (default: the manifest's `module`).
    #[arg(long)]
    pub module: Option<PathBuf>,
    /// The tenant to deploy to.
    #[arg(long, env = "DOCKET_TENANT")]
    pub tenant: String,
    /// Server and token.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `docket tenant …`.
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; prints its admin token and first apiKey (shown once).
    Create {
        /// The tenant name (a-z, 0-9, '-').
        name: String,
        /// A human-friendly name.
        #[arg(long)]
        display_name: Option<String>,
        /// Server and operator token.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List tenants.
    List {
        /// Server and operator token.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Suspend a tenant: every route answers 403 until resumed.
    Suspend {
        /// The tenant.
        name: String,
        /// Server and operator token.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Resume a suspended tenant.
    Resume {
        /// The tenant.
        name: String,
        /// Server and operator token.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Delete a tenant and everything it owns.
    Delete {
        /// The tenant.
        name: String,
        /// Server and operator token.
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// `docket keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a webhook apiKey (shown once).
    Create {
        /// The tenant.
        #[arg(long, env = "DOCKET_TENANT")]
        tenant: String,
        /// Server and token.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List webhook apiKeys (hints only).
    List {
        /// The tenant.
        #[arg(long, env = "DOCKET_TENANT")]
        tenant: String,
        /// Server and token.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Revoke a webhook apiKey by id.
    Revoke {
        /// The key's id, from `docket keys list`.
        id: String,
        /// The tenant.
        #[arg(long, env = "DOCKET_TENANT")]
        tenant: String,
        /// Server and token.
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// `docket serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "DOCKET_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Where Docket keeps its state: the SQLite database, modules and compiled artifacts.
    #[arg(long, env = "DOCKET_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Directory of declarative tenants: `<dir>/<tenant>/<action>.toml`.
    #[arg(long, env = "DOCKET_MANIFESTS")]
    pub manifests: Option<PathBuf>,
    /// PostgreSQL URL for scale-out (not available in this version).
    #[arg(long, env = "DOCKET_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The URL Workfront reaches this server at, for the start-up banner
    /// (default: http:// and the listen address).
    #[arg(long, env = "DOCKET_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The operator's bearer token for the admin API; without it, operator routes are off.
    #[arg(long, env = "DOCKET_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// How long a shutdown (SIGTERM, Ctrl-C) waits for in-flight requests, in milliseconds.
    #[arg(long, env = "DOCKET_SHUTDOWN_GRACE_MS", default_value_t = 30_000)]
    pub shutdown_grace_ms: u64,
    /// Default per-tenant quotas.
    #[command(flatten)]
    pub quotas: QuotaArgs,
    /// Engine and limit settings.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Connection hygiene: timeouts and caps at the HTTP layer.
    #[command(flatten)]
    pub connections: ConnectionArgs,
}

/// Connection hygiene at the HTTP layer (SECURITY.md, "Connections"): no client,
/// with or without credentials, may hold connections or descriptors the others need.
#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// Longest a client may take to send a request's headers, in milliseconds;
    /// also how long an idle keep-alive connection stays open.
    #[arg(long, env = "DOCKET_HEADER_TIMEOUT_MS", value_parser = clap::value_parser!(u64).range(1..),
          default_value_t = ConnectionSettings::default().header_timeout.as_millis() as u64)]
    pub header_timeout_ms: u64,
    /// Longest a request body (an upload) may take to arrive in full, in
    /// milliseconds; also how long a response may wait for the client to read it.
    #[arg(long, env = "DOCKET_BODY_TIMEOUT_MS", value_parser = clap::value_parser!(u64).range(1..),
          default_value_t = ConnectionSettings::default().body_timeout.as_millis() as u64)]
    pub body_timeout_ms: u64,
    /// Client connections open at once; at the cap the longest-silent one is
    /// closed to make room, or newcomers wait in the listen backlog. Lowered at
    /// start to fit the open-file limit (less a reserve).
    #[arg(long, env = "DOCKET_MAX_CONNECTIONS", value_parser = clap::value_parser!(u64).range(1..),
          default_value_t = ConnectionSettings::default().max_connections)]
    pub max_connections: u64,
    /// Requests served on one keep-alive connection before the server closes it.
    #[arg(long, env = "DOCKET_MAX_REQUESTS_PER_CONNECTION", value_parser = clap::value_parser!(u32).range(1..),
          default_value_t = ConnectionSettings::default().max_requests_per_connection)]
    pub max_requests_per_connection: u32,
}

impl ConnectionArgs {
    /// The settings as asked for (the connection cap not yet fitted to the fd limit).
    pub fn settings(&self) -> ConnectionSettings {
        ConnectionSettings {
            header_timeout: std::time::Duration::from_millis(self.header_timeout_ms),
            body_timeout: std::time::Duration::from_millis(self.body_timeout_ms),
            max_connections: self.max_connections,
            max_requests_per_connection: self.max_requests_per_connection,
        }
    }
}

/// Operator defaults for per-tenant quotas.
#[derive(Debug, Clone, Args)]
pub struct QuotaArgs {
    /// Invocations of one tenant's actions running at once.
    #[arg(long, env = "DOCKET_TENANT_MAX_CONCURRENCY", default_value_t = Quotas::default().max_concurrency)]
    pub tenant_max_concurrency: u32,
    /// Actions per tenant.
    #[arg(long, env = "DOCKET_TENANT_MAX_ACTIONS", default_value_t = Quotas::default().max_actions)]
    pub tenant_max_actions: u32,
    /// Stored bytes per tenant (modules, manifests, config, secrets), in MiB.
    #[arg(long, env = "DOCKET_TENANT_MAX_STORAGE_MB", default_value_t = Quotas::default().max_storage_bytes / (1024 * 1024))]
    pub tenant_max_storage_mb: u64,
    /// Guest memory one tenant's running invocations may hold, in MiB (the sum
    /// of their `memory-mb`); past it invocations wait up to a second, then 429.
    #[arg(long, env = "DOCKET_TENANT_MAX_MEMORY_MB", default_value_t = Quotas::default().max_memory_mb)]
    pub tenant_max_memory_mb: u64,
    /// Versions kept per action; a deploy past it prunes the oldest (never the
    /// new version or the one live before it).
    #[arg(long, env = "DOCKET_TENANT_MAX_VERSIONS", default_value_t = Quotas::default().max_versions,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub tenant_max_versions: u32,
}

impl QuotaArgs {
    /// The default quotas; the per-tenant module size defaults to the engine's cap.
    pub fn quotas(&self, limits: &LimitArgs) -> Quotas {
        Quotas {
            max_concurrency: self.tenant_max_concurrency,
            max_actions: self.tenant_max_actions,
            max_module_bytes: (limits.max_module_mb as u64).saturating_mul(1024 * 1024),
            max_storage_bytes: self.tenant_max_storage_mb.saturating_mul(1024 * 1024),
            max_memory_mb: self.tenant_max_memory_mb,
            max_versions: self.tenant_max_versions,
        }
    }
}

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
    /// Largest module accepted, in MiB.
    #[arg(long, env = "DOCKET_MAX_MODULE_MB", default_value_t = 32)]
    pub max_module_mb: usize,
    /// Instances that may run at once (sizes the pooling allocator).
    #[arg(long, env = "DOCKET_MAX_INSTANCES", default_value_t = EngineSettings::default().max_instances)]
    pub max_instances: u32,
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
}

impl LimitArgs {
    /// The operator's ceilings.
    pub fn ceilings(&self) -> Ceilings {
        Ceilings {
            timeout_ms: self.max_timeout_ms,
            memory_mb: self.max_memory_mb,
            max_output_kb: self.max_output_kb,
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
        }
    }

    /// The services capabilities are served from, with key-value data in `kv`.
    pub fn host_services(&self, kv: Arc<dyn KvBackend>) -> anyhow::Result<HostServices> {
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
            ..ServiceSettings::default()
        }
    }
}

/// `docket invoke`.
#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// A manifest file to run locally, or a tenant name (with ACTION).
    pub target: String,
    /// The action, when TARGET is a tenant.
    pub action: Option<String>,
    /// The Workfront document id.
    #[arg(long)]
    pub document_id: String,
    /// The Workfront document version id.
    #[arg(long)]
    pub document_version_id: String,
    /// The Workfront user to act as.
    #[arg(long, default_value = "")]
    pub username: String,
    /// An extra query parameter, `key=value`; repeatable.
    #[arg(long = "param", value_parser = parse_key_value)]
    pub params: Vec<(String, String)>,
    /// A tenant secret for a local run, `name=value`; repeatable. As on a
    /// server, the action sees only the names its manifest grants.
    #[arg(long = "secret", value_parser = parse_key_value)]
    pub secrets: Vec<(String, String)>,
    /// Call this server's webhook instead of running locally (needs --api-key).
    #[arg(long, env = "DOCKET_SERVER")]
    pub server: Option<String>,
    /// The tenant's webhook apiKey, with --server.
    #[arg(long, env = "DOCKET_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Where to find TENANT/ACTION manifests when running locally.
    #[arg(long, env = "DOCKET_MANIFESTS", default_value = "manifests")]
    pub manifests: PathBuf,
    /// Engine and limit settings.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// `docket check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Directory of declarative tenants.
    #[arg(long, env = "DOCKET_MANIFESTS")]
    pub manifests: PathBuf,
    /// Engine and limit settings.
    #[command(flatten)]
    pub limits: LimitArgs,
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected key=value, got {text:?}"))
}
