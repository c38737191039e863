//! The command ABI: a WASI preview 1 command reads one JSON request on stdin and
//! writes one JSON response on stdout.

use super::limiter::GuestLimiter;
use super::request::{ActionRequest, FailureKind, InvokeError, Outcome};
use super::{Engine, GuestIo, LoadError, classify, crash};
use crate::capabilities::Capabilities;
use crate::capabilities::host_call::{self, MAX_CALL_BYTES};
use crate::limits::Limits;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;
use wasmtime::{Caller, Extern, InstancePre, Linker, Memory, Module};
use wasmtime_wasi::I32Exit;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;

/// The import module every WASI preview 1 function lives in.
const WASI_P1_MODULE: &str = "wasi_snapshot_preview1";

/// The import module of Docket's own host functions (capabilities).
const DOCKET_MODULE: &str = "docket";

/// Store state of a command-ABI invocation.
pub(crate) struct CommandState {
    wasi: WasiP1Ctx,
    limiter: GuestLimiter,
    caps: Arc<Capabilities>,
    /// The reply of the last `host_call`, until `host_reply` copies it out.
    reply: Vec<u8>,
}

/// The linker for command modules: all of WASI preview 1, denying by context,
/// and `docket::host_call` / `docket::host_reply` for capabilities.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<CommandState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_async(&mut linker, |state: &mut CommandState| {
        &mut state.wasi
    })?;
    // wasmtime-wasi turns exit codes 126..=255 into an "invalid exit status"
    // trap (a shell's reserved range); to an action every code is an exit code
    // (AssemblyScript exits with 255 on every abort).
    linker.allow_shadowing(true);
    linker.func_wrap(
        WASI_P1_MODULE,
        "proc_exit",
        |code: i32| -> wasmtime::Result<()> { Err(I32Exit(code).into()) },
    )?;
    linker.allow_shadowing(false);
    linker.func_wrap_async(
        DOCKET_MODULE,
        "host_call",
        |mut caller: Caller<'_, CommandState>, (ptr, len): (i32, i32)| {
            Box::new(async move {
                let memory = guest_memory(&mut caller)?;
                let len = len as u32 as usize;
                let reply = if len > MAX_CALL_BYTES {
                    serde_json::to_vec(&serde_json::json!({
                        "ok": false,
                        "error": format!("host_call operation is {len} bytes, over the limit of {MAX_CALL_BYTES}"),
                    }))?
                } else {
                    let mut input = vec![0; len];
                    memory.read(&caller, ptr as u32 as usize, &mut input)?;
                    let caps = caller.data().caps.clone();
                    host_call::dispatch(&caps, &input).await
                };
                let reply_len = i32::try_from(reply.len())?;
                caller.data_mut().reply = reply;
                Ok(reply_len)
            })
        },
    )?;
    linker.func_wrap(
        DOCKET_MODULE,
        "host_reply",
        |mut caller: Caller<'_, CommandState>, ptr: i32, len: i32| -> wasmtime::Result<i32> {
            let memory = guest_memory(&mut caller)?;
            let reply = std::mem::take(&mut caller.data_mut().reply);
            let n = reply.len().min(len as u32 as usize);
            memory.write(&mut caller, ptr as u32 as usize, &reply[..n])?;
            Ok(i32::try_from(n)?)
        },
    )?;
    Ok(linker)
}

fn guest_memory(caller: &mut Caller<'_, CommandState>) -> wasmtime::Result<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(memory)) => Ok(memory),
        _ => wasmtime::bail!("docket::host_call needs the module to export its memory as `memory`"),
    }
}

/// Whether `module::name` is an import the command linker provides: the one
/// list, used before compiling (`inspect`) and after ([`prepare`]).
pub(super) fn is_provided(module: &str, name: &str) -> bool {
    module == WASI_P1_MODULE
        || (module == DOCKET_MODULE && matches!(name, "host_call" | "host_reply"))
}

/// Compiles a core module.
pub(crate) fn compile(engine: &wasmtime::Engine, bytes: &[u8]) -> Result<Module, LoadError> {
    Module::new(engine, bytes).map_err(|e| LoadError::Invalid(format!("{e:#}")))
}

