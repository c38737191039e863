//! The Workfront Document Webhooks protocol, end to end through the real binary:
//! every row of the mapping table in
//! `docs/architecture.md#status-and-body-for-each-outcome`.

mod common;

use common::{DOC, KEY, Manifests, Server, VER, example_action, guest};

/// The demo-like tenant most tests use: both example actions plus a WAT command.
fn acme() -> Manifests {
    let manifests = Manifests::new();
    manifests
        .action(
            "acme",
            "archive",
            &example_action("archive"),
            "[config]\nfolder = \"Records\"\n",
        )
        .action(
            "acme",
            "review-gate",
            &example_action("review-gate"),
            "[config]\nreviewers = \"jane.doe\"\n",
        )
        .action("acme", "hello", &guest("hello"), "")
        .action("acme", "exit-with-stderr", &guest("exit_with_stderr"), "");
    manifests
}

/// serviceInfo lists exactly the tenant's actions, needs no key, and speaks 1.2.
#[tokio::test]
async fn service_info_lists_exactly_the_tenants_actions() {
    let manifests = acme();
    manifests.action("other", "secret-thing", &guest("hello"), "");
    let server = Server::start(manifests.path(), &["acme", "other"]);
    let (status, body) = server.get("/t/acme/serviceInfo", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body["webhookVersion"], "1.2");
    let actions = body["customActions"].as_array().unwrap();
    let pairs: Vec<(&str, &str)> = actions
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap(),
                a["displayName"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("archive", "Test archive"),
            ("exit-with-stderr", "Test exit-with-stderr"),
            ("hello", "Test hello"),
            ("review-gate", "Test review-gate"),
        ]
    );
}

/// A command-ABI action written in Rust succeeds with its message, using its config and params.
#[tokio::test]
async fn command_abi_action_succeeds_with_its_message() {
    let manifests = acme();
    let server = Server::start(manifests.path(), &["acme"]);
    let (status, body) = server
        .custom_action("acme", "archive", "&subfolder=2026")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "success");
    let expected =
        format!("Archived version {VER} of document {DOC} to Records/2026/{DOC} for jane.doe");
    assert_eq!(body["message"], expected);
}

/// A component-ABI action written in Rust succeeds with its message.
#[tokio::test]
async fn component_abi_action_succeeds_with_its_message() {
    let manifests = acme();
    let server = Server::start(manifests.path(), &["acme"]);
    let (status, body) = server
        .custom_action("acme", "review-gate", "&stage=brand")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["message"],
        format!("Brand review signed off by jane.doe for version {VER} of document {DOC}")
    );
}

/// A WAT command that prints a success response is a success.
#[tokio::test]
async fn hand_written_command_module_succeeds() {
    let manifests = acme();
    let server = Server::start(manifests.path(), &["acme"]);
    let (status, body) = server.custom_action("acme", "hello", "").await;
    assert_eq!(
        (status, body),
        (
            200,
            serde_json::json!({"status": "success", "message": "hello from wat"})
        )
    );
}

/// Each failure kind maps to its status with the action's own message.
#[tokio::test]
async fn each_failure_kind_maps_to_its_status_and_message() {
    let manifests = acme();
    let server = Server::start(manifests.path(), &["acme"]);

    let (status, body) = server
        .get(
            &format!("/t/acme/customAction?name=review-gate&documentId={DOC}&documentVersionId={VER}&stage=legal"),
            &[("apiKey", KEY), ("username", "mallory")],
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        serde_json::json!({"status": "failure", "error": "mallory is not a reviewer for this project"})
    );

    let (status, body) = server
        .get(
            "/t/acme/customAction?name=review-gate&documentId=nope&documentVersionId=v&stage=legal",
            &[("apiKey", KEY), ("username", "jane.doe")],
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "document \"nope\" not found");

    let (status, body) = server
        .custom_action("acme", "review-gate", "&stage=tax")
        .await;
    assert_eq!(status, 500);
    assert_eq!(body["status"], "failure");
    assert_eq!(
        body["error"],
        "unknown review stage \"tax\"; expected one of legal, brand, final"
    );
}

/// A command that exits non-zero with no JSON fails with the last line of its stderr.
#[tokio::test]
async fn nonzero_exit_fails_with_last_stderr_line() {
    let manifests = acme();
    let server = Server::start(manifests.path(), &["acme"]);
    let (status, body) = server.custom_action("acme", "exit-with-stderr", "").await;
    assert_eq!(status, 500);
    assert_eq!(body["error"], "something went wrong");
}

/// A missing or wrong apiKey is 403 and says nothing about the tenant.
#[tokio::test]
async fn missing_or_wrong_api_key_is_forbidden() {
    let manifests = acme();
    let server = Server::start(manifests.path(), &["acme"]);
    let path =
        format!("/t/acme/customAction?name=archive&documentId={DOC}&documentVersionId={VER}");
    let (status, body) = server.get(&path, &[]).await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        serde_json::json!({"status": "failure", "error": "missing apiKey header"})
    );
    let (status, body) = server.get(&path, &[("apiKey", "dk_guess")]).await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        serde_json::json!({"status": "failure", "error": "invalid apiKey"})
    );
}

