//! The HTTP front end: Workfront's webhook routes under `/t/{tenant}` and the
//! operational probes. Errors become HTTP responses in one place, [`reply`].

mod reply;
mod webhook;

use crate::app::App;
use axum::Router;
use axum::routing::get;
use std::sync::Arc;

pub use reply::WEBHOOK_VERSION;

/// The whole HTTP surface of Docket.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/t/{tenant}/serviceInfo", get(webhook::service_info))
        .route("/t/{tenant}/customAction", get(webhook::custom_action))
        .route(
            "/t/{tenant}/{endpoint}",
            axum::routing::any(webhook::other_endpoint),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ready" }))
        .fallback(reply::no_route)
        .with_state(app)
}
