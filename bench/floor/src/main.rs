//! The benchmark's design floor (`make bench`, scenario `peers`): the least
//! a server can do per request and still run Docket's trivial action in a
//! fresh WebAssembly instance. A hyper HTTP/1 server that, per request,
//! instantiates the same module as Docket's trivial command action
//! (`bench/guests/dist/noop-command.wasm`, a wasm32-wasip1 command; or the
//! trivial component, `noop-component.wasm`) from one `InstancePre` in a
//! pooling-allocator engine, calls it and answers 200 `{"status":"success"}`.
//!
//! By default (`plain`, below) everything Docket adds is left out: no WASI
//! context (the imports are a handful of host functions or stubs), no
//! limits, fuel, epochs or deadlines, no authentication, routing, tenants or
//! invocation log.
//! Docket's throughput divided by this one's is what its machinery costs.
//!
//! Usage: `bench-floor [ADDR] [WASM] [CONTRACT]` (defaults `127.0.0.1:0`,
//! `bench/guests/dist/noop-command.wasm` and `plain`); prints `floor
//! listening on http://ADDR` once it accepts connections.
//!
//! `CONTRACT` says how much of the engine contract that every Docket request
//! honours (docs/architecture.md, "The isolation model" and "Where each limit
//! is enforced") the floor takes on, so that the cost of each part can be
//! read apart from Docket's own machinery:
//! * `plain`: none of it; a synchronous call on the connection's thread.
//! * `engine`: the engine the contract asks for: asynchronous instantiation
//!   and calls on pooled fiber stacks, epoch interruption (one ticker thread,
//!   a deadline of one tick whose callback yields, as Docket's), fuel, and a
//!   `StoreLimits` memory bound that traps on growth failure; still polled in
//!   the connection's task.
//! * `pool`: `engine`, with the guest run on a runtime of its own (one
//!   thread per core) and awaited, as the contract's separate WebAssembly
//!   pool does.

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
use std::time::{Duration, Instant};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits,
    StoreLimitsBuilder, UpdateDeadline,
};

/// The answer to a successful invocation, as the bare axum baseline and
/// Docket send it.
const SUCCESS: &[u8] = br#"{"status":"success"}"#;

/// Docket's epoch tick (`runner/src/engine/epoch.rs`).
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Docket's default wasm stack limit and the host's room below it on the
/// fiber stack (`runner/src/engine/tier_engines.rs`).
const MAX_WASM_STACK: usize = 512 * 1024;
const HOST_STACK: usize = 2 * 1024 * 1024;

/// Docket's default memory limit per guest.
const GUEST_MEMORY: usize = 64 * 1024 * 1024;

/// How much of the engine contract the floor takes on; see the module docs.
#[derive(Clone, Copy, PartialEq)]
enum Contract {
    Plain,
    Engine,
    Pool,
}

/// What the floor runs per request: a command or a component, prepared once.
enum Prepared {
    Command(wasmtime::InstancePre<command::Guest>),
    Component(wasmtime::component::InstancePre<StoreLimits>),
}

/// How each invocation is run, by contract.
enum Run {
    /// `plain`: synchronously, on the connection's thread.
    Inline,
    /// `engine`: asynchronously, polled in the connection's task.
    InlineAsync,
    /// `pool`: asynchronously, on the guests' own runtime.
    Pool(tokio::runtime::Runtime),
}

/// The prepared guest and how it is run.
struct Floor {
    prepared: Prepared,
    run: Run,
}

