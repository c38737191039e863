//! The benchmark's design floor (`make bench`, scenario `peers`): the least
//! a server can do per request and still run Docket's trivial command action
//! in a fresh WebAssembly instance. A hyper HTTP/1 server that, per request,
//! instantiates the same module (`bench/guests/dist/noop-command.wasm`, a
//! wasm32-wasip1 command) from one [`InstancePre`] in a pooling-allocator
//! engine, calls `_start` and answers 200 `{"status":"success"}`.
//!
//! Everything Docket adds is left out: no WASI context (the imports are a
//! handful of host functions below), no limits, fuel, epochs or deadlines,
//! no authentication, routing, tenants or invocation log. Docket's
//! throughput divided by this one's is what its machinery costs.
//!
//! Usage: `bench-floor [ADDR] [MODULE]` (defaults `127.0.0.1:0` and
//! `bench/guests/dist/noop-command.wasm`); prints `floor listening on
//! http://ADDR` once it accepts connections.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;
use wasmtime::{
    Caller, Config, Engine, Extern, InstanceAllocationStrategy, InstancePre, Linker, Memory,
    Module, PoolingAllocationConfig, Store,
};

/// The import module of every WASI preview 1 function.
const WASI: &str = "wasi_snapshot_preview1";

/// The answer to a successful invocation, as the bare axum baseline and
/// Docket send it.
const SUCCESS: &[u8] = br#"{"status":"success"}"#;

/// WASI's `badf` errno: what `fd_prestat_get` answers when there are no
/// preopened directories (wasi-libc stops enumerating them there).
const ERRNO_BADF: i32 = 8;

/// Per-request store state: what the guest wrote to stdout.
struct Guest {
    stdout: Vec<u8>,
}

/// `proc_exit`'s code, carried out of the guest as the trap's error.
#[derive(Debug)]
struct Exit(i32);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit code {}", self.0)
    }
}

impl std::error::Error for Exit {}

fn main() -> wasmtime::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let path = args
        .next()
        .unwrap_or_else(|| "bench/guests/dist/noop-command.wasm".into());
    let engine = Engine::new(&config())?;
    let module = Module::from_file(&engine, &path)?;
    let pre = Arc::new(linker(&engine, &module)?.instantiate_pre(&module)?);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(&listen, pre))
}

/// A pooling-allocator engine tuned as Docket's (`runner/src/engine/
/// tier_engines.rs`): small memories, tables and stacks stay resident and are
/// wiped in place, which avoids a TLB shootdown per instance. Cranelift, and
/// none of Docket's per-request guards (fuel, epoch interruption).
fn config() -> Config {
    let mut pool = PoolingAllocationConfig::new();
    pool.linear_memory_keep_resident(1024 * 1024)
        .table_keep_resident(64 * 1024)
        .decommit_batch_size(1)
        .pagemap_scan(wasmtime::Enabled::Auto);
    let mut config = Config::new();
    config
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        .memory_init_cow(true);
    config
}

