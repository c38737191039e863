//! The `docket` binary: argument parsing, start-up, the banner and the CLI's
//! admin commands. Everything else lives in the library.

mod admin_commands;
mod banner;
mod invoke_command;
mod replay;

use admin_commands::print_json;
use anyhow::{Context, bail};
use banner::{action_list, display_addr, listen_error, print_banner};
use docket::app::App;
use docket::client::AdminClient;
use docket::config::{CheckArgs, Cli, Command, DeployArgs, LogFormat, NewArgs, ServeArgs};
use docket::declarative;
use docket::engine::Engine;
use docket::manifest::ActionManifest;
use docket::outln;
use docket::registry::Quotas;
use docket::registry::Storage;
use docket::registry::postgres::PgStore;
use docket::registry::secrets::{KeyFile, SecretBox};
use docket::registry::store::SqliteStore;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Requests allocate on the connection's thread and free on the guest's, the
/// log writer's or SQLite's; glibc's malloc spent a tenth of a request's CPU on
/// that (bench/README.md, "The request's future, and the allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs the command; an error is printed as `error: <message>: <causes>`,
/// for a person to read, without a backtrace (even with RUST_BACKTRACE set).
fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", error_report(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes joined by `: `, each cause left out when the
/// message before it already ends with it (many errors here name their
/// source in their own message, and `{:#}` would repeat it).
fn error_report(err: &anyhow::Error) -> String {
    let mut report = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if report.ends_with(&text) {
            continue;
        }
        if !report.is_empty() {
            report.push_str(": ");
        }
        report.push_str(&text);
    }
    report
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse_args();
    // The worker needs no runtime or logging, and must confine itself first.
    if let Command::CompileWorker { job } = &cli.command {
        std::process::exit(docket::engine::worker::run(job));
    }
    match &cli.command {
        Command::Serve(args) => args
            .log_format
            .init_with_traces(args.traces.settings().as_ref())?,
        _ => LogFormat::Text.init(),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Invoke(args) => invoke_command::invoke(args).await,
            Command::Check(args) => check(args).await,
            Command::Deploy(args) => deploy(args).await,
            Command::Tenant(command) => admin_commands::tenant(command).await,
            Command::Keys(command) => admin_commands::keys(command).await,
            Command::Oauth(command) => admin_commands::oauth(command).await,
            Command::Logs(args) => admin_commands::logs(args).await,
            Command::Replay(args) => replay::replay(args).await,
            Command::New(args) => new_action(args),
            Command::Migrate(args) => docket::migrate::run(&args.from, &args.to).await,
            Command::CompileWorker { .. } => unreachable!("handled before the runtime starts"),
        }
    })
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    docket::config::check_credentials_in_env(
        args.admin_token.as_deref(),
        args.manifests.is_some(),
    )?;
    // Before anything opens files, so every part of the server sees the raised limit.
    let fd_limit = docket::http::serve::raise_fd_limit();
    // The address first: a port already taken fails now, not after the
    // manifests are compiled. Connections are refused until `listen` below.
    let socket =
        docket::http::serve::reserve(args.listen).map_err(|err| listen_error(args.listen, err))?;
    let local = socket.local_addr()?;
    secure_data_dir(&args.data_dir)?;
    let engine = Arc::new(Engine::new(args.limits.engine()).context("creating the engine")?);
    let quotas = args.quotas.quotas(&args.limits);
    let secrets_key = std::env::var("DOCKET_SECRETS_KEY").ok();
    let key_file = KeyFile::locate(args.secrets_key_file.as_deref(), &args.data_dir);
    let started = std::time::Instant::now();
    let store: Arc<dyn Storage> = match &args.database_url {
        Some(url) => {
            if secrets_key.as_deref().is_none_or(str::is_empty) {
                bail!(
                    "--database-url needs DOCKET_SECRETS_KEY (64 hex digits, e.g. from `openssl rand -hex 32`), \
                     the same on every replica: it seals tenant secrets and authenticates shared compiled artifacts"
                );
            }
            let secrets = SecretBox::load(secrets_key.as_deref(), &key_file.path)?;
            PgStore::open(url, &args.data_dir, quotas, secrets)
                .await
                .context("opening the PostgreSQL store (--database-url)")?
        }
        None => {
            if secrets_key.as_deref().is_none_or(str::is_empty)
                && let Some(warning) = &key_file.warning
            {
                tracing::warn!("{warning}");
            }
            let secrets = SecretBox::load(secrets_key.as_deref(), &key_file.path)?;
            let store = SqliteStore::open(&args.data_dir, quotas, secrets)
                .await
                .with_context(|| format!("opening the store in {}", args.data_dir.display()))?;
            Arc::new(store)
        }
    };
    // Timed only: counting the tenants here would copy every snapshot handle.
    tracing::info!(
        ms = started.elapsed().as_millis() as u64,
        "store opened, every tenant's snapshot loaded"
    );
    let services = args
        .limits
        .host_services(store.clone(), args.data_dir.join("blobs"))?;
    let mut settings = args.limits.service(args.admin_token.clone());
    let program = std::env::current_exe().context("finding the docket executable")?;
    settings.compile_worker = Some(args.limits.compile_worker(program));
    settings.metrics_max_series = args.metrics_max_series;
    settings.metrics_max_series_per_tenant = args.metrics_max_series_per_tenant;
    if let Some(budget) = args.guest_memory_budget_mb {
        settings.guest_memory_budget_mb = budget;
    }
    settings.max_loaded_modules_mb = args.max_loaded_modules_mb;
    settings.metrics_on = !args.no_metrics;
    settings.invocation_max_age = args.invocation_max_age();
    settings.console_session =
        std::time::Duration::from_secs(u64::from(args.console_session_seconds));
    settings.public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", display_addr(local)));
    let app = Arc::new(App::new(engine, store, services, settings));
    if let Some(addr) = args.metrics_listen {
        docket::http::serve_metrics(addr, app.clone())
            .await
            .with_context(|| format!("binding --metrics-listen {addr}"))?;
    }
    let mut tenants = Vec::new();
    if let Some(dir) = &args.manifests {
        tenants = declarative::sync_with(&app, dir, &args.data_dir, args.missing_modules()).await?;
    }
    app.follow_changes();
    app.watch_tenants();
    if app.operator_token.is_none() {
        tracing::info!("DOCKET_ADMIN_TOKEN is not set: the operator's admin routes are off");
    }
    let listener =
        docket::http::serve::listen(socket).map_err(|err| listen_error(args.listen, err))?;
    let local_url = format!("http://{}", display_addr(local));
    print_banner(&local_url, args.public_url.as_deref(), &tenants);
    tracing::info!(
        ms = started.elapsed().as_millis() as u64,
        "listening; loading the versions called lately meanwhile"
    );
    // After the listener: a call meanwhile loads its module itself, or
    // waits for the warm's load of it (docs/architecture.md, "Warming").
    app.warm_in_background();
    let (signalled_tx, signalled_rx) = tokio::sync::oneshot::channel::<()>();
    let app_at_shutdown = app.clone();
    let app_at_signal = app.clone();
    let mut connections = args.connections.settings();
    connections.max_connections =
        docket::http::serve::connection_cap(connections.max_connections, fd_limit.soft);
    tracing::info!(
        max_connections = connections.max_connections,
        asked = args.connections.max_connections,
        open_file_limit = ?fd_limit.soft,
        header_timeout_ms = args.connections.header_timeout_ms,
        body_timeout_ms = args.connections.body_timeout_ms,
        max_requests_per_connection = args.connections.max_requests_per_connection,
        "connection limits"
    );
    let server = docket::http::serve::serve(
        listener,
        docket::http::router(app),
        connections,
        async move {
            shutdown_signal().await;
            app_at_signal.begin_shutdown();
            let _ = signalled_tx.send(());
        },
    );
    let grace = std::time::Duration::from_millis(args.shutdown_grace_ms);
    let deadline = async move {
        if signalled_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = server => {}
        () = deadline => tracing::warn!(grace_ms = args.shutdown_grace_ms, "in-flight requests outlasted the shutdown grace period; exiting"),
    }
    app_at_shutdown.flush_invocations().await;
    // The last spans, still batched, go out before the process ends.
    tokio::task::spawn_blocking(docket::telemetry::shutdown)
        .await
        .ok();
    tracing::info!("shut down");
    Ok(())
}

