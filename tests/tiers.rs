//! Tiered compilation through the real binary: a new version serves on
//! Winch's baseline code at once, Cranelift's optimized code takes over
//! under load without a failed request, a restart serves the best artifact
//! it has, a module Winch cannot compile falls back to Cranelift with the
//! reason in the deploy answer, and the operator chooses the policy.
//!
//! The hostile-guest suite (`tests/sandbox.rs`) also runs on baseline code
//! alone: `make test` runs it again with `DOCKET_COMPILE_TIERS=baseline`.

mod common;

use common::warm::until_warmed;
use common::{Server, padded_message_module};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const TIERED: &[&str] = &["--compile-tiers", "baseline,optimized"];

/// `docket_modules_cached{tier=…}` from the operator's scrape: (baseline, optimized).
async fn cached_by_tier(server: &Server) -> (u64, u64) {
    let text = server.scrape_metrics().await;
    (
        sample(&text, r#"docket_modules_cached{tier="baseline"}"#),
        sample(&text, r#"docket_modules_cached{tier="optimized"}"#),
    )
}

/// The sum of every sample of `series`: a name with or without some of its
/// labels (`docket_compile_duration_seconds_count` sums every outcome and
/// tier), 0 when absent.
fn sample(text: &str, series: &str) -> u64 {
    let (name, labels) = series.split_once('{').unwrap_or((series, ""));
    let labels: Vec<&str> = labels
        .trim_end_matches('}')
        .split(',')
        .filter(|l| !l.is_empty())
        .collect();
    let mut sum = 0.0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (key, value) = line.rsplit_once(' ').unwrap();
        let (key_name, key_labels) = key.split_once('{').unwrap_or((key, ""));
        if key_name == name && labels.iter().all(|l| key_labels.contains(l)) {
            sum += value
                .parse::<f64>()
                .unwrap_or_else(|e| panic!("{line}: {e}"));
        }
    }
    sum as u64
}

/// Creates tenant `acme` and deploys `module` with `manifest`: its admin
/// token, webhook key and the deploy answer, which must be 201.
async fn deploy_new(server: &Server, manifest: &str, module: Vec<u8>) -> (String, String, Value) {
    let (token, key) = server.create_tenant("acme", json!({})).await;
    let (status, body) = server.deploy("acme", &token, manifest, module).await;
    assert_eq!(status, 201, "{body}");
    (token, key, body)
}

/// A command whose `_start` recurses 100,000 deep by tail calls, which
/// Winch does not support.
fn tail_call_module() -> Vec<u8> {
    let wat = r#"(module
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (memory (export "memory") 1)
      (func $count (param i32) (result i32)
        (if (result i32) (i32.eqz (local.get 0))
          (then (i32.const 0))
          (else (return_call $count (i32.sub (local.get 0) (i32.const 1))))))
      (func (export "_start")
        (drop (call $count (i32.const 100000)))))"#;
    wat::parse_str(wat).unwrap()
}

