//! The provider contract through the real binary, with a provider that
//! misbehaves on purpose (`tests/guests/provider-probe`, a component
//! exporting only `metadata`, `files` and `download`) and a command module
//! provider written in WAT: what Workfront gets when a provider crashes,
//! refuses, loops or lies about a download's size, what a provider is
//! given (the user, the parameters Docket does not read, its config, the
//! paging as Workfront sent it, clamped), and what the run log keeps.

mod common;

use common::documents::{Workfront, titles};
use common::{Server, built_guest};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The probe's manifest: a short time limit for `metadata("loop")`.
const PROBE: &str = r#"
name = "probe"
kind = "provider"
[limits]
timeout-ms = 1000
[config]
colour = "blue"
"#;

/// The tenant's own failure word, set over the admin API.
const WORD: &str = "oops";

/// A tenant `acme` with failure word [`WORD`] and the probe as its provider.
async fn acme_with_probe(server: &Server) -> (String, Workfront) {
    let (token, key) = server.create_tenant("acme", json!({})).await;
    let (status, body) = server
        .admin(
            "PATCH",
            "/tenants/acme",
            Some(&token),
            Some(json!({ "failureWord": WORD })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .deploy("acme", &token, PROBE, built_guest("provider-probe"))
        .await;
    assert_eq!(status, 201, "{body}");
    (token, Workfront::new(&server.base, "acme", &key))
}

/// Calls `metadata?id=` with `extra` parameters; status, body and the
/// `X-Request-Id` of the answer.
async fn metadata(wf: &Workfront, id: &str, extra: &[(&str, &str)]) -> (u16, Value, String) {
    let params: Vec<(&str, &str)> = [("id", id)]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    let raw = wf.call("GET", "metadata", &params, None).await;
    let request_id = raw.headers["x-request-id"].to_str().unwrap().to_owned();
    (raw.status, raw.json(), request_id)
}

#[tokio::test]
async fn a_misbehaving_provider_gets_the_contracts_answers() {
    let server = Server::hosted(&[]);
    let (token, wf) = acme_with_probe(&server).await;
    assert_eq!(
        wf.endpoints().await,
        [
            "serviceInfo",
            "customAction",
            "metadata",
            "files",
            "download"
        ]
    );

    // A panic is a 500 in the tenant's failure word, naming the request.
    let (status, body, crash_id) = metadata(&wf, "crash", &[]).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["status"], WORD, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains(&crash_id),
        "{error} does not name {crash_id}"
    );
    assert!(error.contains("probe"), "{error}");

    // Refusals keep their status and the provider's message.
    let (status, body, _) = metadata(&wf, "secret", &[]).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["status"], WORD, "{body}");
    assert!(body["error"].as_str().unwrap().contains("keeps"), "{body}");
    let (status, body, _) = metadata(&wf, "missing", &[]).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["status"], WORD, "{body}");

    // A provider that never answers is stopped at its time limit.
    let started = Instant::now();
    let (status, body, loop_id) = metadata(&wf, "loop", &[]).await;
    assert_eq!(status, 500, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("time limit"), "{error}");
    assert!(error.contains(&loop_id), "{error}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // What the provider is given: the user (unverified: ApiKey mode), the
    // query parameters Docket does not read itself, its config.
    let (status, body, ctx_id) = metadata(&wf, "ctx", &[("access_type", "offline")]).await;
    assert_eq!(status, 200, "{body}");
    let ctx: Value = serde_json::from_str(body["title"].as_str().unwrap()).unwrap();
    assert_eq!(ctx["username"], "jane.doe", "{ctx}");
    assert_eq!(ctx["usernameVerified"], false, "{ctx}");
    assert_eq!(ctx["params"], json!({ "access_type": "offline" }), "{ctx}");
    assert_eq!(ctx["config"]["colour"], "blue", "{ctx}");
    assert_eq!(ctx["tenant"], "acme", "{ctx}");
    assert_eq!(ctx["requestId"], ctx_id.as_str(), "{ctx}");

    // Paging reaches the provider as given; `max` is 100 when missing, at
    // most 1,000, at least 1; a negative offset is the start.
    let page = wf.titles("/p", "3", "7").await;
    assert_eq!(page, ["7", "8", "9"]);
    let (_, listed) = wf.get("files", &[("parentId", "/p"), ("max", "2")]).await;
    assert_eq!(listed[0]["id"], "/p/0", "{listed}");
    let (status, all) = wf.get("files", &[("max", "5000")]).await;
    assert_eq!(status, 200);
    assert_eq!(titles(&all).len(), 1000);
    let (_, default) = wf.get("files", &[("parentId", "/")]).await;
    assert_eq!(titles(&default).len(), 100);
    assert_eq!(wf.titles("/", "0", "-3").await, ["0"]);

    // An honest download; then one that declares 10 bytes and writes 5 does
    // not complete cleanly: the client sees a broken or short body.
    let honest = wf.call("GET", "download", &[("id", "fine")], None).await;
    assert_eq!(honest.status, 200);
    assert_eq!(honest.bytes, b"hello");
    let sent = reqwest::Client::new()
        .get(format!("{}/download", wf.base))
        .query(&[("id", "liar")])
        .header("apiKey", &wf.key)
        .send()
        .await;
    // The connection is cut: before the head reached the client (hyper
    // still held it with the first bytes), or in the body.
    if let Ok(response) = sent {
        assert_eq!(response.status(), 200, "the head goes before the bytes");
        assert_eq!(response.content_length(), Some(10));
        if let Ok(bytes) = response.bytes().await {
            assert!(bytes.len() < 10, "a clean body of {} bytes", bytes.len());
        }
    }

    // An endpoint the probe does not export is 501.
    let raw = wf
        .call("GET", "thumbnail", &[("id", "fine"), ("size", "16")], None)
        .await;
    assert_eq!(raw.status, 501, "{}", String::from_utf8_lossy(&raw.bytes));
    assert!(raw.json()["error"].as_str().unwrap().contains("thumbnail"));

    // The run log records each call under the provider's name.
    for (request_id, outcome) in [
        (&crash_id, "trap"),
        (&loop_id, "limit"),
        (&ctx_id, "success"),
    ] {
        let record = record(&server, &token, request_id).await;
        assert_eq!(record["action"], "probe", "{record}");
        assert_eq!(record["outcome"], outcome, "{record}");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, listed) = server
            .admin(
                "GET",
                "/tenants/acme/invocations?limit=1000",
                Some(&token),
                None,
            )
            .await;
        let records = listed["invocations"].as_array().unwrap();
        // crash, secret, missing, loop, ctx, 5 pages, 2 downloads (the 501 never ran).
        if records.len() >= 12 {
            assert!(records.iter().all(|r| r["action"] == "probe"), "{listed}");
            break;
        }
        assert!(Instant::now() < deadline, "only {} records", records.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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

/// A WASI command module that prints `answer` (the command ABI's response).
fn printing(answer: &str) -> Vec<u8> {
    let escaped = answer.replace('\\', "\\\\").replace('"', "\\\"");
    let wat = format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "{escaped}")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const {len}))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#,
        len = answer.len()
    );
    wat::parse_str(wat).unwrap()
}

