//! What one run-log record keeps, through the real binary: the action's
//! stderr, its outbound requests (never their URLs, headers or bodies), the
//! timing split, the answer and the recorded input (off when the manifest
//! says so); a version's manifest and module for its tenant only; and
//! `docket replay`, which reruns a recorded request on this machine.

mod common;

use axum::routing::get;
use common::{DOC, Server, VER, built_guest, guest, message_module};
use serde_json::Value;
use std::time::{Duration, Instant};

/// A real HTTP server on 127.0.0.1 for the actions' outbound requests.
async fn remote() -> u16 {
    let app = axum::Router::new()
        .route("/hello", get(|| async { "hello from remote" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "too late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Calls `action` of `acme` with `extra` appended to the query; returns
/// (status, request id, body).
async fn call(server: &Server, key: &str, action: &str, extra: &str) -> (u16, String, Value) {
    let path = format!(
        "/t/acme/customAction?name={action}&documentId={DOC}&documentVersionId={VER}{extra}"
    );
    let (status, request_id, body) = server
        .get_with_request_id(&path, &[("apiKey", key), ("username", "jane.doe")])
        .await;
    (status, request_id.expect("an X-Request-Id"), body)
}

/// The record of `request_id`, once written (records leave in batches).
async fn record(server: &Server, token: &str, request_id: &str) -> Value {
    let path = format!("/tenants/acme/invocations?requestId={request_id}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, body) = server.admin("GET", &path, Some(token), None).await;
        assert_eq!(status, 200, "{body}");
        if let Some(found) = body["invocations"].as_array().unwrap().first() {
            return found.clone();
        }
        assert!(Instant::now() < deadline, "no record of {request_id}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Deploys `fetch` (outbound to the remote), `noisy` (fails with stderr) and
/// `quiet` (like fetch, inputs not recorded) for a new tenant `acme`;
/// returns (admin token, webhook key).
async fn acme(server: &Server, port: u16) -> (String, String) {
    let (token, key) = server.create_tenant("acme", serde_json::json!({})).await;
    let grant = format!("[capabilities]\nallowed-outbound-hosts = [\"http://127.0.0.1:{port}\"]\n");
    let deploys = [
        (
            format!("name = \"fetch\"\n{grant}"),
            built_guest("sandbox-probe"),
        ),
        ("name = \"noisy\"\n".to_owned(), guest("exit_with_stderr")),
        (
            format!("name = \"quiet\"\n{grant}[run-log]\nrecord-inputs = false\n"),
            built_guest("sandbox-probe"),
        ),
        (
            format!("name = \"hang\"\n[limits]\ntimeout-ms = 1000\n{grant}"),
            built_guest("sandbox-probe"),
        ),
    ];
    for (manifest, module) in deploys {
        let (status, body) = server.deploy("acme", &token, &manifest, module).await;
        assert_eq!(status, 201, "{manifest}: {body}");
    }
    (token, key)
}

/// A record keeps stderr, outbound summaries without URL paths or queries,
/// a timing split within the duration, the answer Workfront got and the
/// input; an action that turns input recording off has none.
#[tokio::test]
async fn a_record_keeps_stderr_outbound_calls_timing_answer_and_input() {
    let port = remote().await;
    let server = Server::hosted(&["--allow-private-outbound"]);
    let (token, key) = acme(&server, port).await;
    let url = format!("http://127.0.0.1:{port}/hello?token=query-credential-1234");
    let query = format!("&url={}&folder=Inbox", encode(&url));

    let (status, request_id, body) = call(&server, &key, "fetch", &query).await;
    assert_eq!(status, 200, "{body}");
    let fetched = record(&server, &token, &request_id).await;
    assert_eq!(fetched["outcome"], "success");
    let calls = fetched["outbound"].as_array().unwrap();
    assert_eq!(calls.len(), 1, "{fetched}");
    assert_eq!(calls[0]["method"], "GET");
    assert_eq!(calls[0]["host"], "127.0.0.1");
    assert_eq!(calls[0]["status"], 200);
    assert_eq!(calls[0]["outcome"], "allowed");
    assert!(calls[0]["ms"].is_u64(), "{fetched}");
    assert!(
        !calls[0].to_string().contains("query-credential")
            && !calls[0].to_string().contains("/hello"),
        "an outbound summary keeps no path or query: {fetched}"
    );
    let timing = &fetched["timing"];
    let part = |name: &str| {
        timing[name]
            .as_f64()
            .unwrap_or_else(|| panic!("{name}: {fetched}"))
    };
    let (instantiate, run) = (part("instantiateMs"), part("runMs"));
    assert!(
        part("queueMs") >= 0.0 && instantiate > 0.0 && run > 0.0,
        "{fetched}"
    );
    let ms = fetched["ms"].as_f64().unwrap();
    assert!(
        instantiate + run <= ms + 1.0,
        "the split is within the duration: {fetched}"
    );
    assert_eq!(fetched["answer"]["status"], 200);
    assert_eq!(fetched["answer"]["body"], body, "the answer Workfront got");
    let input = &fetched["input"];
    assert_eq!(
        (
            &input["documentId"],
            &input["documentVersionId"],
            &input["username"]
        ),
        (
            &Value::from(DOC),
            &Value::from(VER),
            &Value::from("jane.doe")
        )
    );
    assert_eq!(input["params"]["url"], url.as_str());
    assert_eq!(input["params"]["folder"], "Inbox");
    assert!(input["params"].get("name").is_none(), "{fetched}");

    // Off the allow-list: the request is refused before it leaves, and
    // recorded as denied, with no status.
    let elsewhere = format!("&url={}", encode(&format!("http://localhost:{port}/hello")));
    let (status, request_id, _) = call(&server, &key, "fetch", &elsewhere).await;
    assert_eq!(status, 500);
    let denied = record(&server, &token, &request_id).await;
    assert_eq!(denied["outbound"][0]["outcome"], "denied", "{denied}");
    assert_eq!(denied["outbound"][0]["host"], "localhost", "{denied}");
    assert!(denied["outbound"][0]["status"].is_null(), "{denied}");

    // Still on its way when the time limit stopped the action: an error.
    let slow = format!("&url={}", encode(&format!("http://127.0.0.1:{port}/slow")));
    let (status, request_id, _) = call(&server, &key, "hang", &slow).await;
    assert_eq!(status, 500);
    let hung = record(&server, &token, &request_id).await;
    assert_eq!(hung["limitHit"], "time limit", "{hung}");
    assert_eq!(hung["outbound"][0]["outcome"], "error", "{hung}");
    assert!(hung["outbound"][0]["status"].is_null(), "{hung}");
    assert!(hung["outbound"][0]["ms"].as_u64().unwrap() > 0, "{hung}");

    let (status, request_id, body) = call(&server, &key, "noisy", "").await;
    assert_eq!(status, 500, "{body}");
    let noisy = record(&server, &token, &request_id).await;
    assert_eq!(noisy["stderr"], "something went wrong\n", "{noisy}");
    assert_eq!(noisy["answer"]["status"], 500);
    assert_eq!(noisy["outbound"], serde_json::json!([]));

    let (status, request_id, body) = call(&server, &key, "quiet", &query).await;
    assert_eq!(status, 200, "{body}");
    let quiet = record(&server, &token, &request_id).await;
    assert!(quiet.get("input").is_none(), "recording is off: {quiet}");
    assert_eq!(quiet["outbound"][0]["status"], 200, "{quiet}");
    assert!(!quiet.to_string().contains("Inbox"), "{quiet}");
}

/// A version's manifest and module: its tenant reads them (the manifest
/// says what the version runs under, the module is the bytes deployed);
/// another tenant's token gets 403; bad and unknown versions are refused.
#[tokio::test]
async fn a_versions_manifest_and_module_are_its_tenants_only() {
    let server = Server::hosted(&[]);
    let (token, _) = server.create_tenant("acme", serde_json::json!({})).await;
    let (other, _) = server.create_tenant("globex", serde_json::json!({})).await;
    let module = message_module("version one");
    let manifest = "name = \"greet\"\ndisplay-name = \"Greet\"\n[limits]\ntimeout-ms = 1234\n\
                    [run-log]\nrecord-inputs = false\n[config]\nfolder = \"Archive\"\n";
    let (status, body) = server
        .deploy("acme", &token, manifest, module.clone())
        .await;
    assert_eq!(status, 201, "{body}");

    let path = "/tenants/acme/actions/greet/versions/1";
    let (status, version) = server.admin("GET", path, Some(&token), None).await;
    assert_eq!(status, 200, "{version}");
    assert_eq!(
        (&version["name"], &version["version"]),
        (&"greet".into(), &1.into())
    );
    assert_eq!(version["abi"], "command");
    let (_, listed) = server
        .admin(
            "GET",
            "/tenants/acme/actions/greet/versions",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(version["hash"], listed["versions"][0]["hash"]);
    let text = version["manifest"].as_str().unwrap();
    let parsed: toml::Table = toml::from_str(text).unwrap();
    assert_eq!(parsed["display-name"].as_str(), Some("Greet"), "{text}");
    assert_eq!(
        parsed["limits"]["timeout-ms"].as_integer(),
        Some(1234),
        "{text}"
    );
    assert_eq!(
        parsed["run-log"]["record-inputs"].as_bool(),
        Some(false),
        "{text}"
    );
    assert_eq!(
        parsed["config"]["folder"].as_str(),
        Some("Archive"),
        "{text}"
    );

    let bytes = reqwest::Client::new()
        .get(format!("{}/admin/v1{path}/module", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bytes.status(), 200);
    assert_eq!(bytes.headers()["content-type"], "application/wasm");
    assert_eq!(bytes.bytes().await.unwrap().to_vec(), module);

    for route in [path.to_owned(), format!("{path}/module")] {
        let (status, body) = server.admin("GET", &route, Some(&other), None).await;
        assert_eq!(status, 403, "{route}: {body}");
    }
    for (route, expected) in [
        ("/tenants/acme/actions/greet/versions/2", 404),
        ("/tenants/acme/actions/greet/versions/0", 400),
        ("/tenants/acme/actions/greet/versions/one/module", 400),
        ("/tenants/acme/actions/nope/versions/1/module", 404),
    ] {
        let (status, body) = server.admin("GET", route, Some(&token), None).await;
        assert_eq!(status, expected, "{route}: {body}");
        assert!(body["error"].is_string(), "{route}: {body}");
    }
}

/// Runs `docket replay` against `server`; returns (exit success, stdout +
/// stderr). On a blocking thread: the remote it calls runs on this runtime.
async fn replay(server: &Server, token: &str, args: &[&str]) -> (bool, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_docket"));
    command
        .arg("replay")
        .args(args)
        .args(["--server", &server.base, "--allow-private-outbound"])
        .env("DOCKET_TOKEN", token)
        // Compiled modules cached under the target directory, not the user's.
        .env(
            "DOCKET_CACHE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/replay-artifacts"),
        );
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// `docket replay` reruns a recorded request, outbound call included,
/// against the version that ran and gets the recorded answer; against a
/// different local build the answers differ (exit 1); an invocation whose
/// input was not recorded cannot be replayed, and says why.
#[tokio::test]
async fn docket_replay_reproduces_the_recorded_answer() {
    let port = remote().await;
    let server = Server::hosted(&["--allow-private-outbound"]);
    let (token, key) = acme(&server, port).await;
    // Failures are worded with the tenant's own word, in a replay too.
    let word = serde_json::json!({"failureWord": "error"});
    let (status, body) = server
        .admin("PATCH", "/tenants/acme", Some(&token), Some(word))
        .await;
    assert_eq!(status, 200, "{body}");
    let query = format!("&url={}", encode(&format!("http://127.0.0.1:{port}/hello")));
    let (status, fetched, body) = call(&server, &key, "fetch", &query).await;
    assert_eq!(status, 200, "{body}");
    let (status, failed, body) = call(&server, &key, "noisy", "").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (500, Some("error")),
        "{body}"
    );
    let (_, quiet, _) = call(&server, &key, "quiet", &query).await;
    for request_id in [&fetched, &failed, &quiet] {
        record(&server, &token, request_id).await;
    }

    let (same, output) = replay(&server, &token, &["acme", &fetched]).await;
    assert!(same, "{output}");
    assert!(output.contains("same answer"), "{output}");
    assert!(
        output.contains("status 200 body hello from remote"),
        "{output}"
    );
    assert!(output.contains("→ GET 127.0.0.1 200"), "{output}");

    let (same, output) = replay(&server, &token, &["acme", &failed]).await;
    assert!(same, "a failure replays as the same failure: {output}");
    assert!(output.contains("HTTP 500"), "{output}");

    let build = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(build.path(), message_module("fixed")).unwrap();
    let module = build.path().to_str().unwrap();
    let (same, output) = replay(&server, &token, &["acme", &failed, "--module", module]).await;
    assert!(!same, "{output}");
    assert!(output.contains("the answers differ"), "{output}");
    assert!(output.contains(r#""message":"fixed""#), "{output}");

    let (ok, output) = replay(&server, &token, &["acme", &quiet]).await;
    assert!(!ok, "{output}");
    assert!(output.contains("record-inputs = false"), "{output}");
    let (ok, output) = replay(&server, &token, &["acme", "no-such-request"]).await;
    assert!(!ok, "{output}");
    assert!(output.contains("no invocation with request id"), "{output}");
}

/// `--tenant-max-invocation-records`: each tenant keeps only its newest
/// records; another tenant's do not count against it.
#[tokio::test]
async fn each_tenant_keeps_its_newest_records_up_to_the_operators_count() {
    let server = Server::hosted(&["--tenant-max-invocation-records", "3"]);
    let (token, key) = server.create_tenant("acme", serde_json::json!({})).await;
    let (other, other_key) = server.create_tenant("globex", serde_json::json!({})).await;
    for (tenant, admin) in [("acme", &token), ("globex", &other)] {
        let (status, body) = server
            .deploy(tenant, admin, "name = \"greet\"\n", message_module("hi"))
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (_, tenant) = server
        .admin("GET", "/tenants/acme", Some(&token), None)
        .await;
    assert_eq!(tenant["quotas"]["maxInvocationRecords"], 3, "{tenant}");
    let mut ids = Vec::new();
    for _ in 0..5 {
        let path =
            format!("/t/acme/customAction?name=greet&documentId={DOC}&documentVersionId={VER}");
        let (status, request_id, _) = server.get_with_request_id(&path, &[("apiKey", &key)]).await;
        assert_eq!(status, 200);
        ids.push(request_id.unwrap());
        // One batch per call, so pruning runs as records arrive.
        record(&server, &token, ids.last().unwrap()).await;
    }
    assert_eq!(server.call("globex", "greet", &other_key).await.0, 200);
    let (_, listed) = server
        .admin("GET", "/tenants/acme/invocations", Some(&token), None)
        .await;
    let kept: Vec<&str> = listed["invocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["requestId"].as_str().unwrap())
        .collect();
    let newest: Vec<&str> = ids.iter().rev().take(3).map(String::as_str).collect();
    assert_eq!(kept, newest);
}
