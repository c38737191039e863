//! Settings from the command line and the environment (`DOCKET_<FLAG>`).

use crate::engine::EngineSettings;
use crate::limits::Ceilings;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

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
    /// Serve the webhook API.
    Serve(ServeArgs),
    /// Run one action locally from its manifest and print its response.
    Invoke(InvokeArgs),
    /// Check manifests and their modules without serving.
    Check(CheckArgs),
}

/// `docket serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "DOCKET_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Where Docket keeps its state (declarative tenants' key hashes).
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
    /// Engine and limit settings.
    #[command(flatten)]
    pub limits: LimitArgs,
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
            max_module_bytes: self.max_module_mb.saturating_mul(1024 * 1024),
            ..EngineSettings::default()
        }
    }
}

/// `docket invoke`.
#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// The action's manifest (its `module` key must point at the .wasm file).
    pub manifest: PathBuf,
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
    /// The tenant name the action sees.
    #[arg(long, default_value = "local")]
    pub tenant: String,
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
