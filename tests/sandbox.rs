//! Hostile and broken modules are stopped at their limits with a clear message,
//! and the server keeps answering.

mod common;

use common::{Manifests, Server, guest};

/// Every hostile guest under one tenant, with tight limits so the suite is quick.
fn hostile() -> Manifests {
    let manifests = Manifests::new();
    manifests
        .action("acme", "hello", &guest("hello"), "")
        .action(
            "acme",
            "loop",
            &guest("loop"),
            "[limits]\ntimeout-ms = 300\n",
        )
        .action(
            "acme",
            "start-loop",
            &guest("start_loop"),
            "[limits]\ntimeout-ms = 300\n",
        )
        .action(
            "acme",
            "fuel-loop",
            &guest("loop"),
            "[limits]\nfuel = 1000000\n",
        )
        .action(
            "acme",
            "memory-bomb",
            &guest("memory_bomb"),
            "[limits]\nmemory-mb = 16\n",
        )
        .action(
            "acme",
            "stdout-flood",
            &guest("stdout_flood"),
            "[limits]\nmax-output-kb = 100\n",
        )
        .action("acme", "trap", &guest("trap"), "")
        .action("acme", "recursion", &guest("recursion"), "")
        .action("acme", "bad-json", &guest("bad_json"), "");
    manifests
}

/// Calls `action` and asserts a 500 whose message contains `expected`, then that
/// a normal action still answers.
async fn assert_stopped(server: &Server, action: &str, expected: &str) {
    let (status, body) = server.custom_action("acme", action, "").await;
    assert_eq!(status, 500, "{action}: {body}");
    assert_eq!(body["status"], "failure");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains(expected),
        "{action}: {error:?} should contain {expected:?}"
    );
    assert!(error.contains("(request id "), "{action}: {error}");
    let (status, body) = server.custom_action("acme", "hello", "").await;
    assert_eq!(status, 200, "after {action}: {body}");
}

/// An infinite loop is stopped at its timeout.
#[tokio::test]
async fn infinite_loop_is_stopped_at_its_timeout() {
    let manifests = hostile();
    let server = Server::start(manifests.path(), &["acme"]);
    assert_stopped(
        &server,
        "loop",
        "was stopped at its time limit (timeout-ms = 300)",
    )
    .await;
}

/// A loop in the start function is stopped too: the deadline is set before instantiation.
#[tokio::test]
async fn loop_in_start_function_is_stopped_at_its_timeout() {
    let manifests = hostile();
    let server = Server::start(manifests.path(), &["acme"]);
    assert_stopped(
        &server,
        "start-loop",
        "was stopped at its time limit (timeout-ms = 300)",
    )
    .await;
}

/// With a fuel budget, a loop runs out of fuel before its timeout.
#[tokio::test]
async fn loop_with_a_fuel_budget_runs_out_of_fuel() {
    let manifests = hostile();
    let server = Server::start(manifests.path(), &["acme"]);
    assert_stopped(&server, "fuel-loop", "ran out of fuel (fuel = 1000000)").await;
}

/// Growing memory past the limit stops the guest and names the memory limit.
#[tokio::test]
async fn memory_bomb_is_stopped_at_its_memory_limit() {
    let manifests = hostile();
    let server = Server::start(manifests.path(), &["acme"]);
    assert_stopped(
        &server,
        "memory-bomb",
        "was stopped at its memory limit (memory-mb = 16)",
    )
    .await;
}

/// Flooding stdout is cut at the output limit.
#[tokio::test]
async fn stdout_flood_is_cut_at_its_output_limit() {
    let manifests = hostile();
    let server = Server::start(manifests.path(), &["acme"]);
    assert_stopped(
        &server,
        "stdout-flood",
        "was stopped at its output limit (max-output-kb = 100)",
    )
    .await;
}

/// A trap is a 500 naming the trap, not a crash of the server.
#[tokio::test]
async fn trap_is_reported_and_the_server_survives() {
    let manifests = hostile();
    let server = Server::start(manifests.path(), &["acme"]);
    assert_stopped(
        &server,
        "trap",
        "crashed: wasm trap: wasm `unreachable` instruction executed",
    )
    .await;
}

/// Unbounded recursion hits the stack limit.
#[tokio::test]
async fn deep_recursion_is_stopped_at_the_stack_limit() {
    let manifests = hostile();
    let server = Server::start(manifests.path(), &["acme"]);
    assert_stopped(&server, "recursion", "was stopped at its stack limit").await;
}

/// Output that is not JSON breaks the contract and says so.
#[tokio::test]
async fn non_json_stdout_is_an_invalid_response() {
    let manifests = hostile();
    let server = Server::start(manifests.path(), &["acme"]);
    assert_stopped(
        &server,
        "bad-json",
        "gave an invalid response: stdout is not a JSON response",
    )
    .await;
}

/// Several timeouts at once do not stall the server or each other.
#[tokio::test]
async fn simultaneous_timeouts_all_end_and_the_server_answers() {
    let manifests = hostile();
    let server = Server::start(manifests.path(), &["acme"]);
    let calls = (0..8).map(|_| server.custom_action("acme", "loop", ""));
    for (status, body) in futures::future::join_all(calls).await {
        assert_eq!(status, 500, "{body}");
        assert!(body["error"].as_str().unwrap().contains("time limit"));
    }
    let (status, _) = server.custom_action("acme", "hello", "").await;
    assert_eq!(status, 200);
}
