//! The HTTP front end: Workfront's webhook routes under `/t/{tenant}`, the admin
//! API under `/admin/v1`, the web console under `/console`, and the
//! operational probes. Webhook errors are built
//! in [`reply`], admin errors in [`admin_error::AdminError`]; who may call an admin
//! route is checked by the extractors in [`auth`].

pub mod admin;
pub mod admin_error;
pub mod admin_oauth;
pub mod api_types;
pub mod auth;
mod console;
mod console_session;
mod cookies;
mod documents;
mod invocation_summary;
mod oauth;
mod oauth_pages;
pub mod reply;
pub mod run_logs;
pub mod serve;
mod try_call;
pub mod versions;
mod webhook;

use crate::app::App;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use std::sync::Arc;

pub use reply::WEBHOOK_VERSION;

/// Largest form OAuth2 mode's endpoints read (a code, a token, a few names).
const OAUTH_FORM_LIMIT: usize = 16 * 1024;

/// Largest sign-in or try body (a token, a few parameters).
const SESSION_FORM_LIMIT: usize = 64 * 1024;

/// Extra room over the largest module for the manifest and multipart framing.
const UPLOAD_OVERHEAD: usize = 1024 * 1024;

/// The whole HTTP surface of Docket.
pub fn router(app: Arc<App>) -> Router {
    let max_upload = app.engine.settings().max_module_bytes + UPLOAD_OVERHEAD;
    let admin = Router::new()
        .route("/openapi.json", get(admin::openapi))
        .route(
            "/session",
            post(console_session::sign_in)
                .layer(DefaultBodyLimit::max(SESSION_FORM_LIMIT))
                .get(console_session::show)
                .delete(console_session::sign_out),
        )
        .route("/invocations/summary", get(invocation_summary::server))
        .route(
            "/tenants",
            post(admin::create_tenant).get(admin::list_tenants),
        )
        .route(
            "/tenants/{tenant}",
            get(admin::get_tenant)
                .patch(admin::update_tenant)
                .delete(admin::delete_tenant),
        )
        .route(
            "/tenants/{tenant}/actions",
            post(admin::deploy)
                .layer(DefaultBodyLimit::max(max_upload))
                .get(admin::list_actions),
        )
        .route(
            "/tenants/{tenant}/actions/{action}",
            delete(admin::delete_action),
        )
        .route(
            "/tenants/{tenant}/actions/{action}/versions",
            get(admin::list_versions),
        )
        .route(
            "/tenants/{tenant}/actions/{action}/versions/{version}",
            get(versions::get_version),
        )
        .route(
            "/tenants/{tenant}/actions/{action}/versions/{version}/module",
            get(versions::get_module),
        )
        .route(
            "/tenants/{tenant}/actions/{action}/rollback",
            post(admin::rollback),
        )
        .route(
            "/tenants/{tenant}/keys",
            post(admin::create_key).get(admin::list_keys),
        )
        .route("/tenants/{tenant}/keys/{id}", delete(admin::revoke_key))
        .route(
            "/tenants/{tenant}/admin-token",
            post(admin::rotate_admin_token),
        )
        .route(
            "/tenants/{tenant}/oauth",
            get(admin_oauth::show)
                .put(admin_oauth::configure)
                .delete(admin_oauth::disable),
        )
        .route(
            "/tenants/{tenant}/oauth/client-secret",
            post(admin_oauth::rotate_secret),
        )
        .route(
            "/tenants/{tenant}/oauth/users",
            get(admin_oauth::users).delete(admin_oauth::revoke_all),
        )
        .route(
            "/tenants/{tenant}/oauth/users/{username}",
            delete(admin_oauth::revoke_user),
        )
        .route("/tenants/{tenant}/secrets", get(admin::list_secrets))
        .route(
            "/tenants/{tenant}/secrets/{name}",
            axum::routing::put(admin::put_secret).delete(admin::delete_secret),
        )
        .route("/tenants/{tenant}/invocations", get(run_logs::list))
        .route(
            "/tenants/{tenant}/invocations/stream",
            get(run_logs::stream)
                .layer(axum::Extension(Arc::new(run_logs::StreamSlots::default()))),
        )
        .route(
            "/tenants/{tenant}/invocations/summary",
            get(invocation_summary::tenant),
        )
        .route("/tenants/{tenant}/invocations/{id}", get(run_logs::get))
        .route(
            "/tenants/{tenant}/try",
            post(try_call::try_call).layer(DefaultBodyLimit::max(SESSION_FORM_LIMIT)),
        )
        .fallback(admin::no_admin_route);
    Router::new()
        .route("/t/{tenant}/serviceInfo", get(webhook::service_info))
        .route("/t/{tenant}/customAction", get(webhook::custom_action))
        .route("/t/{tenant}/oauth/authorize", get(oauth::authorize))
        .route("/t/{tenant}/oauth/callback", get(oauth::callback))
        .route(
            "/t/{tenant}/oauth/consent",
            post(oauth::consent).layer(DefaultBodyLimit::max(OAUTH_FORM_LIMIT)),
        )
        .route(
            "/t/{tenant}/oauth/token",
            post(oauth::token).layer(DefaultBodyLimit::max(OAUTH_FORM_LIMIT)),
        )
        .route(
            "/t/{tenant}/{endpoint}",
            axum::routing::any(documents::endpoint),
        )
        .route("/console", get(console::page))
        .route("/console/", get(console::trailing_slash))
        .route("/console/assets/{file}", get(console::asset))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readiness))
        .route("/metrics", get(operator_metrics))
        .nest("/admin/v1", admin)
        .method_not_allowed_fallback(webhook::wrong_method)
        .fallback(reply::no_route)
        .with_state(app)
}

