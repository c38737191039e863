//! Bounded fuzzing that runs with every `make test` (and longer with `make fuzz`):
//! arbitrary valid modules from `wasm-smith` through load and invoke, and
//! arbitrary text through the manifest parser. Nothing may panic, every run must
//! end within its limits, and the pool must be empty afterwards.
//!
//! It also fuzzes the two compile tiers against each other: each case is a
//! `wasm-smith` module without imports, exporting everything, with NaNs
//! canonicalized and only the proposals both Winch and Cranelift implement. It
//! is compiled with [`docket::engine::compiler_config`] for [`Tier::Baseline`]
//! (Winch) and [`Tier::Optimized`] (Cranelift) and instantiated under the same
//! fuel; then each exported function is called with zero arguments in a fresh
//! instance of its own. The outcome of instantiation (the start function) and
//! of each call — results, floats by their bits, or trap code — and every
//! exported global, table and memory afterwards must be the same on both
//! tiers. Winch may refuse a module (Docket then compiles it with Cranelift);
//! Cranelift may not. Running out of fuel or of stack may happen at different
//! points on each tier, so a call where either tier does is skipped and
//! counted, not compared.
//!
//! Cases are derived from a seed; a failure prints the seed of the failing case.
//! Add such seeds to `REGRESSION_SEEDS` so they are replayed on every run.
//! `DOCKET_FUZZ_CASES` sets how many cases run (default 300), `DOCKET_FUZZ_SEED`
//! the first seed (default: a fixed one, so CI is reproducible).

mod common;

use arbitrary::Unstructured;
use docket::engine::{Engine, EngineSettings, Tier, compiler_config};
use docket::limits::{Ceilings, Limits};
use docket::manifest::ActionManifest;

/// Seeds that once found a problem; replayed first on every run.
const REGRESSION_SEEDS: &[u64] = &[];

fn cases() -> u64 {
    env_u64("DOCKET_FUZZ_CASES").unwrap_or(300)
}

fn first_seed() -> u64 {
    env_u64("DOCKET_FUZZ_SEED").unwrap_or(0x5eed_d0c7e7)
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}