/// Waits until the optimized code serves the one deployed module.
async fn until_optimized(server: &Server, limit: Duration) {
    let started = Instant::now();
    loop {
        if cached_by_tier(server).await == (0, 1) {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "the optimized tier did not take over within {limit:?}: {:?}",
            cached_by_tier(server).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A steady stream of invocations while the optimized code replaces the
/// baseline code: no request fails, every answer is the same, and requests
/// were answered both before and after the switch.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn optimized_code_takes_over_under_load_without_a_failed_request() {
    let server = Arc::new(Server::hosted(TIERED));
    let (_token, key, body) = deploy_new(
        &server,
        "name = \"tiered\"\n",
        padded_message_module("the same answer", 400),
    )
    .await;
    assert_eq!(body["tier"], "baseline", "{body}");
    assert!(body.get("baselineUnavailable").is_none(), "{body}");

    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let (server, stop, answered, key) =
                (server.clone(), stop.clone(), answered.clone(), key.clone());
            tokio::spawn(async move {
                let mut answers: Vec<(u16, Value)> = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    answers.push(server.call("acme", "tiered", &key).await);
                    answered.fetch_add(1, Ordering::Relaxed);
                }
                answers
            })
        })
        .collect();

    let mut answered_on_baseline = 0;
    let started = Instant::now();
    loop {
        let seen = answered.load(Ordering::Relaxed);
        match cached_by_tier(&server).await {
            (1, 0) => answered_on_baseline = seen,
            (0, 1) => break,
            other => panic!("one module is cached, by tier: {other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the optimized tier did not take over"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let at_switch = answered.load(Ordering::Relaxed);
    while answered.load(Ordering::Relaxed) < at_switch + 50 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Relaxed);

    let mut answers = Vec::new();
    for caller in callers {
        answers.extend(caller.await.unwrap());
    }
    assert!(
        answered_on_baseline > 0,
        "no request was answered while baseline code served"
    );
    let expected = (
        200,
        json!({"status": "success", "message": "the same answer"}),
    );
    for answer in &answers {
        assert_eq!(answer, &expected);
    }
    eprintln!(
        "{} answers: {answered_on_baseline} seen on baseline code, {} after the switch",
        answers.len(),
        answers.len() - at_switch
    );
    let text = server.scrape_metrics().await;
    assert_eq!(sample(&text, "docket_tier_switch_seconds_count"), 1);
}

/// A restart loads the best artifact the store has instead of compiling, and
/// the optimized code serves in the end whether or not the first run got to
/// compile it.
#[tokio::test]
async fn a_restart_serves_the_best_artifact_without_compiling_in_the_foreground() {
    let server = Server::hosted(TIERED);
    let (_token, key, _body) = deploy_new(
        &server,
        "name = \"tiered\"\n",
        padded_message_module("after a restart", 400),
    )
    .await;
    // Killed while the optimized compile is likely still running.
    let data = server.crash().unwrap();

    let restarted = Server::hosted_in(data.path(), TIERED);
    until_warmed(&restarted).await;
    // Never called: loaded by its first call, not at the start…
    let text = restarted.scrape_metrics().await;
    assert_eq!(sample(&text, "docket_loaded_modules"), 0, "{text}");
    let (status, body) = restarted.call("acme", "tiered", &key).await;
    assert_eq!((status, &body["message"]), (200, &json!("after a restart")));
    // …from its artifact, without a compile in the foreground.
    let text = restarted.scrape_metrics().await;
    assert_eq!(
        sample(&text, r#"docket_modules_loaded_total{source="artifact"}"#),
        1,
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"docket_modules_loaded_total{source="compiled"}"#),
        0,
        "{text}"
    );
    assert_eq!(sample(&text, "docket_module_lazy_loads_total"), 1, "{text}");
    until_optimized(&restarted, Duration::from_secs(180)).await;
    drop(restarted);

    // Now the optimized artifact is stored, and the action was called
    // lately: a restart loads it at once, on optimized code.
    let again = Server::hosted_in(data.path(), TIERED);
    until_warmed(&again).await;
    assert_eq!(cached_by_tier(&again).await, (0, 1));
    let text = again.scrape_metrics().await;
    assert_eq!(sample(&text, "docket_compile_duration_seconds_count"), 0);
    let (status, _) = again.call("acme", "tiered", &key).await;
    assert_eq!(status, 200);
}

/// Winch lacks the tail-call proposal: such a module compiles with Cranelift
/// at once, and the deploy answer says why.
#[tokio::test]
async fn a_module_winch_cannot_compile_falls_back_to_cranelift() {
    let server = Server::hosted(TIERED);
    let (token, key) = server.create_tenant("acme", json!({})).await;
    let (status, body) = server
        .deploy("acme", &token, "name = \"tail\"\n", tail_call_module())
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["tier"], "optimized", "{body}");
    let why = body["baselineUnavailable"].as_str().unwrap_or_default();
    assert!(why.contains("tail call"), "{body}");
    let (status, body) = server.call("acme", "tail", &key).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(cached_by_tier(&server).await, (0, 1));
    // The same bytes again (a manifest change): still said.
    let (status, body) = server
        .deploy(
            "acme",
            &token,
            "name = \"tail\"\n[config]\na = \"b\"\n",
            tail_call_module(),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(body["baselineUnavailable"].is_string(), "{body}");
}

/// `--compile-tiers baseline` means Winch's code or none: a module Winch
/// cannot compile is refused, naming why, rather than run on Cranelift's.
#[tokio::test]
async fn the_baseline_policy_refuses_what_winch_cannot_compile() {
    let server = Server::hosted(&["--compile-tiers", "baseline"]);
    let (token, _key) = server.create_tenant("acme", json!({})).await;
    let (status, body) = server
        .deploy("acme", &token, "name = \"tail\"\n", tail_call_module())
        .await;
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("tail call") && error.contains("--compile-tiers baseline"),
        "{body}"
    );
}

/// `--compile-tiers optimized` compiles with Cranelift only, as before tiers;
/// `baseline` with Winch only.
#[tokio::test]
async fn the_operator_chooses_the_compile_policy() {
    for (policy, tier, cached) in [
        ("optimized", "optimized", (0, 1)),
        ("baseline", "baseline", (1, 0)),
    ] {
        let server = Server::hosted(&["--compile-tiers", policy]);
        let (token, key) = server.create_tenant("acme", json!({})).await;
        let module = padded_message_module("chosen", 10);
        let (status, body) = server
            .deploy("acme", &token, "name = \"chosen\"\n", module)
            .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["tier"], tier, "{policy}: {body}");
        let (status, _) = server.call("acme", "chosen", &key).await;
        assert_eq!(status, 200);
        // Nothing is compiled in the background under either policy: a
        // background compile of this small module ends well within this.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(cached_by_tier(&server).await, cached, "{policy}");
        let text = server.scrape_metrics().await;
        let compiles = format!(r#"docket_compile_duration_seconds_count{{tier="{tier}"}}"#);
        assert_eq!(sample(&text, &compiles), 1, "{text}");
        assert_eq!(
            sample(&text, "docket_compile_duration_seconds_count"),
            1,
            "{text}"
        );
        assert_eq!(
            sample(&text, "docket_tier_switch_seconds_count"),
            0,
            "{text}"
        );
    }
}

/// `DOCKET_COMPILE_TIERS` sets the policy too: `make test` relies on it to
/// run the hostile-guest suite on baseline code.
#[tokio::test]
async fn the_policy_can_come_from_the_environment() {
    let server = Server::hosted_with_env(&[], &[("DOCKET_COMPILE_TIERS", "baseline")]);
    let (_token, _key, body) = deploy_new(
        &server,
        "name = \"env\"\n",
        padded_message_module("from the environment", 10),
    )
    .await;
    assert_eq!(body["tier"], "baseline", "{body}");
}

/// A policy that is not one is refused at start, naming the choices.
#[test]
fn an_unknown_compile_policy_is_refused_naming_the_choices() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_docket"))
        .args([
            "serve",
            "--compile-tiers",
            "winch",
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("baseline,optimized") && stderr.contains("winch"),
        "{stderr}"
    );
}

/// `--max-instances` bounds both tiers' pools together: with one instance
/// allowed, a guest running on baseline code keeps one on optimized code
/// from starting, though each pool alone would hold one. (In process: which
/// tier serves a module in the server is a matter of timing.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instance_bound_holds_across_both_tiers() {
    use docket::engine::{Engine, EngineSettings, InvokeError, LimitHit, Tier};
    use docket::limits::Limits;
    let engine = Engine::new(EngineSettings {
        max_instances: 1,
        ..EngineSettings::default()
    })
    .unwrap();
    let spin = wat::parse_str(
        r#"(module (memory (export "memory") 1) (func (export "_start") (loop (br 0))))"#,
    )
    .unwrap();
    let abi = engine.check(&spin).unwrap();
    let baseline = engine.compile_checked(&spin, abi, Tier::Baseline).unwrap();
    let optimized = engine.compile_checked(&spin, abi, Tier::Optimized).unwrap();
    assert_eq!(
        (baseline.tier(), optimized.tier()),
        (Tier::Baseline, Tier::Optimized)
    );
    let limits = Limits {
        timeout_ms: 1_000,
        memory_mb: 16,
        fuel: 0,
        max_output_kb: 16,
        instance_reuse: 1,
    };
    let request = common::action_request("acme", "spin");
    let run = |module| {
        let deadline = Instant::now() + limits.timeout();
        engine.invoke(
            module,
            &limits,
            &request,
            Default::default(),
            None,
            deadline,
        )
    };
    let first = run(&baseline);
    let second = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        run(&optimized).await
    };
    let (first, second) = tokio::join!(first, second);
    assert!(
        matches!(first.result, Err(InvokeError::Limit(LimitHit::Timeout))),
        "{:?}",
        first.result.err()
    );
    assert!(
        matches!(second.result, Err(InvokeError::Busy)),
        "{:?}",
        second.result.err()
    );
    // Once the first ended, the slot is free again.
    let third = run(&optimized).await;
    assert!(matches!(
        third.result,
        Err(InvokeError::Limit(LimitHit::Timeout))
    ));
}