/// Keeps the data directory to Docket's own user: everything the server
/// creates from here on is private (umask 077), the directory is 0700, and the
/// database and key files an older version left readable become 0600. The
/// database holds key-value data, manifests, config and invocation logs.
fn secure_data_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let private = |path: &std::path::Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("making {} private", path.display()))
    };
    private(dir, 0o700)?;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            private(&entry.path(), 0o700)?;
        } else if kind.is_file() {
            private(&entry.path(), 0o600)?;
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; draining in-flight requests");
}

fn new_action(args: NewArgs) -> anyhow::Result<()> {
    if args.lang == "list" {
        let langs = match args.provider {
            true => docket::scaffold::provider_languages(),
            false => docket::scaffold::available(),
        };
        outln!("{}", langs.join("\n"));
        return Ok(());
    }
    let what = if args.provider { "provider" } else { "action" };
    let Some(name) = args.name.as_deref() else {
        bail!(
            "give the {what}'s name: docket new [--provider] [--lang LANG] NAME \
             (`docket new --lang list` lists the languages)"
        );
    };
    let dir = args.dir.clone().unwrap_or_else(|| PathBuf::from(name));
    let files = match args.provider {
        true => docket::scaffold::create_provider(&args.lang, name, &dir)?,
        false => docket::scaffold::create(&args.lang, name, &dir)?,
    };
    outln!(
        "created {name} ({} {what}) in {}:",
        args.lang,
        dir.display()
    );
    for file in files
        .iter()
        .filter(|f| !f.starts_with("docket") && !f.starts_with("wit/deps"))
    {
        outln!("  {}", file.display());
    }
    outln!("  docket/  (the {} helper)", args.lang);
    if args.provider {
        outln!(
            "next: see {}/README.md to build it, then `docket invoke {}/{name}.toml --endpoint files --param parentId=/`",
            dir.display(),
            dir.display(),
        );
    } else {
        outln!(
            "next: see {}/README.md to build it, then `docket invoke {}/{name}.toml --document-id 5f0c8e2a9b1d4c3e8f7a6b5c4d3e2f10 --document-version-id 7a6b5c4d3e2f10fedcba98765432100a --username jane.doe`",
            dir.display(),
            dir.display(),
        );
    }
    Ok(())
}

