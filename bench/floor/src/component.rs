//! The component floor: a `docket:action/action` component's `run`, with the
//! two imports the Rust SDK calls answered by stubs and every other import
//! trapping, instead of WASI and Docket's host interfaces.

use wasmtime::component::{Component, InstancePre, Linker, Val};
use wasmtime::{Engine, Store, StoreLimits};

/// The request every invocation gets: what Docket passes for the bench's
/// `customAction` call (no params, no config).
fn request() -> Val {
    let text = |s: &str| Val::String(s.into());
    Val::Record(vec![
        ("action".into(), text("trivial-component")),
        (
            "document-id".into(),
            text("5f0c8e2a9b1d4c3e8f7a6b5c4d3e2f10"),
        ),
        (
            "document-version-id".into(),
            text("7a6b5c4d3e2f10fedcba98765432100a"),
        ),
        ("username".into(), text("jane.doe")),
        ("params".into(), Val::List(Vec::new())),
        ("config".into(), Val::List(Vec::new())),
        ("tenant".into(), text("bench")),
        (
            "request-id".into(),
            text("00000000-0000-0000-0000-000000000000"),
        ),
    ])
}

/// Compiles the component at `bytes` and links it, once for the process.
pub fn prepare(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<InstancePre<StoreLimits>> {
    let component = Component::new(engine, bytes)?;
    let mut linker = Linker::new(engine);
    // The SDK reads the granted secrets (none) and whether the username is
    // verified (no) on every call.
    linker
        .instance("wasi:config/store@0.2.0-rc.1")?
        .func_new("get-all", |_, _, _, results| {
            results[0] = Val::Result(Ok(Some(Box::new(Val::List(Vec::new())))));
            Ok(())
        })?;
    linker.instance("docket:action/caller")?.func_new(
        "username-verified",
        |_, _, _, results| {
            results[0] = Val::Bool(false);
            Ok(())
        },
    )?;
    linker.define_unknown_imports_as_traps(&component)?;
    linker.instantiate_pre(&component)
}

/// One invocation in a fresh instance: a fresh store, instantiate, `run`;
/// `ok(_)` is success.
pub fn invoke(pre: &InstancePre<StoreLimits>) -> Result<(), String> {
    let mut store = Store::new(pre.engine(), crate::guest_limits());
    let mut result = [Val::Bool(false)];
    pre.instantiate(&mut store)
        .and_then(|instance| {
            let run = instance
                .get_func(&mut store, "run")
                .ok_or_else(|| wasmtime::format_err!("no export `run`"))?;
            run.call(&mut store, &[request()], &mut result)
        })
        .map_err(|err| format!("{err:#}"))?;
    outcome(&result[0])
}

/// [`invoke`] under Docket's engine contract: a store armed by
/// [`crate::contract_store`], instantiated and called asynchronously, on a
/// fiber stack.
pub async fn invoke_async(pre: &InstancePre<StoreLimits>) -> Result<(), String> {
    let mut store = crate::contract_store(pre.engine(), crate::guest_limits(), |l| l);
    let mut result = [Val::Bool(false)];
    async {
        let instance = pre.instantiate_async(&mut store).await?;
        let run = instance
            .get_func(&mut store, "run")
            .ok_or_else(|| wasmtime::format_err!("no export `run`"))?;
        run.call_async(&mut store, &[request()], &mut result).await
    }
    .await
    .map_err(|err| format!("{err:#}"))?;
    outcome(&result[0])
}

fn outcome(result: &Val) -> Result<(), String> {
    match result {
        Val::Result(Ok(_)) => Ok(()),
        other => Err(format!("{other:?}")),
    }
}