fn main() -> wasmtime::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let path = args
        .next()
        .unwrap_or_else(|| "bench/guests/dist/noop-command.wasm".into());
    let contract = match args.next().as_deref().unwrap_or("plain") {
        "plain" => Contract::Plain,
        "engine" => Contract::Engine,
        "pool" => Contract::Pool,
        other => wasmtime::bail!("CONTRACT is plain, engine or pool, not {other:?}"),
    };
    let engine = Engine::new(&config(contract))?;
    let bytes = std::fs::read(&path)?;
    // The binary format's layer field (bytes 6..8): 0 for a core module, 1
    // for a component.
    let prepared = if bytes.get(6..8) == Some(&[1, 0]) {
        Prepared::Component(component::prepare(&engine, &bytes)?)
    } else {
        Prepared::Command(command::prepare(&engine, &bytes)?)
    };
    if contract != Contract::Plain {
        let ticked = engine.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(EPOCH_TICK);
                ticked.increment_epoch();
            }
        });
    }
    let run = match contract {
        Contract::Plain => Run::Inline,
        Contract::Engine => Run::InlineAsync,
        Contract::Pool => Run::Pool(
            tokio::runtime::Builder::new_multi_thread()
                .thread_name("floor-wasm")
                .enable_time()
                .build()?,
        ),
    };
    let floor = Arc::new(Floor { prepared, run });
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(&listen, floor))
}

/// A pooling-allocator engine tuned as Docket's (`runner/src/engine/
/// tier_engines.rs`): small memories, tables and fiber stacks stay resident
/// and are wiped in place, which avoids a TLB shootdown per instance.
/// Cranelift; Docket's per-request guards (fuel, epoch interruption) only
/// under a contract other than `plain`.
fn config(contract: Contract) -> Config {
    let mut pool = PoolingAllocationConfig::new();
    pool.linear_memory_keep_resident(1024 * 1024)
        .table_keep_resident(64 * 1024)
        .async_stack_keep_resident(128 * 1024)
        .decommit_batch_size(1)
        .pagemap_scan(wasmtime::Enabled::Auto);
    let mut config = Config::new();
    config
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .wasm_component_model(true)
        .memory_init_cow(true);
    if contract != Contract::Plain {
        config
            .epoch_interruption(true)
            .consume_fuel(true)
            .max_wasm_stack(MAX_WASM_STACK)
            .async_stack_size(MAX_WASM_STACK + HOST_STACK);
    }
    config
}

/// A guest's memory bound, trapping when growth fails.
fn guest_limits() -> StoreLimits {
    StoreLimitsBuilder::new()
        .memory_size(GUEST_MEMORY)
        .trap_on_grow_failure(true)
        .build()
}

/// A store armed as Docket arms one (`runner/src/engine/store.rs`): its
/// memory bound, fuel, and an epoch deadline of one tick whose callback
/// yields until the request's time is up.
fn contract_store<T: Send + 'static>(
    engine: &Engine,
    state: T,
    limits: fn(&mut T) -> &mut StoreLimits,
) -> Store<T> {
    let mut store = Store::new(engine, state);
    store.limiter(move |state| limits(state) as &mut dyn wasmtime::ResourceLimiter);
    // Fuel is on engine-wide under the contract, so this cannot fail.
    let _ = store.set_fuel(u64::MAX);
    let deadline = Instant::now() + Duration::from_secs(5);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            wasmtime::bail!("the request's time is up")
        }
        Ok(UpdateDeadline::Yield(1))
    });
    store
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
                let floor = floor.clone();
                async move { Ok::<_, Infallible>(answer(floor.invoke().await)) }
            });
            // A client that goes away mid-request is no concern of the floor.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

impl Floor {
    /// One invocation in a fresh instance, run as the contract says.
    async fn invoke(self: Arc<Self>) -> Result<(), String> {
        match &self.run {
            // Inline on the I/O thread: it takes microseconds, less than a
            // hand-off to another thread would.
            Run::Inline => match &self.prepared {
                Prepared::Command(pre) => command::invoke(pre),
                Prepared::Component(pre) => component::invoke(pre),
            },
            Run::InlineAsync => self.invoke_async().await,
            Run::Pool(guests) => {
                let floor = self.clone();
                guests
                    .spawn(async move { floor.invoke_async().await })
                    .await
                    .unwrap_or_else(|e| Err(format!("the guest's task failed: {e}")))
            }
        }
    }

    async fn invoke_async(&self) -> Result<(), String> {
        match &self.prepared {
            Prepared::Command(pre) => command::invoke_async(pre).await,
            Prepared::Component(pre) => component::invoke_async(pre).await,
        }
    }
}

/// The HTTP answer to an invocation's outcome.
fn answer(outcome: Result<(), String>) -> Response<Full<Bytes>> {
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
