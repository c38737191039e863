//! The `docket` binary: argument parsing, start-up and the banner. Everything
//! else lives in the library.

use anyhow::{Context, bail};
use clap::Parser;
use docket::app::App;
use docket::config::{CheckArgs, Cli, Command, InvokeArgs, ServeArgs};
use docket::declarative::{self, LoadedTenant};
use docket::engine::{ActionRequest, Engine, InvokeError, Outcome};
use docket::manifest::ActionManifest;
use docket::registry::MemoryRegistry;
use docket::registry::keys::KeySource;
use std::net::SocketAddr;
use std::sync::Arc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DOCKET_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(args).await,
            Command::Invoke(args) => invoke(args).await,
            Command::Check(args) => check(args).await,
        }
    })
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    if args.database_url.is_some() {
        bail!("--database-url: PostgreSQL scale-out is not available in this version of Docket");
    }
    let engine = Arc::new(Engine::new(args.limits.engine()).context("creating the engine")?);
    let registry = Arc::new(MemoryRegistry::new());
    let app = Arc::new(App::new(engine, registry.clone()));
    let mut tenants = Vec::new();
    if let Some(dir) = &args.manifests {
        let (app, registry, dir, data_dir) = (
            app.clone(),
            registry.clone(),
            dir.clone(),
            args.data_dir.clone(),
        );
        let ceilings = args.limits.ceilings();
        tenants = tokio::task::spawn_blocking(move || {
            declarative::load(&app, &registry, &dir, &data_dir, ceilings)
        })
        .await
        .context("loading manifests")??;
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let local = listener.local_addr()?;
    let base = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", display_addr(local)));
    print_banner(&base, &tenants);
    axum::serve(listener, docket::http::router(app))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving")?;
    tracing::info!("shut down");
    Ok(())
}

/// A wildcard listen address is not something a browser or curl can reach; show loopback.
fn display_addr(addr: SocketAddr) -> SocketAddr {
    let mut shown = addr;
    if addr.ip().is_unspecified() {
        shown.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    shown
}

fn print_banner(base: &str, tenants: &[LoadedTenant]) {
    println!("docket listening on {base}");
    for tenant in tenants {
        let names: Vec<_> = tenant
            .actions
            .iter()
            .map(|(n, abi)| format!("{n} ({abi})"))
            .collect();
        println!();
        println!("tenant {}: {}", tenant.name, names.join(", "));
        println!("  Base API URL: {base}/t/{}", tenant.name);
        let key = match &tenant.key {
            KeySource::Environment(var) => {
                println!("  apiKey: the value of {var}");
                format!("${var}")
            }
            KeySource::Generated(key) => {
                println!("  apiKey: {key}");
                println!(
                    "          (generated now and shown only this once; only its hash is stored)"
                );
                key.clone()
            }
            KeySource::Stored(path) => {
                println!(
                    "  apiKey: generated at an earlier start and shown then; only its hash is kept in {}.",
                    path.display()
                );
                println!(
                    "          Set {} to choose a key, or delete that file to mint a new one.",
                    tenant.name.api_key_env_var()
                );
                format!("${}", tenant.name.api_key_env_var())
            }
        };
        println!("  serviceInfo: curl {base}/t/{}/serviceInfo", tenant.name);
        if let Some((action, _)) = tenant.actions.first() {
            println!(
                "  try:  curl -H \"apiKey: {key}\" -H 'username: jane.doe' \
                 '{base}/t/{}/customAction?name={action}&documentId=5f0c8e2a9b1d4c3e8f7a6b5c4d3e2f10&documentVersionId=7a6b5c4d3e2f10fedcba98765432100a'",
                tenant.name
            );
        }
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
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

async fn invoke(args: InvokeArgs) -> anyhow::Result<()> {
    let manifest = ActionManifest::load(&args.manifest, &args.limits.ceilings())?;
    let module_path = manifest.module.clone().unwrap_or_default();
    let bytes = std::fs::read(&module_path)
        .with_context(|| format!("reading module {}", module_path.display()))?;
    let engine = Engine::new(args.limits.engine()).context("creating the engine")?;
    let module = engine
        .load(&bytes)
        .with_context(|| format!("loading module {}", module_path.display()))?;
    let request = ActionRequest {
        action: manifest.name.to_string(),
        document_id: args.document_id,
        document_version_id: args.document_version_id,
        username: args.username,
        params: args.params.into_iter().collect(),
        config: manifest.config.clone(),
        tenant: args.tenant,
        request_id: "local".into(),
    };
    let invocation = engine.invoke(&module, &manifest.limits, &request).await;
    if let Some(line) = &invocation.stderr_tail {
        eprintln!("stderr (last line): {line}");
    }
    eprintln!("ran in {} ms", invocation.duration.as_millis());
    let (status, body) = match invocation.result {
        Ok(Outcome::Success { message }) => (
            200,
            serde_json::json!({"status": "success", "message": message}),
        ),
        Ok(Outcome::Failure { kind, message }) => {
            let status = match kind {
                docket::engine::FailureKind::Forbidden => 403,
                docket::engine::FailureKind::NotFound => 404,
                docket::engine::FailureKind::Failed => 500,
            };
            (
                status,
                serde_json::json!({"status": "failure", "error": message}),
            )
        }
        Err(
            err @ (InvokeError::Limit(_)
            | InvokeError::Trap(_)
            | InvokeError::BadResponse(_)
            | InvokeError::Busy
            | InvokeError::Host(_)),
        ) => (
            500,
            serde_json::json!({"status": "failure", "error": format!("action {err}")}),
        ),
    };
    println!("HTTP {status} {body}");
    if status != 200 {
        std::process::exit(1);
    }
    Ok(())
}

async fn check(args: CheckArgs) -> anyhow::Result<()> {
    let engine = Arc::new(Engine::new(args.limits.engine()).context("creating the engine")?);
    let registry = Arc::new(MemoryRegistry::new());
    let app = App::new(engine, registry.clone());
    let scratch = tempfile::tempdir()?;
    let tenants = declarative::load(
        &app,
        &registry,
        &args.manifests,
        scratch.path(),
        args.limits.ceilings(),
    )?;
    for tenant in tenants {
        let names: Vec<_> = tenant
            .actions
            .iter()
            .map(|(n, abi)| format!("{n} ({abi})"))
            .collect();
        println!("ok: tenant {}: {}", tenant.name, names.join(", "));
    }
    Ok(())
}
