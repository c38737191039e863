//! The subcommands and their arguments, apart from the serve flags.

use super::{LimitArgs, ServeArgs};
use clap::{Args, Parser, Subcommand};
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
    /// Show a tenant's invocations, oldest first; `--follow` streams new ones.
    Logs(LogsArgs),
    /// Rerun a recorded invocation on this machine, against the version that
    /// ran or a local build, and print both answers.
    Replay(ReplayArgs),
    /// Start a new action from a template, in any supported language.
    New(NewArgs),
    /// Move an embedded (SQLite) install into PostgreSQL, verified, so
    /// replicas can serve it (`docket serve --database-url`).
    Migrate(MigrateArgs),
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

/// `docket migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The SQLite install's data directory (the `--data-dir` holding
    /// `docket.db`); opened read-only.
    #[arg(long)]
    pub from: PathBuf,
    /// The PostgreSQL database to move it into (`postgres://…`).
    #[arg(long, env = "DOCKET_DATABASE_URL", hide_env_values = true)]
    pub to: String,
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

/// `docket logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The tenant whose invocations to show.
    pub tenant: String,
    /// Only this action's invocations.
    #[arg(long)]
    pub action: Option<String>,
    /// Only invocations with this outcome (success, failure, limit, trap,
    /// bad-response, busy, host-error, cancelled).
    #[arg(long)]
    pub outcome: Option<String>,
    /// How many of the newest invocations to show first (1 to 1000).
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
    /// Then keep printing new invocations as they happen, until Ctrl-C.
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// Server and token.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `docket replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The tenant the invocation belongs to.
    pub tenant: String,
    /// The invocation's request id (the `X-Request-Id` header, or `requestId`
    /// in the run log).
    pub request_id: String,
    /// Run this module (a local build) instead of the version that ran, under
    /// that version's manifest.
    #[arg(long)]
    pub module: Option<PathBuf>,
    /// A tenant secret for the local run, `name=value`; repeatable. Secrets
    /// are never recorded, so a replay has only those given here.
    #[arg(long = "secret", value_parser = parse_key_value)]
    pub secrets: Vec<(String, String)>,
    /// Server and the tenant's admin token.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Engine and limit settings of the local run.
    #[command(flatten)]
    pub limits: LimitArgs,
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