/// One tenant's key does not open another tenant's actions.
#[tokio::test]
async fn a_key_only_opens_its_own_tenant() {
    let manifests = acme();
    manifests.action("globex", "hello", &guest("hello"), "");
    let data = tempfile::tempdir().unwrap();
    let _ = data;
    let server = Server::start(manifests.path(), &["acme"]);
    // globex got a generated key, so the shared test key must not work there.
    let (status, _) = server.custom_action("globex", "hello", "").await;
    assert_eq!(status, 403);
    let (status, _) = server.custom_action("acme", "hello", "").await;
    assert_eq!(status, 200);
}

/// Unknown actions and tenants are 404.
#[tokio::test]
async fn unknown_action_or_tenant_is_not_found() {
    let manifests = acme();
    let server = Server::start(manifests.path(), &["acme"]);
    let (status, body) = server.custom_action("acme", "shred", "").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "unknown action \"shred\"");
    let (status, body) = server.custom_action("initech", "archive", "").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "unknown tenant \"initech\"");
    let (status, _) = server.get("/t/initech/serviceInfo", &[]).await;
    assert_eq!(status, 404);
}

/// Each missing required parameter is a 400 naming it.
#[tokio::test]
async fn each_missing_parameter_is_a_bad_request_naming_it() {
    let manifests = acme();
    let server = Server::start(manifests.path(), &["acme"]);
    let cases = [
        (format!("documentId={DOC}&documentVersionId={VER}"), "name"),
        (
            format!("name=archive&documentVersionId={VER}"),
            "documentId",
        ),
        (
            format!("name=archive&documentId={DOC}"),
            "documentVersionId",
        ),
        (
            format!("name=&documentId={DOC}&documentVersionId={VER}"),
            "name",
        ),
    ];
    for (query, missing) in cases {
        let (status, body) = server
            .get(&format!("/t/acme/customAction?{query}"), &[("apiKey", KEY)])
            .await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(
            body["error"],
            format!("missing query parameter `{missing}`")
        );
    }
}

/// Workfront endpoints Docket does not implement answer 501 in the error shape.
#[tokio::test]
async fn unimplemented_workfront_endpoints_are_501() {
    let manifests = acme();
    let server = Server::start(manifests.path(), &["acme"]);
    for endpoint in ["metadata", "files", "download", "uploadInit"] {
        let (status, body) = server.get(&format!("/t/acme/{endpoint}"), &[]).await;
        assert_eq!(status, 501, "{endpoint}");
        assert_eq!(body["status"], "failure");
        assert!(body["error"].as_str().unwrap().contains(endpoint));
    }
}

/// A tenant's failure word replaces "failure" in every error it answers.
#[tokio::test]
async fn tenant_failure_word_is_used_in_errors() {
    let manifests = acme();
    manifests.file("acme/tenant.toml", b"failure-word = \"error\"\n");
    let server = Server::start(manifests.path(), &["acme"]);
    let (status, body) = server
        .custom_action("acme", "review-gate", "&stage=tax")
        .await;
    assert_eq!(status, 500);
    assert_eq!(body["status"], "error");
    let (status, body) = server.custom_action("acme", "shred", "").await;
    assert_eq!(status, 404);
    assert_eq!(body["status"], "error");
}

/// Extra query parameters reach the action as `params`; the action sees them.
#[tokio::test]
async fn extra_query_parameters_reach_the_action() {
    let manifests = acme();
    let server = Server::start(manifests.path(), &["acme"]);
    let (status, body) = server
        .custom_action("acme", "archive", "&subfolder=..")
        .await;
    assert_eq!(status, 500);
    assert_eq!(
        body["error"],
        "subfolder \"..\" must be a single folder name"
    );
}

/// Without DOCKET_API_KEY_<TENANT>, a key is generated, printed once, and works.
#[tokio::test]
async fn generated_declarative_key_is_printed_once_and_works() {
    let manifests = acme();
    let server = Server::start(manifests.path(), &[]);
    let key = server
        .stdout_lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("apiKey: dk_"))
        .map(|rest| format!("dk_{}", rest.split_whitespace().next().unwrap()))
        .unwrap_or_else(|| panic!("no key in banner: {:#?}", server.stdout_lines));
    let path = format!("/t/acme/customAction?name=hello&documentId={DOC}&documentVersionId={VER}");
    let (status, _) = server.get(&path, &[("apiKey", &key)]).await;
    assert_eq!(status, 200);
    let curl = server
        .stdout_lines
        .iter()
        .find(|l| l.contains("try:  curl"))
        .unwrap();
    assert!(
        curl.contains(&key) && curl.contains("/t/acme/customAction?name="),
        "{curl}"
    );
}