/// Checks a compiled module is a WASI command whose imports Docket knows, and
/// pre-instantiates it.
pub(crate) fn prepare(
    linker: &Linker<CommandState>,
    module: &Module,
) -> Result<InstancePre<CommandState>, LoadError> {
    let unknown: Vec<String> = module
        .imports()
        .filter(|import| !is_provided(import.module(), import.name()))
        .map(|import| format!("{}::{}", import.module(), import.name()))
        .collect();
    if !unknown.is_empty() {
        return Err(LoadError::UnknownImports(unknown));
    }
    let has_start = module
        .exports()
        .any(|export| export.name() == "_start" && export.ty().func().is_some());
    if !has_start {
        return Err(LoadError::NoAbi(
            "a core module must be a WASI preview 1 command exporting `_start` \
             (a component must target world docket:action/action)"
                .into(),
        ));
    }
    linker
        .instantiate_pre(module)
        .map_err(|e| LoadError::UnknownImports(vec![format!("{e:#}")]))
}

/// Runs one request through a command module.
pub(crate) async fn run(
    engine: &Engine,
    pre: &InstancePre<CommandState>,
    limits: &Limits,
    request: &ActionRequest,
    caps: Arc<Capabilities>,
    io: &GuestIo,
    deadline: Instant,
) -> Result<Outcome, InvokeError> {
    let input = serde_json::to_vec(request).map_err(|e| InvokeError::Host(e.to_string()))?;
    let wasi = WasiCtxBuilder::new()
        .stdin(MemoryInputPipe::new(input))
        .stdout(io.stdout.clone())
        .stderr(io.stderr.clone())
        .arg(&request.action)
        .allow_tcp(false)
        .allow_udp(false)
        .build_p1();
    let limiter = GuestLimiter::new(limits.memory_bytes(), engine.settings.max_table_elements);
    let state = CommandState {
        wasi,
        limiter,
        caps,
        reply: Vec::new(),
    };
    let mut store = engine.new_store(pre.module().engine(), state, limits, deadline, |s| {
        &mut s.limiter
    });
    let instance = pre
        .instantiate_async(&mut store)
        .instrument(tracing::debug_span!("instantiate"))
        .await
        .map_err(classify)?;
    io.mark_instantiated();
    let start = instance
        .get_typed_func::<(), ()>(&mut store, "_start")
        .map_err(|e| InvokeError::Host(format!("{e:#}")))?;
    let called = start
        .call_async(&mut store, ())
        .instrument(tracing::debug_span!("run"))
        .await;
    let exit_code = match called {
        Ok(()) => 0,
        Err(err) => match err.downcast_ref::<I32Exit>() {
            Some(I32Exit(code)) => *code,
            None => return answered_before_panicking(classify(err), io),
        },
    };
    let stdout = io.stdout.contents();
    let outcome = interpret(exit_code, &stdout, &io.stderr.text())?;
    match (&request.provider, outcome) {
        (Some(call), Outcome::Success { .. }) => {
            let text = String::from_utf8_lossy(&stdout);
            super::provider::command::provided(call, &text).map(Outcome::Provided)
        }
        (_, outcome) => Ok(outcome),
    }
}

/// A runtime that traps after reporting a panic (Rust, Zig) still has its
/// answer counted when it wrote one first: a JSON answer always wins over a
/// panic report. Any other trap stays a crash.
fn answered_before_panicking(trap: InvokeError, io: &GuestIo) -> Result<Outcome, InvokeError> {
    if !matches!(trap, InvokeError::Trap(_)) || crash::panic_report(&io.stderr.text()).is_none() {
        return Err(trap);
    }
    match std::str::from_utf8(&io.stdout.contents()).map(parse_response) {
        Ok(Ok(outcome)) => Ok(outcome),
        _ => Err(trap),
    }
}

/// Turns a finished command's exit code, stdout and stderr into an answer
/// (the rules are in `guest-sdk/CONTRACT.md`): a JSON answer always counts;
/// without one, a non-zero exit is a crash when stderr holds a runtime's panic
/// report, else a failure with stderr's most meaningful line.
fn interpret(exit_code: i32, stdout: &[u8], stderr: &str) -> Result<Outcome, InvokeError> {
    let crashed = || {
        (exit_code != 0)
            .then(|| crash::panic_report(stderr))
            .flatten()
    };
    let text = match std::str::from_utf8(stdout) {
        Ok(text) => text,
        Err(e) => {
            return Err(crashed().map_or_else(
                || InvokeError::BadResponse(format!("stdout is not UTF-8: {e}")),
                InvokeError::Trap,
            ));
        }
    };
    if text.trim().is_empty() {
        if exit_code == 0 {
            return Ok(Outcome::Success { message: None });
        }
        if let Some(report) = crashed() {
            return Err(InvokeError::Trap(report));
        }
        return Ok(Outcome::Failure {
            kind: FailureKind::Failed,
            message: crash::meaningful_line(stderr)
                .unwrap_or_else(|| format!("action exited with code {exit_code}")),
        });
    }
    parse_response(text).map_err(|bad| crashed().map_or(bad, InvokeError::Trap))
}

