//! The web console (`/console`) end to end in a real headless Chromium
//! (tests/oidc/console.mjs, with playwright-core and axe-core): a tenant
//! signs in by keyboard, deploys two versions of an action, tries each,
//! rolls back, reads the run log, creates and revokes a key; the operator
//! suspends the tenant (whose open "Try it" is then refused) and resumes it.
//! Every page is screenshotted at desktop and phone width and checked by
//! axe-core. What the browser did is then checked again through the admin
//! API, independently of what the pages showed.

mod common;

use common::{OPERATOR, Server, browser, message_module};
use serde_json::json;
use std::time::Duration;

const TENANT: &str = "acme";
const ACTION: &str = "greet";
const MESSAGE1: &str = "hello from version one";
const MESSAGE2: &str = "hello from version two";

/// The pages console.mjs visits, each screenshotted as `<page>-desktop.png`
/// and `<page>-phone.png`.
const PAGES: [&str; 14] = [
    "signin",
    "overview",
    "actions",
    "action-detail",
    "deploy",
    "try",
    "runs",
    "keys",
    "secrets",
    "settings",
    "provider",
    "oauth",
    "operator-tenants",
    "operator-server",
];

fn manifest(version: u32) -> String {
    format!(
        "name = \"{ACTION}\"\ndisplay-name = \"Greet the reader\"\n\n[config]\nedition = \"{version}\"\n"
    )
}

/// The ids of the tenant's live webhook keys.
async fn key_ids(server: &Server, token: &str) -> Vec<String> {
    let (status, body) = server
        .admin("GET", &format!("/tenants/{TENANT}/keys"), Some(token), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let mut ids: Vec<String> = body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// The console in a real browser: the whole walk, screenshots of
/// every page, axe on every page, then the admin API's view of the result.
#[tokio::test]
async fn the_console_works_end_to_end_in_a_real_browser_and_passes_axe() {
    let chromium = browser::chromium();
    let server = Server::hosted(&[]);
    let (token, api_key) = server.create_tenant(TENANT, json!({})).await;
    let keys_before = key_ids(&server, &token).await;

    let out = browser::output_dir("console");
    let modules = tempfile::tempdir().unwrap();
    let module1 = modules.path().join("greet-v1.wasm");
    let module2 = modules.path().join("greet-v2.wasm");
    std::fs::write(&module1, message_module(MESSAGE1)).unwrap();
    std::fs::write(&module2, message_module(MESSAGE2)).unwrap();

    let config = json!({
        "chromium": chromium,
        "out": out,
        "base": server.base,
        "tenant": TENANT,
        "adminToken": token,
        "operatorToken": OPERATOR,
        "module1": module1,
        "module2": module2,
        "manifest1": manifest(1),
        "manifest2": manifest(2),
        "action": ACTION,
        "message1": MESSAGE1,
        "message2": MESSAGE2,
    });
    let run = browser::run_script("console.mjs", &config, &out, Duration::from_secs(180)).await;
    let (stdout, stderr) = (&run.stdout, &run.stderr);
    let report = run.report.unwrap_or_else(|| {
        panic!(
            "tests/oidc/console.mjs printed no JSON ({}):\n{stdout}\n{stderr}\nserver log:\n{}",
            run.status,
            server.stderr()
        )
    });
    assert!(
        run.success && report["ok"] == true,
        "tests/oidc/console.mjs failed ({}) at step {}: {}\n(screenshot {})\n{stderr}\nserver log:\n{}",
        run.status,
        report["step"],
        report["error"].as_str().unwrap_or_default(),
        out.join("failure.png").display(),
        server.stderr()
    );

    // Every page at both widths, each a real PNG.
    let shots: Vec<&str> = report["screenshots"]
        .as_array()
        .expect("screenshots in the report")
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let expected = PAGES
        .iter()
        .flat_map(|page| [format!("{page}-desktop.png"), format!("{page}-phone.png")]);
    for name in expected {
        assert!(
            shots.iter().any(|shot| shot.ends_with(&format!("/{name}"))),
            "{name} not reported: {report}"
        );
        let png = std::fs::read(out.join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            png.len() > 1_000 && png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{name} is not a screenshot ({} bytes)",
            png.len()
        );
    }
    for shot in &shots {
        let png = std::fs::read(shot).unwrap_or_else(|e| panic!("{shot}: {e}"));
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{shot} is not a PNG");
    }

    // The rollback holds: version 1 is live, version 2 is kept.
    let (status, body) = server
        .admin(
            "GET",
            &format!("/tenants/{TENANT}/actions/{ACTION}/versions"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut versions: Vec<(u64, bool)> = body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["version"].as_u64().unwrap(), v["live"].as_bool().unwrap()))
        .collect();
    versions.sort();
    assert_eq!(versions, [(1, true), (2, false)], "{body}");
    let (_, actions) = server
        .admin(
            "GET",
            &format!("/tenants/{TENANT}/actions"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(actions["actions"][0]["liveVersion"], 1, "{actions}");
    // Workfront gets version 1's answer, with the tenant resumed.
    let (status, answer) = server.call(TENANT, ACTION, &api_key).await;
    assert_eq!(
        (status, answer["message"].as_str()),
        (200, Some(MESSAGE1)),
        "{answer}"
    );

    // The run log has the tries, of both versions, under the request ids the
    // browser showed.
    let (status, log) = server
        .admin(
            "GET",
            &format!("/tenants/{TENANT}/invocations?action={ACTION}&limit=1000"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{log}");
    let records = log["invocations"].as_array().unwrap();
    assert!(
        records.len() >= 3,
        "fewer than 3 invocations of {ACTION}: {log}"
    );
    for version in [1, 2] {
        assert!(
            records.iter().any(|r| r["version"] == version),
            "no invocation of version {version}: {log}"
        );
    }
    let request_ids = report["requestIds"]
        .as_array()
        .expect("requestIds in the report");
    assert!(request_ids.len() >= 3, "{report}");
    for id in request_ids {
        assert!(
            records.iter().any(|r| r["requestId"] == *id),
            "the try with request id {id} is not in the run log: {log}"
        );
    }

    // The key made in the browser was revoked: the live keys are as before,
    // and Workfront calls with it are refused.
    assert_eq!(key_ids(&server, &token).await, keys_before);
    let created = report["createdKey"]["apiKey"]
        .as_str()
        .expect("createdKey.apiKey in the report");
    assert_ne!(created, api_key);
    let (status, body) = server.call(TENANT, ACTION, created).await;
    assert!(
        status == 401 || status == 403,
        "a call with the revoked key answered {status}: {body}"
    );

    // The operator resumed the tenant: it is as it was.
    let (status, tenant) = server
        .admin("GET", &format!("/tenants/{TENANT}"), Some(OPERATOR), None)
        .await;
    assert_eq!(status, 200, "{tenant}");
    assert_eq!(tenant["suspended"], false, "{tenant}");

    eprintln!(
        "screenshots in {}; minor and moderate axe findings: {}",
        out.display(),
        report["violations"]
    );
}
