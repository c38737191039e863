use super::call;
use crate::common::{DOC, Manifests, Server, example_action};

/// AssemblyScript (command ABI, guest-sdk/assemblyscript/docket.ts): `assemblyscript-router`.
#[tokio::test]
async fn assemblyscript_action_succeeds_fails_by_kind_and_survives_a_trap() {
    let manifests = Manifests::new();
    manifests.action(
        "acme",
        "assemblyscript-router",
        &example_action("assemblyscript-router"),
        "[config]\n\"route.legal\" = \"Legal review\"\n\"route.brand\" = \"Brand check\"\nreadonly-users = \"auditor, eve\"\n",
    );
    let server = Server::start(manifests.path(), &["acme"]);
    let action = "assemblyscript-router";

    let (status, body) = call(&server, action, "jane.doe", DOC, "&stage=legal").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["message"],
        format!("Routed document {DOC} to Legal review for jane.doe")
    );
    // A stage is looked up as given, then in lower case.
    let (status, body) = call(&server, action, "ann", DOC, "&stage=Brand").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["message"],
        format!("Routed document {DOC} to Brand check for ann")
    );
    let (status, body) = call(&server, action, "eve", DOC, "&stage=legal").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            403,
            Some("eve has read-only access and may not route documents")
        )
    );
    let (status, body) = call(&server, action, "ann", DOC, "&stage=finance").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("no route for stage \"finance\""))
    );
    let (status, body) = call(&server, action, "ann", DOC, "").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            500,
            Some(
                "no stage given: ask your Workfront admin to add stage=<stage> to the integration's request parameters"
            )
        )
    );
    // Quotes, a backslash and non-ASCII text round-trip through the AssemblyScript JSON helper.
    let (status, body) = call(&server, action, "ann", DOC, "&stage=%22r%C3%A9vision%5C").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "no route for stage \"\"révision\\\"");
    let (status, body) = call(&server, action, "ann", DOC, "&stage=legal&crash=1").await;
    assert_eq!(status, 500);
    assert!(
        body["error"].as_str().unwrap().contains("crashed"),
        "{body}"
    );
    assert_eq!(
        call(&server, action, "ann", DOC, "&stage=legal").await.0,
        200
    );
}