/// Deterministic bytes for a seed (splitmix64).
fn bytes_for(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn seeds() -> impl Iterator<Item = u64> {
    let first = first_seed();
    REGRESSION_SEEDS
        .iter()
        .copied()
        .chain((0..cases()).map(move |i| first.wrapping_add(i)))
}

/// A module with an exported `_start` and no imports, shaped by `seed`.
fn smith_module(seed: u64) -> Option<Vec<u8>> {
    let data = bytes_for(seed, 8 * 1024);
    let mut u = Unstructured::new(&data);
    // Only proposals Docket's engine accepts, else nearly every module is
    // refused before it runs (GC types, memory64, multi-memory…).
    let mut config = wasm_smith::Config {
        max_imports: 0,
        max_memories: 1,
        max_tables: 2,
        max_funcs: 50,
        max_instructions: 500,
        reference_types_enabled: false,
        gc_enabled: false,
        exceptions_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        memory64_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        ..wasm_smith::Config::default()
    };
    config.exports = Some(wat::parse_str(r#"(module (func (export "_start")))"#).unwrap());
    wasm_smith::Module::new(config, &mut u)
        .ok()
        .map(|m| m.to_bytes())
}

/// Arbitrary valid modules load or fail with a typed error, and those that load
/// run to an answer or a limit, never a crash, leaving the pool empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_modules_load_and_run_within_their_limits() {
    let engine = Engine::new(EngineSettings::default()).unwrap();
    let limits = Limits {
        timeout_ms: 200,
        memory_mb: 16,
        fuel: 200_000,
        max_output_kb: 16,
        instance_reuse: 1,
    };
    let request = common::action_request("fuzz", "fuzz");
    let (mut loaded, mut ran) = (0, 0);
    for seed in seeds() {
        let Some(bytes) = smith_module(seed) else {
            continue;
        };
        // Each tier's code, as the server would run it (Winch may refuse a
        // module Cranelift compiles: the server then falls back).
        for tier in [Tier::Optimized, Tier::Baseline] {
            let outcome = std::panic::AssertUnwindSafe(async {
                let compiled = engine
                    .check(&bytes)
                    .and_then(|abi| engine.compile_checked(&bytes, abi, tier));
                match compiled {
                    Ok(module) => {
                        assert_eq!(
                            module.tier(),
                            tier,
                            "seed {seed}: compiled by the wrong tier"
                        );
                        loaded += 1;
                        let _ = engine
                            .invoke(
                                &module,
                                &limits,
                                &request,
                                Default::default(),
                                None,
                                std::time::Instant::now() + limits.timeout(),
                            )
                            .await
                            .result;
                        ran += 1;
                    }
                    Err(_typed_error) => {}
                }
            });
            let result = futures::FutureExt::catch_unwind(outcome).await;
            assert!(result.is_ok(), "seed {seed} panicked on {tier} code");
        }
    }
    eprintln!("fuzz: {loaded} modules loaded and ran (both tiers counted)");
    assert_eq!(engine.pool_usage(), (0, 0), "pool slots still taken");
    assert!(loaded > 0 && ran == loaded, "loaded {loaded}, ran {ran}");
}

/// Arbitrary text never panics the manifest parser.
#[test]
fn arbitrary_text_never_panics_the_manifest_parser() {
    const PIECES: &[&str] = &[
        "name",
        "display-name",
        "module",
        "[limits]",
        "[config]",
        "[capabilities]",
        "timeout-ms",
        "memory-mb",
        "fuel",
        "max-output-kb",
        "allowed-outbound-hosts",
        "manifest-version",
        " = ",
        "\"",
        "'",
        "\n",
        "[",
        "]",
        "{",
        "}",
        ",",
        "=",
        "#",
        "18446744073709551616",
        "-1",
        "0",
        "1e308",
        "true",
        "\"\\u0000\"",
        "é",
        "\\",
        "\"a\"",
        "[[x]]",
        "\"\"\"",
        "a.b.c",
        "inf",
        "nan",
    ];
    let ceilings = Ceilings::default();
    for seed in seeds() {
        let data = bytes_for(seed, 64);
        let text: String = data
            .iter()
            .map(|b| PIECES[*b as usize % PIECES.len()])
            .collect();
        let result = std::panic::catch_unwind(|| ActionManifest::parse(&text, &ceilings));
        assert!(result.is_ok(), "seed {seed} panicked on {text:?}");
    }
}

/// Fuel for instantiation (the start function) and again for each call, on both
/// tiers.
const TIER_FUEL: u64 = 200_000;

/// The most a differential case's memory may grow to: its contents are hashed
/// after the calls.
const TIER_MEMORY_BYTES: usize = 4 << 20;

/// A module to run on both tiers: no imports, every function, global, table and
/// memory exported, NaNs canonicalized so their bits are deterministic, and
/// only proposals both Winch and Cranelift implement (no SIMD, threads, GC,
/// exceptions, tail calls, memory64 or multi-memory).
///
/// Docket's wasmtime is built without GC, so `externref` is invalid in both
/// engines ("gc types are disallowed"), and wasm-smith offers it whenever
/// reference types are on: such a module is generated again from the same
/// entropy with reference types off (tables of `funcref` only). A module
/// refused for any other reason is kept, and fails the test.
fn tier_module(seed: u64, optimized: &wasmtime::Engine) -> Option<Vec<u8>> {
    let with_references = tier_module_with(seed, true)?;
    match wasmtime::Module::validate(optimized, &with_references) {
        Err(err) if format!("{err:#}").contains("gc types are disallowed") => {
            tier_module_with(seed, false)
        }
        _ => Some(with_references),
    }
}

fn tier_module_with(seed: u64, reference_types: bool) -> Option<Vec<u8>> {
    let data = bytes_for(seed, 8 * 1024);
    let mut u = Unstructured::new(&data);
    let config = wasm_smith::Config {
        reference_types_enabled: reference_types,
        max_imports: 0,
        export_everything: true,
        min_types: 1,
        min_funcs: 3,
        max_funcs: 20,
        max_instructions: 200,
        max_globals: 20,
        max_memories: 1,
        max_memory32_bytes: 1 << 20,
        max_tables: 2,
        max_table_elements: 1_000,
        max_data_segments: 10,
        max_element_segments: 10,
        canonicalize_nans: true,
        // A third of the cases guard loads, stores and divisions so that more
        // calls run to the end: other code shapes, and more state to compare.
        disallow_traps: seed.is_multiple_of(3),
        simd_enabled: false,
        relaxed_simd_enabled: false,
        threads_enabled: false,
        shared_everything_threads_enabled: false,
        gc_enabled: false,
        exceptions_enabled: false,
        tail_call_enabled: false,
        memory64_enabled: false,
        custom_page_sizes_enabled: false,
        wide_arithmetic_enabled: false,
        ..wasm_smith::Config::default()
    };
    wasm_smith::Module::new(config, &mut u)
        .ok()
        .map(|m| m.to_bytes())
}

/// A wasm value as both tiers must agree on it: floats by their bits,
/// references only by whether they are null (identity is per store).
#[derive(Debug, Clone, PartialEq)]
enum Value {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    Ref { null: bool },
}

impl Value {
    fn of(val: &wasmtime::Val) -> Self {
        use wasmtime::Val;
        match val {
            Val::I32(v) => Value::I32(*v),
            Val::I64(v) => Value::I64(*v),
            Val::F32(bits) => Value::F32(*bits),
            Val::F64(bits) => Value::F64(*bits),
            Val::V128(v) => Value::V128(v.as_u128()),
            reference => Value::Ref {
                null: reference.ref_().is_none_or(|r| r.is_null()),
            },
        }
    }
}

/// How instantiation or one call ended.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Returned(Vec<Value>),
    Trapped(wasmtime::Trap),
    /// An error that is not a trap, by its message.
    Failed(String),
}

/// Ran out of something whose exact point may differ between the tiers.
#[derive(Debug, Clone, Copy)]
enum Exhausted {
    Fuel,
    Stack,
}

impl Outcome {
    fn of(result: wasmtime::Result<Vec<Value>>) -> Self {
        match result {
            Ok(values) => Outcome::Returned(values),
            Err(err) => match err.downcast_ref::<wasmtime::Trap>() {
                Some(trap) => Outcome::Trapped(*trap),
                None => Outcome::Failed(err.to_string()),
            },
        }
    }

    fn exhausted(&self) -> Option<Exhausted> {
        match self {
            Outcome::Trapped(wasmtime::Trap::OutOfFuel) => Some(Exhausted::Fuel),
            Outcome::Trapped(wasmtime::Trap::StackOverflow) => Some(Exhausted::Stack),
            _ => None,
        }
    }
}

/// An exported global, table or memory after instantiation or a call.
#[derive(Debug, PartialEq)]
enum Exported {
    Global(Value),
    /// Its size and, for each element, whether it is null.
    Table {
        nulls: Vec<bool>,
    },
    /// Its size in bytes and a hash of its contents.
    Memory {
        len: usize,
        hash: u64,
    },
}

/// What one tier did with a module: instantiation (which runs the start
/// function), then each exported function called in a fresh instance of its
/// own, so running out of fuel or stack in one call does not hide the others.
struct TierRun {
    steps: Vec<Step>,
}

/// Instantiation or one call, and what it left in the instance.
struct Step {
    /// `(instantiation)` or the exported function's name.
    name: String,
    outcome: Outcome,
    /// Exported globals, tables and memories afterwards, if it did not run out
    /// of fuel or stack (where that happens may differ between the tiers).
    state: Option<Vec<(String, Exported)>>,
}

/// A fresh store with the same limits and fuel on each tier, and the module
/// instantiated in it.
fn instantiate(
    engine: &wasmtime::Engine,
    module: &wasmtime::Module,
) -> (
    wasmtime::Store<wasmtime::StoreLimits>,
    wasmtime::Result<wasmtime::Instance>,
) {
    let limits = wasmtime::StoreLimitsBuilder::new()
        .memory_size(TIER_MEMORY_BYTES)
        .table_elements(10_000)
        .build();
    let mut store = wasmtime::Store::new(engine, limits);
    store.limiter(|limits| limits);
    // Nothing ticks these engines' epoch: the deadline is never reached.
    store.set_epoch_deadline(1 << 40);
    store.set_fuel(TIER_FUEL).expect("fuel is enabled");
    let instance = wasmtime::Instance::new(&mut store, module, &[]);
    (store, instance)
}

/// Every exported global, table and memory of `instance`, in export order.
fn exported_state(
    store: &mut wasmtime::Store<wasmtime::StoreLimits>,
    instance: &wasmtime::Instance,
    names: &[String],
) -> Vec<(String, Exported)> {
    use wasmtime::Extern;
    let mut state = Vec::new();
    for name in names {
        let exported = match instance.get_export(&mut *store, name) {
            Some(Extern::Global(global)) => Exported::Global(Value::of(&global.get(&mut *store))),
            Some(Extern::Table(table)) => Exported::Table {
                nulls: (0..table.size(&*store))
                    .map(|i| table.get(&mut *store, i).is_none_or(|r| r.is_null()))
                    .collect(),
            },
            Some(Extern::Memory(memory)) => {
                use std::hash::{Hash, Hasher};
                let data = memory.data(&*store);
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                data.hash(&mut hasher);
                Exported::Memory {
                    len: data.len(),
                    hash: hasher.finish(),
                }
            }
            _ => continue,
        };
        state.push((name.clone(), exported));
    }
    state
}

/// Compiles `bytes` in `engine` (an error if the compiler refuses it), then
/// instantiates it and calls each exported function, with zero arguments, in
/// an instance of its own.
fn run_tier(engine: &wasmtime::Engine, bytes: &[u8]) -> wasmtime::Result<TierRun> {
    use wasmtime::Val;
    let module = wasmtime::Module::new(engine, bytes)?;
    let names: Vec<String> = module.exports().map(|e| e.name().to_string()).collect();
    let step = |name: &str, outcome: Outcome, store: &mut _, instance: Option<&_>| Step {
        name: name.to_string(),
        state: match (outcome.exhausted(), instance) {
            (None, Some(instance)) => Some(exported_state(store, instance, &names)),
            _ => None,
        },
        outcome,
    };
    let (mut store, instance) = instantiate(engine, &module);
    let instance = match instance {
        Ok(instance) => instance,
        Err(err) => {
            let failed = step("(instantiation)", Outcome::of(Err(err)), &mut store, None);
            return Ok(TierRun {
                steps: vec![failed],
            });
        }
    };
    let mut steps = vec![step(
        "(instantiation)",
        Outcome::Returned(Vec::new()),
        &mut store,
        Some(&instance),
    )];
    for name in &names {
        let Some(func) = instance.get_func(&mut store, name) else {
            continue;
        };
        let ty = func.ty(&store);
        let Some(params) = ty
            .params()
            .map(|p| Val::default_for_ty(&p))
            .collect::<Option<Vec<_>>>()
        else {
            continue;
        };
        // Instantiation succeeded once; it does again, deterministically.
        let (mut store, instance) = instantiate(engine, &module);
        let instance = instance?;
        let func = instance
            .get_func(&mut store, name)
            .expect("the same module exports the same function");
        let mut results = vec![Val::I32(0); ty.results().len()];
        let outcome = Outcome::of(
            func.call(&mut store, &params, &mut results)
                .map(|()| results.iter().map(Value::of).collect()),
        );
        steps.push(step(name, outcome, &mut store, Some(&instance)));
    }
    Ok(TierRun { steps })
}

/// What comparing two runs of one module found.
#[derive(Default)]
struct Comparison {
    /// Steps whose outcome and state both tiers agree on.
    agreed: usize,
    /// Steps not compared because a tier ran out of fuel or of stack.
    out_of_fuel: usize,
    out_of_stack: usize,
    /// Of those, the steps where only one tier ran out.
    one_sided: usize,
    /// The first step on which they differ, with both sides.
    differ: Option<String>,
}

fn compare(baseline: &TierRun, optimized: &TierRun) -> Comparison {
    let mut found = Comparison::default();
    if baseline.steps.len() != optimized.steps.len() {
        found.differ = Some(format!(
            "baseline (Winch) ran {} steps, optimized (Cranelift) {}: {:?} vs {:?}",
            baseline.steps.len(),
            optimized.steps.len(),
            baseline.steps.first().map(|s| &s.outcome),
            optimized.steps.first().map(|s| &s.outcome),
        ));
        return found;
    }
    for (b, o) in baseline.steps.iter().zip(&optimized.steps) {
        let name = &b.name;
        let (b_out, o_out) = (b.outcome.exhausted(), o.outcome.exhausted());
        found.one_sided += usize::from(b_out.is_some() != o_out.is_some());
        match b_out.or(o_out) {
            Some(Exhausted::Fuel) => found.out_of_fuel += 1,
            Some(Exhausted::Stack) => found.out_of_stack += 1,
            None if b.outcome != o.outcome => {
                found.differ = Some(format!(
                    "function `{name}`: baseline (Winch) {:?}, optimized (Cranelift) {:?}",
                    b.outcome, o.outcome
                ));
                return found;
            }
            None if b.state != o.state => {
                found.differ = Some(format!(
                    "exports after `{name}` (which returned {:?} on both): \
                     baseline (Winch) {:?}, optimized (Cranelift) {:?}",
                    b.outcome, b.state, o.state
                ));
                return found;
            }
            None => found.agreed += 1,
        }
    }
    found
}

/// Winch (baseline) and Cranelift (optimized), each configured exactly as
/// Docket compiles with, run arbitrary modules to the same results, traps,
/// globals, tables and memories.
#[test]
fn baseline_and_optimized_tiers_agree_on_arbitrary_modules() {
    // The guests run on this thread's stack (no async fibers here), and
    // baseline code may take 4 × `max_wasm_stack` of it: more than a test
    // thread's 2 MiB.
    std::thread::Builder::new()
        .stack_size(64 * 1024 * 1024)
        .spawn(tiers_agree_on_arbitrary_modules)
        .unwrap()
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
}

fn tiers_agree_on_arbitrary_modules() {
    let started = std::time::Instant::now();
    let settings = EngineSettings::default();
    let engine = |tier| wasmtime::Engine::new(&compiler_config(&settings, tier)).unwrap();
    let (baseline, optimized) = (engine(Tier::Baseline), engine(Tier::Optimized));
    let (mut cases, mut compared, mut winch_refused) = (0, 0, 0);
    let mut steps = Comparison::default();
    let mut refusals = std::collections::BTreeMap::<String, usize>::new();
    let mut failures = Vec::new();
    for seed in seeds() {
        let Some(bytes) = tier_module(seed, &optimized) else {
            continue;
        };
        cases += 1;
        let runs = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (run_tier(&baseline, &bytes), run_tier(&optimized, &bytes))
        }));
        let failure = match runs {
            Err(_) => Some("panicked (message above)".to_string()),
            Ok((_, Err(err))) => Some(format!("Cranelift refused a module it validates: {err:#}")),
            Ok((Err(err), Ok(_))) => {
                winch_refused += 1;
                let reason = format!("{err:#}").lines().last().unwrap_or("").to_string();
                *refusals.entry(reason).or_default() += 1;
                None
            }
            Ok((Ok(b), Ok(o))) => {
                let found = compare(&b, &o);
                steps.agreed += found.agreed;
                steps.out_of_fuel += found.out_of_fuel;
                steps.out_of_stack += found.out_of_stack;
                steps.one_sided += found.one_sided;
                compared += usize::from(found.differ.is_none());
                found.differ
            }
        };
        if let Some(what) = failure {
            let path = std::env::temp_dir().join(format!("docket-fuzz-tiers-{seed}.wasm"));
            let saved = match std::fs::write(&path, &bytes) {
                Ok(()) => format!("module saved to {}", path.display()),
                Err(err) => format!("module not saved ({err})"),
            };
            eprintln!("seed {seed}: module bytes: {}", hex(&bytes));
            failures.push(format!("seed {seed}: {what} ({saved})"));
        }
    }
    eprintln!(
        "fuzz tiers: {cases} cases, {compared} agreed, Winch refused {winch_refused}{}; \
         {} instantiations and calls compared, skipped {} out of fuel and {} out of \
         stack ({} on one tier only); {:.1?}",
        match refusals.is_empty() {
            true => String::new(),
            false => format!(" {refusals:?}"),
        },
        steps.agreed,
        steps.out_of_fuel,
        steps.out_of_stack,
        steps.one_sided,
        started.elapsed()
    );
    assert!(
        failures.is_empty(),
        "Winch and Cranelift disagree; add each seed to REGRESSION_SEEDS in tests/fuzz.rs \
         (replay one alone with DOCKET_FUZZ_SEED=<seed> DOCKET_FUZZ_CASES=1):\n{}",
        failures.join("\n")
    );
    // Winch compiled every module in 20,000 cases; most being refused would
    // make this test vacuous.
    assert!(
        compared * 2 >= cases,
        "only {compared} of {cases} modules were compared on both tiers"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
