//! The benchmark's baseline: the same route and JSON as a successful Docket
//! `customAction`, from a bare axum handler, so `make bench` can report Docket's
//! throughput as a ratio of what the HTTP stack alone does on this machine.

use axum::Json;
use axum::routing::get;

#[tokio::main]
async fn main() {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".into());
    let app = axum::Router::new().route(
        "/t/{tenant}/customAction",
        get(|| async { Json(serde_json::json!({"status": "success"})) }),
    );
    let listener = tokio::net::TcpListener::bind(&listen).await.expect("bind");
    println!(
        "baseline listening on http://{}",
        listener.local_addr().expect("addr")
    );
    axum::serve(listener, app).await.expect("serve");
}
