//! The command floor: a wasm32-wasip1 command (`_start`) with its imports as
//! a handful of host functions instead of a WASI context.

use super::SUCCESS;
use wasmtime::{Caller, Engine, Extern, InstancePre, Linker, Memory, Module, Store};

/// The import module of every WASI preview 1 function.
const WASI: &str = "wasi_snapshot_preview1";

/// WASI's `badf` errno: what `fd_prestat_get` answers when there are no
/// preopened directories (wasi-libc stops enumerating them there).
const ERRNO_BADF: i32 = 8;

/// Per-request store state: what the guest wrote to stdout, and (under the
/// engine contract) its memory bound.
pub struct Guest {
    stdout: Vec<u8>,
    limits: wasmtime::StoreLimits,
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

/// Compiles the command at `bytes` and links it, once for the process.
pub fn prepare(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<InstancePre<Guest>> {
    let module = Module::new(engine, bytes)?;
    linker(engine, &module)?.instantiate_pre(&module)
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

/// One invocation in a fresh instance: a fresh store, instantiate, `_start`.
/// Exit code 0 with an empty stdout or the success JSON is success, as
/// Docket reads it; anything else is the error's text.
pub fn invoke(pre: &InstancePre<Guest>) -> Result<(), String> {
    let mut store = Store::new(pre.module().engine(), guest());
    let ran = pre.instantiate(&mut store).and_then(|instance| {
        let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
        start.call(&mut store, ())
    });
    outcome(ran, store.data())
}

/// [`invoke`] under Docket's engine contract: a store armed by
/// [`crate::contract_store`], instantiated and called asynchronously, on a
/// fiber stack.
pub async fn invoke_async(pre: &InstancePre<Guest>) -> Result<(), String> {
    let mut store = crate::contract_store(pre.module().engine(), guest(), |g| &mut g.limits);
    let ran = async {
        let instance = pre.instantiate_async(&mut store).await?;
        let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
        start.call_async(&mut store, ()).await
    }
    .await;
    outcome(ran, store.data())
}

fn guest() -> Guest {
    Guest {
        stdout: Vec::new(),
        limits: crate::guest_limits(),
    }
}

/// What a finished `_start` means, as Docket reads it.
fn outcome(ran: wasmtime::Result<()>, guest: &Guest) -> Result<(), String> {
    let code = match ran {
        Ok(()) => 0,
        Err(err) => match err.downcast_ref::<Exit>() {
            Some(Exit(code)) => *code,
            None => return Err(format!("{err:#}")),
        },
    };
    let stdout = &guest.stdout;
    let trimmed = stdout.trim_ascii();
    if code == 0 && (trimmed.is_empty() || trimmed == SUCCESS) {
        Ok(())
    } else {
        Err(format!(
            "exit code {code}, stdout {}",
            String::from_utf8_lossy(stdout)
        ))
    }
}
