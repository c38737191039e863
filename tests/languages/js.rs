use super::call;
use crate::common::{DOC, Manifests, Server, VER, example_action};

/// JavaScript (component ABI, guest-sdk/js/docket.js, componentize-js): `js-approvers`.
#[tokio::test]
async fn js_action_succeeds_fails_by_kind_and_shows_a_thrown_message() {
    let module = example_action("js-approvers");
    let manifests = Manifests::new();
    manifests.action(
        "acme",
        "js-approvers",
        &module,
        "[config]\napprovers = \"jane.doe, ann\"\nsteps = \"legal, brand, final\"\n",
    );
    // The same module with no steps configured.
    manifests.action(
        "acme",
        "js-approvers-unset",
        &module,
        "[config]\napprovers = \"ann\"\n",
    );
    let server = Server::start(manifests.path(), &["acme"]);

    let (status, body) = call(
        &server,
        "js-approvers",
        "jane.doe",
        DOC,
        "&approval-step=Brand",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["message"],
        format!("jane.doe approved {DOC} v{VER} at step brand")
    );
    let (status, body) = call(&server, "js-approvers", "eve", DOC, "").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("eve is not an approver for this document"))
    );
    // A value with quotes and a backslash round-trips through the component ABI.
    let (status, body) = call(
        &server,
        "js-approvers",
        "ann",
        DOC,
        "&approval-step=%22q%22%5Cx",
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            404,
            Some("approval step \"\"q\"\\x\" does not exist; steps are legal, brand, final")
        )
    );
    let (status, body) = call(&server, "js-approvers-unset", "ann", DOC, "").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            500,
            Some(
                "no approval steps: configure steps in the manifest ([config] steps = \"legal, brand\")"
            )
        )
    );
    // A thrown exception's message is what the Workfront user sees.
    let (status, body) = call(&server, "js-approvers", "ann", DOC, "&crash=1").await;
    assert_eq!(status, 500);
    assert_eq!(body["error"], "crash requested with crash=1", "{body}");
    let (status, body) = call(&server, "js-approvers", "ann", DOC, "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["message"],
        format!("ann approved {DOC} v{VER} at step legal")
    );
}