/// Parses the JSON response. Authors often print a debug line first, so when the
/// whole of stdout is not one JSON value, its last line is tried.
fn parse_response(text: &str) -> Result<Outcome, InvokeError> {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(whole_err) => {
            let last = text
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            serde_json::from_str(last).map_err(|_| {
                InvokeError::BadResponse(format!("stdout is not a JSON response: {whole_err}"))
            })?
        }
    };
    let object = value
        .as_object()
        .ok_or_else(|| InvokeError::BadResponse("stdout JSON is not an object".into()))?;
    let string_field = |key: &str| -> Result<Option<String>, InvokeError> {
        match object.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(InvokeError::BadResponse(format!(
                "`{key}` must be a string"
            ))),
        }
    };
    match string_field("status")?.as_deref() {
        Some("success") => Ok(Outcome::Success {
            message: string_field("message")?,
        }),
        Some("failure") => {
            let kind = match string_field("kind")? {
                None => FailureKind::Failed,
                Some(kind) => FailureKind::parse(&kind).ok_or_else(|| {
                    InvokeError::BadResponse(format!(
                        "unknown failure kind {kind:?}; use \"failed\", \"forbidden\" or \"not-found\""
                    ))
                })?,
            };
            let message = string_field("error")?.unwrap_or_else(|| "action failed".into());
            Ok(Outcome::Failure { kind, message })
        }
        Some(other) => Err(InvokeError::BadResponse(format!(
            "unknown status {other:?}; use \"success\" or \"failure\""
        ))),
        None => Err(InvokeError::BadResponse("missing `status`".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_stdout_and_exit_zero_is_success() {
        assert_eq!(
            interpret(0, b"", ""),
            Ok(Outcome::Success { message: None })
        );
    }

    #[test]
    fn nonzero_exit_without_json_fails_with_the_last_stderr_line() {
        assert_eq!(
            interpret(3, b"\n", "disk on fire\n"),
            Ok(Outcome::Failure {
                kind: FailureKind::Failed,
                message: "disk on fire".into()
            })
        );
        assert_eq!(
            interpret(3, b"", ""),
            Ok(Outcome::Failure {
                kind: FailureKind::Failed,
                message: "action exited with code 3".into()
            })
        );
    }

    #[test]
    fn failure_json_carries_kind_and_error() {
        let out = br#"{"status":"failure","kind":"not-found","error":"no such doc"}"#;
        assert_eq!(
            interpret(1, out, ""),
            Ok(Outcome::Failure {
                kind: FailureKind::NotFound,
                message: "no such doc".into()
            })
        );
    }

    #[test]
    fn debug_lines_before_the_json_are_tolerated() {
        let out = b"debug: starting\n{\"status\":\"success\",\"message\":\"ok\"}\n";
        assert_eq!(
            interpret(0, out, ""),
            Ok(Outcome::Success {
                message: Some("ok".into())
            })
        );
    }

    /// Every exit code counts alike, and a panic report without an answer is
    /// a crash with the panic's message; an answer wins over a panic report.
    #[test]
    fn panics_without_an_answer_are_crashes_and_answers_win() {
        let go = "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/src/main.go:5 +0x3\n";
        assert_eq!(
            interpret(2, b"", go),
            Err(InvokeError::Trap("panic: boom".into()))
        );
        let answer = br#"{"status":"failure","kind":"forbidden","error":"no"}"#;
        assert_eq!(
            interpret(255, answer, go),
            Ok(Outcome::Failure {
                kind: FailureKind::Forbidden,
                message: "no".into()
            })
        );
        assert_eq!(
            interpret(2, b"half an answer", go),
            Err(InvokeError::Trap("panic: boom".into()))
        );
        assert_eq!(
            interpret(0, b"", go),
            Ok(Outcome::Success { message: None })
        );
    }

    #[test]
    fn contract_breaches_are_bad_responses() {
        for out in [
            &b"not json"[..],
            br#"[1,2]"#,
            br#"{"status":"maybe"}"#,
            br#"{"status":"failure","kind":"teapot"}"#,
            br#"{"message":"no status"}"#,
            b"\xff\xfe",
        ] {
            assert!(
                matches!(interpret(0, out, ""), Err(InvokeError::BadResponse(_))),
                "{out:?}"
            );
        }
    }
}
