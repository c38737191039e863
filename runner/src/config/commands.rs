//! The subcommands and their arguments, apart from the serve flags.

use super::{LimitArgs, ServeArgs};
use crate::names::DocEndpoint;
use anyhow::bail;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;

/// The server the CLI talks to unless `--server` or `DOCKET_SERVER` says
/// otherwise: `docket serve`'s default address.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// Docket: Workfront custom document actions as sandboxed WebAssembly.
#[derive(Debug, Parser)]
#[command(name = "docket", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the command line as [`Parser::parse`] does (exiting with clap's
    /// message on a bad one), but with the operator's tuning flags hidden
    /// from the help of the commands that run an action on this machine
    /// (`invoke`, `check`, `replay`): they still accept them.
    pub fn parse_args() -> Self {
        let mut command = Self::command_for_help();
        let mut matches = command.get_matches_mut();
        Self::from_arg_matches_mut(&mut matches).unwrap_or_else(|e| e.format(&mut command).exit())
    }

    /// The clap command [`Cli::parse_args`] parses with.
    pub fn command_for_help() -> clap::Command {
        let hidden = LimitArgs::server_tuning_ids();
        ["invoke", "check", "replay"]
            .into_iter()
            .fold(Self::command(), |command, name| {
                command.mut_subcommand(name, |sub| {
                    hidden
                        .iter()
                        .fold(sub, |sub, id| sub.mut_arg(id, |arg| arg.hide(true)))
                        .after_help(
                            "The operator's tuning flags of `docket serve` (--max-instances, \
                             --wasm-threads, --outbound-*, --max-functions, …) are accepted \
                             too, to run under a server's settings; `docket serve --help` \
                             describes them.",
                        )
                })
            })
    }
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
    /// Manage a tenant's Workfront OAuth2 mode: its identity provider, the
    /// Client Secret, connected users.
    #[command(subcommand)]
    Oauth(OAuthCommand),
    /// Show a tenant's invocations, oldest first; `--follow` streams new ones.
    Logs(LogsArgs),
    /// Rerun a recorded invocation on this machine, against the version that
    /// ran or a local build, and print both answers.
    Replay(ReplayArgs),
    /// Start a new action (or, with --provider, a document provider) from a
    /// template, in any supported language.
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
    /// The action's name: the `name` Workfront sends, and the project
    /// directory (required, except with `--lang list`).
    pub name: Option<String>,
    /// Where to create the project (default: ./NAME).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Start a document provider (`kind = "provider"`: Workfront's document
    /// endpoints) instead of a custom action; `--provider --lang list`
    /// lists its languages.
    #[arg(long)]
    pub provider: bool,
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
    #[arg(long, env = "DOCKET_SERVER", default_value = DEFAULT_SERVER)]
    pub server: String,
    /// The admin API's bearer token: the operator's (the token the server was
    /// started with, `DOCKET_ADMIN_TOKEN`) or a tenant admin's (`dka_…`).
    /// The older `DOCKET_TOKEN` is read when `DOCKET_ADMIN_TOKEN` is not set.
    #[arg(long, env = "DOCKET_ADMIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl ServerArgs {
    /// The bearer token: `--token`, else `DOCKET_ADMIN_TOKEN`, else the older
    /// `DOCKET_TOKEN`.
    pub fn bearer_token(&self) -> anyhow::Result<String> {
        let from_env = || std::env::var("DOCKET_TOKEN").ok();
        let given = self.token.clone().filter(|token| !token.is_empty());
        match given.or_else(from_env) {
            Some(token) if !token.is_empty() => Ok(token),
            _ => bail!(
                "no admin token: give --token or set DOCKET_ADMIN_TOKEN (the operator's token, \
                 or a tenant admin's `dka_…` token)"
            ),
        }
    }
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
    /// The compiled-artifact cache of the local run.
    #[command(flatten)]
    pub cache: ArtifactCacheArgs,
}

