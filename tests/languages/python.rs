use super::{assert_crashed, call};
use crate::common::{DOC, Manifests, Server, example_action};

/// Python (component ABI, guest-sdk/python built with componentize-py): `python-naming`.
#[tokio::test]
async fn python_action_succeeds_fails_by_kind_and_survives_a_trap() {
    let module = example_action("python-naming");
    let manifests = Manifests::new();
    manifests.action(
        "acme",
        "python-naming",
        &module,
        "[config]\nallowed-extensions = \"pdf, docx\"\nprefix-pattern = '^[A-Z]{3}-\\d{4}-'\nblocked-users = \"eve, mallory\"\n",
    );
    // The same module with a prefix pattern that is not a regular expression.
    manifests.action(
        "acme",
        "python-naming-bad",
        &module,
        "[config]\nprefix-pattern = \"[A-Z\"\n",
    );
    let server = Server::start(manifests.path(), &["acme"]);
    let good = "&filename=ACM-2026-budget.pdf";

    let (status, body) = call(&server, "python-naming", "jane.doe", DOC, good).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["message"],
        "ACM-2026-budget.pdf follows the naming rules for acme"
    );
    let (status, body) = call(&server, "python-naming", "eve", DOC, good).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("eve may not check file names"))
    );
    let (status, body) = call(&server, "python-naming", "jane.doe", DOC, "").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            404,
            Some("no file name to check: add filename=… to the request parameters")
        )
    );
    let (status, body) = call(
        &server,
        "python-naming",
        "jane.doe",
        DOC,
        "&filename=ACM-2026-budget.exe",
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            500,
            Some("\"ACM-2026-budget.exe\" has extension .exe; allowed: pdf, docx")
        )
    );
    // A value with quotes and a backslash round-trips through the component ABI.
    let (status, body) = call(
        &server,
        "python-naming",
        "jane.doe",
        DOC,
        "&filename=%22Q1%5Cdraft%22.pdf",
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            500,
            Some("\"\"Q1\\draft\".pdf\" does not start with the pattern ^[A-Z]{3}-\\d{4}-")
        )
    );
    let (status, body) = call(
        &server,
        "python-naming-bad",
        "jane.doe",
        DOC,
        "&filename=a.pdf",
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            500,
            Some(
                "prefix-pattern [A-Z is not a valid regular expression: \
                 unterminated character set at position 0"
            )
        )
    );
    let crash = "&filename=ACM-2026-budget.pdf&crash=1";
    let (status, body) = call(&server, "python-naming", "jane.doe", DOC, crash).await;
    assert_crashed(
        status,
        &body,
        "crashed: exception: RuntimeError: crash=1 asked for a crash",
    );
    assert_eq!(
        call(&server, "python-naming", "jane.doe", DOC, good)
            .await
            .0,
        200
    );
}
