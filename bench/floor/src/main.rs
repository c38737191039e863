//! The benchmark's design floor (`make bench`, scenario `peers`): the least
//! a server can do per request and still run Docket's trivial action in a
//! fresh WebAssembly instance. A hyper HTTP/1 server that, per request,
//! instantiates the same module as Docket's trivial command action
//! (`bench/guests/dist/noop-command.wasm`, a wasm32-wasip1 command; or the
//! trivial component, `noop-component.wasm`) from one `InstancePre` in a
//! pooling-allocator engine, calls it and answers 200 `{"status":"success"}`.
//!
//! Everything Docket adds is left out: no WASI context (the imports are a
//! handful of host functions or stubs), no limits, fuel, epochs or
//! deadlines, no authentication, routing, tenants or invocation log.
//! Docket's throughput divided by this one's is what its machinery costs.
//!
//! Usage: `bench-floor [ADDR] [WASM]` (defaults `127.0.0.1:0` and
//! `bench/guests/dist/noop-command.wasm`); prints `floor listening on
//! http://ADDR` once it accepts connections.

mod command;
mod component;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// The answer to a successful invocation, as the bare axum baseline and
/// Docket send it.
const SUCCESS: &[u8] = br#"{"status":"success"}"#;

/// What the floor runs per request: a command or a component, prepared once.
enum Floor {
    Command(wasmtime::InstancePre<command::Guest>),
    Component(wasmtime::component::InstancePre<()>),
}

fn main() -> wasmtime::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let path = args
        .next()
        .unwrap_or_else(|| "bench/guests/dist/noop-command.wasm".into());
    let engine = Engine::new(&config())?;
    let bytes = std::fs::read(&path)?;
    // The binary format's layer field (bytes 6..8): 0 for a core module, 1
    // for a component.
    let floor = if bytes.get(6..8) == Some(&[1, 0]) {
        Floor::Component(component::prepare(&engine, &bytes)?)
    } else {
        Floor::Command(command::prepare(&engine, &bytes)?)
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(&listen, Arc::new(floor)))
}

/// A pooling-allocator engine tuned as Docket's (`runner/src/engine/
/// tier_engines.rs`): small memories and tables stay resident and are wiped
/// in place, which avoids a TLB shootdown per instance (guests run
/// synchronously here, on the thread's stack, so no fiber stacks). Cranelift,
/// and none of Docket's per-request guards (fuel, epoch interruption).
fn config() -> Config {
    let mut pool = PoolingAllocationConfig::new();
    pool.linear_memory_keep_resident(1024 * 1024)
        .table_keep_resident(64 * 1024)
        .decommit_batch_size(1)
        .pagemap_scan(wasmtime::Enabled::Auto);
    let mut config = Config::new();
    config
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .wasm_component_model(true)
        .memory_init_cow(true);
    config
}

/// Accepts connections and serves each on its own task.
async fn serve(listen: &str, floor: Arc<Floor>) -> wasmtime::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("floor listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let floor = floor.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_: Request<Incoming>| {
                let answer = invoke(&floor);
                async move { Ok::<_, Infallible>(answer) }
            });
            // A client that goes away mid-request is no concern of the floor.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// One invocation, run inline on the I/O thread: it takes microseconds, less
/// than a hand-off to another thread would.
fn invoke(floor: &Floor) -> Response<Full<Bytes>> {
    let outcome = match floor {
        Floor::Command(pre) => command::invoke(pre),
        Floor::Component(pre) => component::invoke(pre),
    };
    let (status, content_type, body) = match outcome {
        Ok(()) => (
            StatusCode::OK,
            "application/json",
            Bytes::from_static(SUCCESS),
        ),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            error.into(),
        ),
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}
