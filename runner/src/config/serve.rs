//! `docket serve`'s own flags: where it listens and keeps state, per-tenant
//! quotas, and connection hygiene.

use super::LimitArgs;
use crate::declarative::MissingModules;
use crate::http::serve::ConnectionSettings;
use crate::registry::Quotas;
use crate::telemetry::TraceSettings;
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

/// `docket serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "DOCKET_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Where Docket keeps its state: the SQLite database, modules and compiled
    /// artifacts; with `--database-url`, only a scratch cache of compiled artifacts.
    #[arg(long, env = "DOCKET_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Directory of declarative tenants: `<dir>/<tenant>/<action>.toml`.
    #[arg(long, env = "DOCKET_MANIFESTS")]
    pub manifests: Option<PathBuf>,
    /// With `--manifests`: skip, with a warning, a manifest whose module file
    /// does not exist (not built yet), leaving its action as it is in the
    /// store, instead of refusing to start. An unreadable or invalid module
    /// still stops the start. `make run` sets it, so the demo serves the
    /// example actions that are built.
    #[arg(long, env = "DOCKET_SKIP_MISSING_MODULES")]
    pub skip_missing_modules: bool,
    /// PostgreSQL URL (`postgres://user@host/db`): keep every record, module
    /// and artifact there, so any number of replicas can serve the same
    /// tenants. Needs `DOCKET_SECRETS_KEY`, the same on every replica.
    #[arg(long, env = "DOCKET_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Where the key that seals tenant secrets is kept when
    /// `DOCKET_SECRETS_KEY` is not set (created on first start, mode 0600).
    /// Default: `<data-dir>.secrets.key`, beside the data directory and never
    /// in it, so a copy of the data directory does not carry the key that
    /// opens its secrets; put it on another volume to keep them apart. An
    /// older install's `<data-dir>/secrets.key` is still read, with a warning.
    #[arg(long, env = "DOCKET_SECRETS_KEY_FILE")]
    pub secrets_key_file: Option<PathBuf>,
    /// The URL Workfront reaches this server at, for the start-up banner
    /// (default: http:// and the listen address).
    #[arg(long, env = "DOCKET_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// How long a web console session lasts after sign-in, in seconds
    /// (default 8 hours); signing out, rotating the token signed in with or
    /// suspending the tenant ends it sooner.
    #[arg(long, env = "DOCKET_CONSOLE_SESSION_SECONDS", default_value_t = 8 * 3600,
          value_parser = clap::value_parser!(u32).range(1..=7 * 86_400))]
    pub console_session_seconds: u32,
    /// The operator's bearer token for the admin API; without it, operator routes are off.
    #[arg(long, env = "DOCKET_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Also serve `/metrics` here, WITHOUT authentication, for an internal
    /// Prometheus. Never expose this address publicly: the metrics name
    /// tenants and actions. (On the main listener `/metrics` needs the
    /// operator token.)
    #[arg(long, env = "DOCKET_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Distinct (tenant, action) pairs the metrics label by name; later
    /// pairs are counted under tenant="_other", action="_other".
    #[arg(long, env = "DOCKET_METRICS_MAX_SERIES",
          default_value_t = crate::metrics::DEFAULT_MAX_SERIES)]
    pub metrics_max_series: usize,
    /// Of those, how many one tenant may name; its further actions are
    /// counted under its own name with action="_other", so one tenant with
    /// many actions cannot take every other tenant's series.
    #[arg(long, env = "DOCKET_METRICS_MAX_SERIES_PER_TENANT",
          default_value_t = crate::metrics::DEFAULT_MAX_SERIES_PER_TENANT)]
    pub metrics_max_series_per_tenant: usize,
    /// Guest memory (the `memory-mb` of running invocations) all tenants
    /// together may hold at once, in MiB, beside each tenant's own budget
    /// (`--tenant-max-memory-mb`); past it invocations wait up to a second,
    /// then get 429. Default: half the machine's memory.
    #[arg(long, env = "DOCKET_GUEST_MEMORY_BUDGET_MB",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub guest_memory_budget_mb: Option<u64>,
    /// Compiled code of loaded modules this server keeps in memory, in MiB;
    /// past it the least recently called are evicted and loaded again from
    /// their compiled artifact (no compile) at their next call. A start
    /// loads only the actions called in the last 7 days, up to this bound.
    #[arg(long, env = "DOCKET_MAX_LOADED_MODULES_MB",
          default_value_t = crate::app::DEFAULT_MAX_LOADED_MODULES_MB,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_loaded_modules_mb: u64,
    /// Record no metrics at all (`/metrics` answers 404); they are on by default.
    #[arg(long, env = "DOCKET_NO_METRICS")]
    pub no_metrics: bool,
    /// Days an invocation record is kept (fractions allowed), besides the
    /// newest `--tenant-max-invocation-records` per tenant: older ones are pruned.
    #[arg(long, env = "DOCKET_INVOCATION_MAX_AGE_DAYS", default_value_t = 30.0,
          value_parser = positive_days)]
    pub invocation_max_age_days: f64,
    /// Log lines as `text` (default) or `json`: one JSON object per line,
    /// with the request's span (tenant, request_id, action, version) under `span`.
    #[arg(long, env = "DOCKET_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
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
    /// OpenTelemetry traces over OTLP.
    #[command(flatten)]
    pub traces: TraceArgs,
}