#[tokio::test]
async fn a_command_module_provider_answers_what_it_lists_and_never_streams() {
    let server = Server::hosted(&[]);
    let (token, key) = server.create_tenant("acme", json!({})).await;
    let answer = r#"{"status":"success","documents":[{"id":"1","title":"a.txt","kind":"file","size":3},{"id":"2","title":"Old","kind":"folder"}]}"#;
    let manifest = "name = \"lister\"\nkind = \"provider\"\nendpoints = [\"files\"]\n";
    let (status, body) = server
        .deploy("acme", &token, manifest, printing(answer))
        .await;
    assert_eq!(status, 201, "{body}");
    let wf = Workfront::new(&server.base, "acme", &key);
    assert_eq!(
        wf.endpoints().await,
        ["serviceInfo", "customAction", "files"]
    );
    let (status, listed) = wf.get("files", &[("parentId", "/")]).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(
        listed,
        json!([
            { "id": "1", "title": "a.txt", "kind": "file", "size": 3 },
            { "id": "2", "title": "Old", "kind": "folder" },
        ])
    );
    let (status, body) = wf.get("metadata", &[("id", "1")]).await;
    assert_eq!(status, 501, "{body}");

    // Download and upload stream bodies: a command module may not list them.
    let streaming =
        "name = \"lister\"\nkind = \"provider\"\nendpoints = [\"files\", \"download\"]\n";
    let (status, body) = server
        .deploy("acme", &token, streaming, printing(answer))
        .await;
    assert_eq!(status, 400, "{body}");
    let text = body.to_string();
    assert!(
        text.contains("download") && text.contains("component ABI"),
        "{text}"
    );
}
