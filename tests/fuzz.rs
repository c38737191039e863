//! Bounded fuzzing that runs with every `make test` (and longer with `make fuzz`):
//! arbitrary valid modules from `wasm-smith` through load and invoke, and
//! arbitrary text through the manifest parser. Nothing may panic, every run must
//! end within its limits, and the pool must be empty afterwards.
//!
//! Cases are derived from a seed; a failure prints the seed of the failing case.
//! Add such seeds to `REGRESSION_SEEDS` so they are replayed on every run.
//! `DOCKET_FUZZ_CASES` sets how many cases run (default 300), `DOCKET_FUZZ_SEED`
//! the first seed (default: a fixed one, so CI is reproducible).

mod common;

use arbitrary::Unstructured;
use docket::engine::{ActionRequest, Engine, EngineSettings};
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
    let mut config = wasm_smith::Config {
        max_imports: 0,
        max_memories: 1,
        max_tables: 2,
        max_funcs: 50,
        max_instructions: 500,
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
    };
    let request = ActionRequest {
        action: "fuzz".into(),
        document_id: common::DOC.into(),
        document_version_id: common::VER.into(),
        username: String::new(),
        params: Default::default(),
        config: Default::default(),
        secrets: Default::default(),
        tenant: "fuzz".into(),
        request_id: "fuzz".into(),
    };
    let (mut loaded, mut ran) = (0, 0);
    for seed in seeds() {
        let Some(bytes) = smith_module(seed) else {
            continue;
        };
        let outcome = std::panic::AssertUnwindSafe(async {
            match engine.load(&bytes) {
                Ok(module) => {
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
        assert!(result.is_ok(), "seed {seed} panicked");
    }
    eprintln!("fuzz: {loaded} modules loaded and ran");
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