/// The compiled-artifact cache of `invoke` and `replay`'s local runs.
#[derive(Debug, Clone, Args)]
pub struct ArtifactCacheArgs {
    /// Compile the module afresh, neither reading nor writing the cache of
    /// compiled modules ($DOCKET_CACHE_DIR, else
    /// $XDG_CACHE_HOME/docket/artifacts, else ~/.cache/docket/artifacts).
    #[arg(long)]
    pub no_cache: bool,
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
    /// Delete a tenant and everything it owns (asks first; `--yes` does not).
    Delete {
        /// The tenant.
        name: String,
        /// Delete without asking. Needed when stdin is not a terminal.
        #[arg(long, short = 'y')]
        yes: bool,
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

/// The tenant and server every `docket oauth` command names.
#[derive(Debug, Args)]
pub struct TenantServerArgs {
    /// The tenant.
    #[arg(long, env = "DOCKET_TENANT")]
    pub tenant: String,
    /// Server and token.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `docket oauth …`.
#[derive(Debug, Subcommand)]
pub enum OAuthCommand {
    /// Show the OAuth2 settings and the URLs to paste into Workfront.
    Show(TenantServerArgs),
    /// Turn OAuth2 mode on (prints the Client ID and Client Secret for
    /// Workfront, the secret once), or change its settings.
    Configure {
        /// The Workfront Redirect URI shown in Workfront's Custom Integration form.
        #[arg(long)]
        workfront_redirect_uri: String,
        /// The identity provider's OpenID Connect issuer URL.
        #[arg(long)]
        issuer: String,
        /// Docket's client id at the identity provider.
        #[arg(long)]
        client_id: String,
        /// Docket's client secret at the identity provider (needed the first
        /// time; left out, the stored one stays).
        #[arg(long, env = "DOCKET_IDP_CLIENT_SECRET", hide_env_values = true)]
        client_secret: Option<String>,
        /// The ID-token claim that names users: email, preferred_username or sub.
        #[arg(long)]
        username_claim: Option<String>,
        /// Access-token lifetime in seconds (default 3600).
        #[arg(long)]
        access_token_seconds: Option<u32>,
        /// Refresh-token lifetime in seconds (default 30 days).
        #[arg(long)]
        refresh_token_seconds: Option<u32>,
        /// The tenant and server.
        #[command(flatten)]
        target: TenantServerArgs,
    },
    /// A new Client Secret for Workfront (printed once; the old one stops).
    RotateSecret(TenantServerArgs),
    /// Turn OAuth2 mode off: every user's tokens stop working.
    Disable(TenantServerArgs),
    /// Users with live tokens.
    Users(TenantServerArgs),
    /// Revoke one user's tokens (Workfront asks them to connect again).
    Revoke {
        /// The user, as `docket oauth users` lists them.
        username: String,
        /// The tenant and server.
        #[command(flatten)]
        target: TenantServerArgs,
    },
    /// Revoke every user's tokens.
    RevokeAll(TenantServerArgs),
}

/// `docket invoke`.
#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// A manifest file to run locally, or a tenant name (with ACTION): its
    /// manifest in `--manifests`, or, with `--api-key` or `--server`, its
    /// webhook on a server.
    pub target: String,
    /// The action (or provider), when TARGET is a tenant.
    pub action: Option<String>,
    /// The Workfront document id (an action's; not with --endpoint).
    #[arg(
        long,
        required_unless_present = "endpoint",
        conflicts_with = "endpoint"
    )]
    pub document_id: Option<String>,
    /// The Workfront document version id (an action's; not with --endpoint).
    #[arg(
        long,
        required_unless_present = "endpoint",
        conflicts_with = "endpoint"
    )]
    pub document_version_id: Option<String>,
    /// Run one endpoint of a document provider (`kind = "provider"`) on
    /// this machine instead of an action: metadata, files, search,
    /// download, thumbnail, uploadInit, upload, createFolder, delete or
    /// rename, its query parameters given with --param (`--param
    /// parentId=/`). Prints the JSON Workfront would get.
    #[arg(long, value_name = "NAME", value_parser = parse_endpoint)]
    pub endpoint: Option<DocEndpoint>,
    /// With --endpoint download (or thumbnail): write the bytes to FILE
    /// instead of stdout.
    #[arg(long, value_name = "FILE", requires = "endpoint")]
    pub output: Option<PathBuf>,
    /// With --endpoint upload: the bytes to upload, from FILE.
    #[arg(long, value_name = "FILE", requires = "endpoint")]
    pub input: Option<PathBuf>,
    /// The Workfront user to act as.
    #[arg(long, default_value = "")]
    pub username: String,
    /// Run as if the user were verified by OAuth2 sign-in (the action sees
    /// `usernameVerified: true`); local runs only.
    #[arg(long, conflicts_with = "api_key")]
    pub username_verified: bool,
    /// An extra query parameter, `key=value`; repeatable. With --endpoint,
    /// the endpoint's own parameters too (`id`, `parentId`, `max`, …).
    #[arg(long = "param", value_parser = parse_key_value)]
    pub params: Vec<(String, String)>,
    /// A tenant secret for a local run, `name=value`; repeatable. As on a
    /// server, the action sees only the names its manifest grants.
    #[arg(long = "secret", value_parser = parse_key_value)]
    pub secrets: Vec<(String, String)>,
    /// Call this server's webhook instead of running locally (needs
    /// --api-key). With only --api-key: http://127.0.0.1:8080, as for the
    /// other commands.
    #[arg(long, env = "DOCKET_SERVER")]
    pub server: Option<String>,
    /// The tenant's webhook apiKey: calls the tenant's webhook on a server
    /// (--server) instead of running locally.
    #[arg(long, env = "DOCKET_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Run this module (a `.wasm` file) instead of the one the manifest names.
    #[arg(long)]
    pub module: Option<PathBuf>,
    /// Where to find TENANT/ACTION manifests when running locally.
    #[arg(long, env = "DOCKET_MANIFESTS", default_value = "manifests")]
    pub manifests: PathBuf,
    /// Engine and limit settings.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// The compiled-artifact cache of a local run.
    #[command(flatten)]
    pub cache: ArtifactCacheArgs,
}

impl InvokeArgs {
    /// The server whose webhook to call, when the action is to run there:
    /// `--server`, or the default server when only `--api-key` is given.
    pub fn remote_server(&self) -> Option<&str> {
        match (&self.server, &self.api_key) {
            (Some(server), _) => Some(server),
            (None, Some(_)) => Some(DEFAULT_SERVER),
            (None, None) => None,
        }
    }
}

/// `docket check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// One action's manifest file to check (with its module), instead of a
    /// directory of tenants.
    pub manifest: Option<PathBuf>,
    /// With MANIFEST: check this module (a `.wasm` file) instead of the one
    /// the manifest names.
    #[arg(long, requires = "manifest")]
    pub module: Option<PathBuf>,
    /// Directory of declarative tenants: `<dir>/<tenant>/<action>.toml`.
    #[arg(long, env = "DOCKET_MANIFESTS", required_unless_present = "manifest")]
    pub manifests: Option<PathBuf>,
    /// Engine and limit settings.
    #[command(flatten)]
    pub limits: LimitArgs,
}

fn parse_endpoint(text: &str) -> Result<DocEndpoint, String> {
    DocEndpoint::parse(text).ok_or_else(|| {
        let names: Vec<&str> = DocEndpoint::ALL.iter().map(|e| e.name()).collect();
        format!("not a document endpoint; one of: {}", names.join(", "))
    })
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("expected key=value, got {text:?}"))
}