/// A command whose `_start` recurses `depth` deep through a function that
/// declares `locals` i64 locals it never uses, then answers success: Winch
/// gives each local a stack slot, Cranelift drops them.
fn deep_locals_module(depth: u32, locals: usize) -> Vec<u8> {
    let response = r#"{"status":"success","message":"deep"}"#;
    let escaped = response.replace('"', "\\\"");
    let declared = vec!["i64"; locals].join(" ");
    let wat = format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 512) "{escaped}")
  (func $deep (param i32) (result i32) (local {declared})
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 0))
      (else (i32.add (call $deep (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))))
  (func (export "_start")
    (drop (call $deep (i32.const {depth})))
    (i32.store (i32.const 300) (i32.const 512))
    (i32.store (i32.const 304) (i32.const {len}))
    (drop (call $fd_write (i32.const 1) (i32.const 300) (i32.const 1) (i32.const 320)))))"#,
        len = response.len()
    );
    wat::parse_str(wat).unwrap()
}

/// A guest that fits in the stack on optimized code fits on baseline code
/// too, though Winch's frames are far larger (a stack slot per declared
/// local): 120 frames of 2,000 locals each answered 500 "stack limit" on
/// Winch and 200 on Cranelift before the baseline tier got its headroom.
/// Each run record names the tier that answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_frames_answer_the_same_on_both_tiers() {
    for tier in ["baseline", "optimized"] {
        let server = Server::hosted(&["--compile-tiers", tier]);
        let (token, key, deployed) =
            deploy_new(&server, "name = \"deep\"\n", deep_locals_module(120, 2000)).await;
        assert_eq!(deployed["tier"], tier, "{deployed}");
        let (status, body) = server.call("acme", "deep", &key).await;
        assert_eq!(
            (status, &body["message"]),
            (200, &json!("deep")),
            "{tier}: {body}"
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        let record = loop {
            let (_, listed) = server
                .admin("GET", "/tenants/acme/invocations", Some(&token), None)
                .await;
            if let Some(record) = listed["invocations"].get(0) {
                break record.clone();
            }
            assert!(Instant::now() < deadline, "no run record");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(record["tier"], tier, "{record}");
    }
}
