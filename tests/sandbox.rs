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

/// Guest pointers given to Docket's own imports are bounds-checked: reading an
/// operation or writing a reply outside the guest's memory stops the guest.
#[tokio::test]
async fn host_call_pointers_outside_guest_memory_stop_the_guest() {
    let manifests = Manifests::new();
    manifests
        .action("acme", "hello", &guest("hello"), "")
        .action("acme", "read-oob", &guest("host_call_read_oob"), "")
        .action("acme", "write-oob", &guest("host_reply_write_oob"), "");
    let server = Server::start(manifests.path(), &["acme"]);
    for action in ["read-oob", "write-oob"] {
        assert_stopped(&server, action, "crashed: out of bounds memory access").await;
    }
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

fn more_hostile() -> Manifests {
    let manifests = hostile();
    manifests
        .action("acme", "table-bomb", &guest("table_bomb"), "")
        .action(
            "acme",
            "sleep",
            &guest("sleep"),
            "[limits]\ntimeout-ms = 300\n",
        )
        .action("acme", "stderr-flood", &guest("stderr_flood"), "")
        .action("acme", "bad-utf8", &guest("bad_utf8"), "")
        .action("acme", "probe", &common::built_guest("sandbox-probe"), "")
        .action("acme", "http-probe", &common::built_guest("http-probe"), "")
        .action(
            "acme",
            "tiny-output",
            &common::example_action("review-gate"),
            "[limits]\nmax-output-kb = 1\n[config]\nreviewers = \"jane.doe\"\n",
        );
    manifests
}

/// Growing a table past the engine's element limit stops the guest.
#[tokio::test]
async fn table_bomb_is_stopped_at_the_table_limit() {
    let manifests = more_hostile();
    let server = Server::start(manifests.path(), &["acme"]);
    assert_stopped(&server, "table-bomb", "was stopped at its table limit").await;
}

/// A guest waiting in the host (a long sleep) is stopped at its timeout too.
#[tokio::test]
async fn sleeping_in_the_host_is_stopped_at_the_timeout() {
    let manifests = more_hostile();
    let server = Server::start(manifests.path(), &["acme"]);
    assert_stopped(
        &server,
        "sleep",
        "was stopped at its time limit (timeout-ms = 300)",
    )
    .await;
}

/// Megabytes of stderr are truncated, not fatal; the last line still explains the failure.
#[tokio::test]
async fn huge_stderr_is_truncated_and_its_last_line_kept() {
    let manifests = more_hostile();
    let server = Server::start(manifests.path(), &["acme"]);
    let (status, body) = server.custom_action("acme", "stderr-flood", "").await;
    assert_eq!(status, 500);
    assert_eq!(body["error"], "gave up after all that noise");
    assert_eq!(server.custom_action("acme", "hello", "").await.0, 200);
}

/// Bytes that are not UTF-8 on stdout break the contract and say so.
#[tokio::test]
async fn invalid_utf8_stdout_is_an_invalid_response() {
    let manifests = more_hostile();
    let server = Server::start(manifests.path(), &["acme"]);
    assert_stopped(
        &server,
        "bad-utf8",
        "gave an invalid response: stdout is not UTF-8",
    )
    .await;
}

/// Inside the guest, files, directories, environment and sockets are all denied.
#[tokio::test]
async fn files_directories_environment_and_sockets_are_denied_inside_the_guest() {
    let manifests = more_hostile();
    let server = Server::start(manifests.path(), &["acme"]);
    let (status, body) = server.custom_action("acme", "probe", "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["message"],
        "read-file=denied list-root=denied list-cwd=denied create-file=denied socket=denied env=0 args=probe"
    );
}

/// An outbound wasi:http call without a grant fails inside the guest, naming the manifest key.
#[tokio::test]
async fn ungranted_outbound_http_fails_inside_the_guest_naming_the_grant() {
    let manifests = more_hostile();
    let server = Server::start(manifests.path(), &["acme"]);
    let (status, body) = server.custom_action("acme", "http-probe", "").await;
    assert_eq!(status, 500, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.starts_with("denied: ErrorCode::InternalError"),
        "{error}"
    );
    assert!(error.contains("allowed-outbound-hosts"), "{error}");
    assert!(error.contains("127.0.0.1"), "{error}");
}

/// A component's answer over `max-output-kb` is refused as an output-limit hit.
#[tokio::test]
async fn component_answer_over_the_output_limit_is_refused() {
    let manifests = more_hostile();
    let server = Server::start(manifests.path(), &["acme"]);
    let long_stage = "x".repeat(2000);
    let (status, body) = server
        .custom_action("acme", "tiny-output", &format!("&stage={long_stage}"))
        .await;
    assert_eq!(status, 500, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("was stopped at its output limit (max-output-kb = 1)"),
        "{error}"
    );
}

/// SIGTERM lets an in-flight invocation finish and answer, then the server exits cleanly.
#[tokio::test]
async fn sigterm_drains_in_flight_invocations() {
    let manifests = Manifests::new();
    manifests.action(
        "acme",
        "spin",
        &guest("loop"),
        "[limits]\ntimeout-ms = 800\n",
    );
    let mut server = Server::start(manifests.path(), &["acme"]);
    let call = server.custom_action("acme", "spin", "");
    let terminate = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        server.signal("TERM");
    };
    let ((status, body), ()) = tokio::join!(call, terminate);
    assert_eq!(status, 500);
    assert!(
        body["error"].as_str().unwrap().contains("time limit"),
        "{body}"
    );
    let exit = server.wait_for_exit(std::time::Duration::from_secs(10));
    assert_eq!(exit.and_then(|s| s.code()), Some(0), "{}", server.stderr());
}