/// OpenTelemetry traces (`telemetry`): off unless an endpoint is given.
#[derive(Debug, Clone, Args)]
pub struct TraceArgs {
    /// Send traces over OTLP/HTTP (protobuf) to this base URL, e.g.
    /// `http://collector:4318` (spans go to `/v1/traces` under it). Off when unset.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// The share of requests traced, from 0 to 1, decided by Docket as each
    /// request starts (an incoming `traceparent` joins the trace but cannot force it).
    #[arg(long, env = "DOCKET_TRACE_SAMPLE_RATIO", default_value_t = 1.0,
          value_parser = sample_ratio)]
    pub trace_sample_ratio: f64,
}

impl TraceArgs {
    /// The trace settings, or `None` when traces are off.
    pub fn settings(&self) -> Option<TraceSettings> {
        let endpoint = self.otlp_endpoint.as_deref().filter(|e| !e.is_empty())?;
        Some(TraceSettings {
            endpoint: endpoint.to_owned(),
            sample_ratio: self.trace_sample_ratio,
        })
    }
}

/// A ratio from 0 to 1.
fn sample_ratio(text: &str) -> Result<f64, String> {
    let ratio: f64 = text.parse().map_err(|e| format!("{e}"))?;
    if (0.0..=1.0).contains(&ratio) {
        Ok(ratio)
    } else {
        Err("must be from 0 to 1".into())
    }
}

impl ServeArgs {
    /// What the declarative sync does with a manifest whose module file does
    /// not exist (`--skip-missing-modules`).
    pub fn missing_modules(&self) -> MissingModules {
        if self.skip_missing_modules {
            MissingModules::Skip
        } else {
            MissingModules::Fail
        }
    }

    /// `--invocation-max-age-days` as a duration.
    pub fn invocation_max_age(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.invocation_max_age_days * 86_400.0)
    }
}

/// A number of days greater than zero and at most 100 years.
fn positive_days(text: &str) -> Result<f64, String> {
    let days: f64 = text.parse().map_err(|e| format!("{e}"))?;
    if days > 0.0 && days <= 36_500.0 {
        Ok(days)
    } else {
        Err("must be more than 0 and at most 36500".into())
    }
}

/// How log lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (ANSI colours on a terminal).
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

impl LogFormat {
    /// Installs the process's log subscriber: to stderr, filtered by
    /// `DOCKET_LOG` (default `info`).
    pub fn init(self) {
        self.init_with_traces(None)
            .expect("a log subscriber without traces cannot fail");
    }

    /// As [`LogFormat::init`], and with `traces`, also the OTLP layer
    /// (`telemetry`), which has its own filter: the log's is unchanged.
    pub fn init_with_traces(self, traces: Option<&TraceSettings>) -> anyhow::Result<()> {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        use tracing_subscriber::{Layer, Registry};
        let filter = tracing_subscriber::EnvFilter::try_from_env("DOCKET_LOG")
            .unwrap_or_else(|_| "info".into());
        let log: Box<dyn Layer<Registry> + Send + Sync> = match self {
            LogFormat::Text => tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_filter(filter)
                .boxed(),
            // The span (tenant, request_id, action, version) rides along in
            // `span`; the event's own fields are top-level keys.
            LogFormat::Json => tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(false)
                .with_writer(std::io::stderr)
                .with_filter(filter)
                .boxed(),
        };
        type Logged =
            tracing_subscriber::layer::Layered<Box<dyn Layer<Registry> + Send + Sync>, Registry>;
        let otlp = traces.map(crate::telemetry::layer::<Logged>).transpose()?;
        tracing_subscriber::registry().with(log).with(otlp).init();
        Ok(())
    }
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
    /// Invocation records kept per tenant, the newest (besides the age limit,
    /// `--invocation-max-age-days`).
    #[arg(long, env = "DOCKET_TENANT_MAX_INVOCATION_RECORDS",
          default_value_t = Quotas::default().max_invocation_records,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub tenant_max_invocation_records: u32,
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
            max_invocation_records: self.tenant_max_invocation_records,
        }
    }
}
