//! Example actions in languages other than Rust, through the real binary: each
//! succeeds, fails with each kind from its own logic, and a crash is a clean 500.
//! One submodule per language in `languages/`; the examples are built by
//! `make actions` from `actions-wasm/<language>-<name>/`.

mod common;

#[path = "languages/assemblyscript.rs"]
mod assemblyscript;
#[path = "languages/go.rs"]
mod go;
#[path = "languages/js.rs"]
mod js;
#[path = "languages/python.rs"]
mod python;
#[path = "languages/zig.rs"]
mod zig;

use common::{DOC, KEY, Manifests, Server, VER, example_action};

async fn call(
    server: &Server,
    action: &str,
    user: &str,
    doc: &str,
    extra: &str,
) -> (u16, serde_json::Value) {
    let path = format!(
        "/t/acme/customAction?name={action}&documentId={doc}&documentVersionId={VER}{extra}"
    );
    server
        .get(&path, &[("apiKey", KEY), ("username", user)])
        .await
}

/// Asserts a 500 whose error contains `expected`: how a crash reads for Workfront.
fn assert_crashed(status: u16, body: &serde_json::Value, expected: &str) {
    assert_eq!(status, 500, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(error.contains(expected), "{body}");
}

/// C (command ABI, guest-sdk/c/docket.h): `c-intake`.
#[tokio::test]
async fn c_action_succeeds_fails_by_kind_and_survives_a_trap() {
    let manifests = Manifests::new();
    manifests.action(
        "acme",
        "c-intake",
        &example_action("c-intake"),
        "[config]\nsubmitters = \"jane.doe, ann\"\nqueue = \"Legal intake\"\n",
    );
    let server = Server::start(manifests.path(), &["acme"]);

    let (status, body) = call(&server, "c-intake", "jane.doe", DOC, "&priority=high").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["message"],
        format!(
            "Queued version {VER} of document {DOC} in Legal intake with high priority for jane.doe"
        )
    );
    let (status, body) = call(&server, "c-intake", "eve", DOC, "").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("eve may not submit documents to intake"))
    );
    let (status, body) = call(&server, "c-intake", "ann", "nope", "").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("document \"nope\" not found"))
    );
    // A value with quotes and backslashes round-trips through the C JSON helper.
    let (status, body) = call(&server, "c-intake", "ann", DOC, "&priority=%22urgent%5C").await;
    assert_eq!(status, 500);
    assert_eq!(
        body["error"],
        "unknown priority \"\"urgent\\\"; use low, normal or high"
    );
    let (status, body) = call(&server, "c-intake", "ann", DOC, "&crash=1").await;
    assert_crashed(status, &body, "crashed: wasm trap");
    assert_eq!(call(&server, "c-intake", "ann", DOC, "").await.0, 200);
}