async fn check(args: CheckArgs) -> anyhow::Result<()> {
    docket::config::check_credentials_in_env(None, args.manifest.is_none())?;
    let engine = Arc::new(Engine::new(args.limits.engine()).context("creating the engine")?);
    let scratch = tempfile::tempdir()?;
    let store = SqliteStore::open(
        scratch.path(),
        Quotas::default(),
        SecretBox::new(rand::random()),
    )
    .await?;
    let store: Arc<dyn Storage> = Arc::new(store);
    let services = args
        .limits
        .host_services(store.clone(), scratch.path().join("blobs"))?;
    let app = App::new(engine, store, services, args.limits.service(None));
    if let Some(path) = &args.manifest {
        // One action: the checks of a deploy, its compile included.
        let (manifest, module_path, bytes) = invoke_command::manifest_and_module(
            path,
            args.module.as_deref(),
            &args.limits.ceilings(),
        )?;
        let tenant = docket::names::TenantName::new("local")?;
        let abi = app
            .precompile(&tenant, &manifest, bytes)
            .await
            .with_context(|| format!("{}: module {}", path.display(), module_path.display()))?;
        let what = match manifest.grants.provider {
            Some(_) => "provider",
            None => "action",
        };
        outln!(
            "ok: {what} {} ({abi}): {}, module {}",
            manifest.name,
            path.display(),
            module_path.display()
        );
        return Ok(());
    }
    let manifests = args
        .manifests
        .as_deref()
        .context("give a manifest file or --manifests DIR")?;
    let tenants = declarative::sync(&app, manifests, scratch.path()).await?;
    for tenant in &tenants {
        outln!("ok: tenant {}: {}", tenant.name, action_list(tenant));
    }
    Ok(())
}

async fn deploy(args: DeployArgs) -> anyhow::Result<()> {
    let client = AdminClient::new(&args.server)?;
    let text = std::fs::read_to_string(&args.manifest)
        .with_context(|| format!("reading {}", args.manifest.display()))?;
    let module_path = match &args.module {
        Some(path) => path.clone(),
        None => {
            let manifest =
                ActionManifest::load(&args.manifest, &docket::limits::Ceilings::default())?;
            manifest.module.unwrap_or_default()
        }
    };
    let module = std::fs::read(&module_path)
        .with_context(|| format!("reading module {}", module_path.display()))?;
    let deployed = client.deploy(&args.tenant, text, module).await?;
    print_json(&deployed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::error_report;

    #[derive(Debug, thiserror::Error)]
    #[error("compiling took longer than 60000 ms")]
    struct Slow;

    #[derive(Debug, thiserror::Error)]
    #[error("module: {0}")]
    struct Deploy(#[from] Slow);

    #[test]
    fn a_cause_already_named_is_not_repeated() {
        let err = anyhow::Error::from(Deploy(Slow)).context("demo/greet.toml");
        assert_eq!(
            error_report(&err),
            "demo/greet.toml: module: compiling took longer than 60000 ms"
        );
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_report(&plain), "outer: inner");
    }
}
