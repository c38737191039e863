use super::call;
use crate::common::{DOC, Manifests, Server, VER, example_action};

/// Zig (command ABI, guest-sdk/zig/docket.zig): `zig-docid`.
#[tokio::test]
async fn zig_action_succeeds_fails_by_kind_and_survives_a_trap() {
    let manifests = Manifests::new();
    manifests.action(
        "acme",
        "zig-docid",
        &example_action("zig-docid"),
        "[config]\nblocked-users = \"eve, mallory\"\nchecksum-length = 8\n",
    );
    let server = Server::start(manifests.path(), &["acme"]);

    let (status, body) = call(&server, "zig-docid", "jane.doe", DOC, "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["message"],
        format!("document {DOC} version {VER} is valid (checked for jane.doe)")
    );
    let (status, body) = call(&server, "zig-docid", "jane.doe", DOC, "&checksum=0badC0de").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["message"],
        format!(
            "document {DOC} version {VER} is valid with checksum 0badC0de (checked for jane.doe)"
        )
    );
    let (status, body) = call(&server, "zig-docid", "mallory", DOC, "").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("mallory is blocked from validating documents"))
    );
    let (status, body) = call(&server, "zig-docid", "", DOC, "").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            403,
            Some("an anonymous user may not validate documents; sign in to Workfront")
        )
    );
    let (status, body) = call(
        &server,
        "zig-docid",
        "jane.doe",
        "5F0C8E2A9B1D4C3E8F7A6B5C4D3E2F10",
        "",
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            404,
            Some(
                "document \"5F0C8E2A9B1D4C3E8F7A6B5C4D3E2F10\" not found: \
                 a Workfront id is 32 lowercase hexadecimal characters"
            )
        )
    );
    let (status, body) = call(&server, "zig-docid", "jane.doe", DOC, "&checksum=0badc0dZ").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            500,
            Some("checksum \"0badc0dZ\" is not hexadecimal: 'Z' at position 8")
        )
    );
    // Values with quotes and backslashes round-trip through std.json and the helper.
    let (status, body) = call(&server, "zig-docid", "jane.doe", DOC, "&checksum=%22ab%5C").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            500,
            Some("checksum \"\"ab\\\" has 4 characters; expected 8 hexadecimal characters")
        )
    );
    let (status, body) = call(&server, "zig-docid", "o\"neil\\x", DOC, "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["message"],
        format!("document {DOC} version {VER} is valid (checked for o\"neil\\x)")
    );
    let (status, body) = call(&server, "zig-docid", "jane.doe", DOC, "&crash=1").await;
    assert_eq!(status, 500);
    assert!(
        body["error"].as_str().unwrap().contains("crashed"),
        "{body}"
    );
    assert_eq!(call(&server, "zig-docid", "jane.doe", DOC, "").await.0, 200);
}
