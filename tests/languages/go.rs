use super::call;
use crate::common::{DOC, Manifests, Server, example_action};

/// Go (command ABI, guest-sdk/go): `go-folder`.
#[tokio::test]
async fn go_action_succeeds_fails_by_kind_and_survives_a_trap() {
    let module = example_action("go-folder");
    let manifests = Manifests::new();
    manifests.action(
        "acme",
        "go-folder",
        &module,
        "[config]\nfolder-pattern = \"Contracts/{year}/{user}/{stage}\"\nallowed-domain = \"acme.com\"\n",
    );
    // The same module with a pattern that has quotes, a backslash and an unknown placeholder.
    manifests.action(
        "acme",
        "go-folder-odd",
        &module,
        "[config]\nfolder-pattern = 'Deals/{quarter}/\"Q\\4\"'\n",
    );
    let server = Server::start(manifests.path(), &["acme"]);
    let user = "jane.doe@acme.com";

    let (status, body) = call(&server, "go-folder", user, DOC, "&stage=legal").await;
    assert_eq!(status, 200, "{body}");
    let message = body["message"].as_str().unwrap();
    // {year} is the current UTC year.
    let year = message
        .strip_prefix(&format!("Filed document {DOC} under Contracts/"))
        .and_then(|rest| rest.strip_suffix(&format!("/{user}/legal")))
        .unwrap_or_else(|| panic!("{message}"));
    assert!(
        year.len() == 4 && year.parse::<u32>().is_ok_and(|y| y >= 2025),
        "{message}"
    );

    let (status, body) = call(&server, "go-folder", "eve@evil.com", DOC, "&stage=legal").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            403,
            Some("eve@evil.com may not file documents: only @acme.com users may")
        )
    );
    let (status, body) = call(&server, "go-folder", user, DOC, "").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            404,
            Some("no value for {stage}: add stage=… to the integration's request parameters")
        )
    );
    let (status, body) = call(&server, "go-folder", user, DOC, "&stage=a%2Fb").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (500, Some("{stage} is a/b, which is not a folder name"))
    );
    // Quotes and backslashes round-trip through encoding/json, both ways.
    let (status, body) = call(&server, "go-folder", user, DOC, "&stage=%22draft%5C").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["message"],
        format!("Filed document {DOC} under Contracts/{year}/{user}/\"draft\\")
    );
    let (status, body) = call(&server, "go-folder-odd", user, DOC, "").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            500,
            Some(
                r#"folder-pattern Deals/{quarter}/"Q\4" has an unknown placeholder {quarter}; use {year}, {user}, {stage} or {document}"#
            )
        )
    );
    // A Go panic is not a wasm trap: the runtime exits with code 2 and no response,
    // so Docket answers 500 with the last stderr line, which the helper writes.
    let (status, body) = call(&server, "go-folder", user, DOC, "&stage=legal&crash=1").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (500, Some("crashed: panic: assignment to entry in nil map"))
    );
    assert_eq!(
        call(&server, "go-folder", user, DOC, "&stage=legal")
            .await
            .0,
        200
    );
}