/// `GET /metrics` on the main listener: the operator's only, so tenants
/// cannot read each other's names and volumes.
async fn operator_metrics(
    _operator: auth::Operator,
    axum::extract::State(app): axum::extract::State<Arc<App>>,
) -> axum::response::Response {
    scrape(&app)
}

/// The metrics in the Prometheus text format, the pool gauges read now.
fn scrape(app: &App) -> axum::response::Response {
    use axum::response::IntoResponse;
    if !app.metrics.is_on() {
        let off = serde_json::json!({ "error": "metrics are off on this server (--no-metrics)" });
        return (axum::http::StatusCode::NOT_FOUND, axum::Json(off)).into_response();
    }
    let (instances, memories) = app.engine.pool_usage();
    app.metrics.set_pool_usage(instances, memories);
    let (baseline, optimized) = app.modules_by_tier();
    app.metrics.tiers.set_cached(baseline, optimized);
    let content_type = [(
        axum::http::header::CONTENT_TYPE,
        crate::metrics::CONTENT_TYPE,
    )];
    (content_type, app.metrics.encode()).into_response()
}

/// Serves `GET /metrics` on `addr` without authentication (`--metrics-listen`),
/// for a Prometheus on an internal network; nothing else is served there.
/// Returns once bound; the server runs until the process exits.
pub async fn serve_metrics(addr: std::net::SocketAddr, app: Arc<App>) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let router =
        Router::new()
            .route(
                "/metrics",
                get(
                    |axum::extract::State(app): axum::extract::State<Arc<App>>| async move {
                        scrape(&app)
                    },
                ),
            )
            .with_state(app);
    tracing::info!(addr = %local, "metrics listening (no authentication: keep it internal)");
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router).await {
            tracing::error!(error = %err, "the metrics listener stopped");
        }
    });
    Ok(())
}

/// `/readyz`: ready to take traffic. A single process is ready once it
/// serves; a replica of a cluster only while its database is reachable and
/// its snapshots are current (it answers 503 with the reason otherwise, and
/// keeps serving live actions to whoever still sends them).
async fn readiness(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match app.store.cluster_health() {
        None => "ready".into_response(),
        Some(health) => {
            let status = if health.ready {
                axum::http::StatusCode::OK
            } else {
                axum::http::StatusCode::SERVICE_UNAVAILABLE
            };
            (status, axum::Json(health)).into_response()
        }
    }
}