/// The command's imports as minimal host functions: stdout into the request's
/// buffer, stdin at EOF, no arguments or environment, no preopened
/// directories, `proc_exit` as a trap carrying its code. Any other import
/// traps if called.
fn linker(engine: &Engine, module: &Module) -> wasmtime::Result<Linker<Guest>> {
    let mut linker = Linker::new(engine);
    linker.func_wrap(
        WASI,
        "fd_write",
        |mut caller: Caller<'_, Guest>, fd: i32, iovs: i32, count: i32, written: i32| {
            let memory = memory(&mut caller)?;
            let mut total = 0u32;
            for i in 0..count as u32 {
                let (ptr, len) = iovec(&memory, &caller, iovs as u32 + i * 8)?;
                let (data, guest) = memory.data_and_store_mut(&mut caller);
                let bytes = data
                    .get(ptr..ptr + len)
                    .ok_or_else(|| wasmtime::format_err!("iovec out of bounds"))?;
                // Stdout is the answer; stderr (a panic report) is dropped.
                if fd == 1 {
                    guest.stdout.extend_from_slice(bytes);
                }
                total += len as u32;
            }
            memory.write(&mut caller, written as u32 as usize, &total.to_le_bytes())?;
            wasmtime::Result::<i32>::Ok(0)
        },
    )?;
    linker.func_wrap(
        WASI,
        "fd_read",
        |mut caller: Caller<'_, Guest>, _fd: i32, _iovs: i32, _count: i32, read: i32| {
            let memory = memory(&mut caller)?;
            memory.write(&mut caller, read as u32 as usize, &0u32.to_le_bytes())?;
            wasmtime::Result::<i32>::Ok(0)
        },
    )?;
    for sizes in ["environ_sizes_get", "args_sizes_get"] {
        linker.func_wrap(
            WASI,
            sizes,
            |mut caller: Caller<'_, Guest>, count: i32, bytes: i32| {
                let memory = memory(&mut caller)?;
                memory.write(&mut caller, count as u32 as usize, &0u32.to_le_bytes())?;
                memory.write(&mut caller, bytes as u32 as usize, &0u32.to_le_bytes())?;
                wasmtime::Result::<i32>::Ok(0)
            },
        )?;
    }
    for get in ["environ_get", "args_get"] {
        linker.func_wrap(WASI, get, |_: i32, _: i32| 0i32)?;
    }
    linker.func_wrap(WASI, "fd_prestat_get", |_: i32, _: i32| ERRNO_BADF)?;
    linker.func_wrap(WASI, "proc_exit", |code: i32| -> wasmtime::Result<()> {
        Err(Exit(code).into())
    })?;
    linker.define_unknown_imports_as_traps(module)?;
    Ok(linker)
}

/// The guest's exported memory.
fn memory(caller: &mut Caller<'_, Guest>) -> wasmtime::Result<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => wasmtime::bail!("the module exports no memory"),
    }
}

/// The pointer and length of the iovec at `at` in guest memory.
fn iovec(memory: &Memory, caller: &Caller<'_, Guest>, at: u32) -> wasmtime::Result<(usize, usize)> {
    let mut raw = [0u8; 8];
    memory.read(caller, at as usize, &mut raw)?;
    let [p0, p1, p2, p3, l0, l1, l2, l3] = raw;
    Ok((
        u32::from_le_bytes([p0, p1, p2, p3]) as usize,
        u32::from_le_bytes([l0, l1, l2, l3]) as usize,
    ))
}

/// Accepts connections and serves each on its own task.
async fn serve(listen: &str, pre: Arc<InstancePre<Guest>>) -> wasmtime::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("floor listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let pre = pre.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_: Request<Incoming>| {
                let answer = invoke(&pre);
                async move { Ok::<_, Infallible>(answer) }
            });
            // A client that goes away mid-request is no concern of the floor.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// One invocation in a fresh instance, run inline on the I/O thread (it
/// takes microseconds): a fresh store, instantiate, `_start`. Exit code 0 with
/// an empty stdout or the success JSON is success, as Docket reads it.
fn invoke(pre: &InstancePre<Guest>) -> Response<Full<Bytes>> {
    let mut store = Store::new(pre.module().engine(), Guest { stdout: Vec::new() });
    let ran = pre.instantiate(&mut store).and_then(|instance| {
        let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
        start.call(&mut store, ())
    });
    let code = match ran {
        Ok(()) => 0,
        Err(err) => match err.downcast_ref::<Exit>() {
            Some(Exit(code)) => *code,
            None => return answer(StatusCode::INTERNAL_SERVER_ERROR, format!("{err:#}").into()),
        },
    };
    let stdout = std::mem::take(&mut store.data_mut().stdout);
    let trimmed = stdout.trim_ascii();
    if code == 0 && (trimmed.is_empty() || trimmed == SUCCESS) {
        answer(StatusCode::OK, Bytes::from_static(SUCCESS))
    } else {
        answer(StatusCode::INTERNAL_SERVER_ERROR, stdout.into())
    }
}

fn answer(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}
