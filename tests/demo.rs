//! The fast front door: `make run` serves the demo with
//! `docket serve --skip-missing-modules`, so a manifest whose module is not
//! built yet is skipped with a warning and the rest is served. Without the
//! flag (the default), and in `docket check`, a missing module stops the start.

mod common;

use common::{DOC, KEY, Manifests, Server, VER, message_module, serve_expecting_failure};
use std::process::{Command, Stdio};

/// A manifests directory with tenant `acme`: `ready` (its module exists) and
/// `unbuilt` (its module file does not).
fn ready_and_unbuilt() -> Manifests {
    let manifests = Manifests::new();
    manifests.action("acme", "ready", &message_module("ready to serve"), "");
    manifests.file(
        "acme/unbuilt.toml",
        b"name = \"unbuilt\"\nmodule = \"../dist/unbuilt.wasm\"\n",
    );
    manifests
}

/// Runs `docket ARGS…` to completion (with a fresh data directory for `serve`);
/// returns success, stdout and stderr.
fn docket(args: &[&str]) -> (bool, String, String) {
    let data = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_docket"));
    command.args(args);
    if args.first() == Some(&"serve") {
        command
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path());
    }
    let output = command
        .env("DOCKET_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    common::outcome(output)
}

/// With the flag the server starts, serves the action that is built, names the
/// skipped one in the banner and warns naming the manifest and the missing file.
#[tokio::test]
async fn the_flag_skips_a_manifest_whose_module_is_missing() {
    let manifests = ready_and_unbuilt();
    let server = Server::start_with(manifests.path(), &["acme"], &["--skip-missing-modules"]);

    let (status, body) = server.custom_action("acme", "ready", "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "success");
    assert_eq!(body["message"], "ready to serve");

    let banner = server.stdout_lines.join("\n");
    assert!(banner.contains("tenant acme: ready (command)"), "{banner}");
    let skipped = server
        .stdout_lines
        .iter()
        .find(|line| line.contains("skipped"))
        .unwrap_or_else(|| panic!("no skipped line in the banner:\n{banner}"));
    assert!(skipped.contains("unbuilt"), "{skipped}");
    assert!(skipped.contains("make actions"), "{skipped}");
    assert!(!skipped.contains("ready"), "{skipped}");

    let log = server.stderr();
    for fragment in ["unbuilt.toml", "dist/unbuilt.wasm", "make actions"] {
        assert!(
            log.contains(fragment),
            "the warning should name {fragment:?}:\n{log}"
        );
    }

    // Neither deployed nor listed: Workfront does not see a button for it.
    let path =
        format!("/t/acme/customAction?name=unbuilt&documentId={DOC}&documentVersionId={VER}");
    let (status, body) = server
        .get(&path, &[("apiKey", KEY), ("username", "jane.doe")])
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = server.get("/t/acme/serviceInfo", &[]).await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<_> = body["customActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["ready"], "{body}");
}

/// Without the flag a missing module still stops the start, naming the
/// manifest and the missing file (what an operator wants by default).
#[test]
fn without_the_flag_a_missing_module_stops_the_start() {
    let manifests = ready_and_unbuilt();
    let finished = serve_expecting_failure(manifests.path());
    assert!(!finished.success, "docket should refuse to start");
    for fragment in ["unbuilt.toml", "dist/unbuilt.wasm", "No such file"] {
        assert!(
            finished.stderr.contains(fragment),
            "stderr should contain {fragment:?}:\n{}",
            finished.stderr
        );
    }
    assert!(
        !finished.stdout.contains("docket listening"),
        "{}",
        finished.stdout
    );
}

/// `docket check` validates manifests and never skips: a missing module is an error.
#[test]
fn check_reports_a_missing_module_as_an_error() {
    let manifests = ready_and_unbuilt();
    let dir = manifests.path().display().to_string();
    let (ok, out, err) = docket(&["check", "--manifests", &dir]);
    assert!(!ok, "check should fail:\n{out}");
    assert!(err.contains("unbuilt.toml"), "{err}");
    assert!(err.contains("dist/unbuilt.wasm"), "{err}");
}

/// The flag skips only a file that does not exist: a module that is not
/// WebAssembly, or a path that cannot be read as a file, still stops the start.
#[test]
fn the_flag_does_not_skip_an_invalid_or_unreadable_module() {
    let invalid = Manifests::new();
    invalid.action("acme", "fake", b"%PDF-1.7 not wasm", "");
    let dir = invalid.path().display().to_string();
    let (ok, out, err) = docket(&["serve", "--manifests", &dir, "--skip-missing-modules"]);
    assert!(!ok, "serve should refuse to start:\n{out}");
    assert!(err.contains("fake.toml"), "{err}");
    assert!(err.contains("not a WebAssembly module"), "{err}");

    // The module path is a directory: it exists, but is not a readable file.
    let unreadable = Manifests::new();
    unreadable.file("acme/odd.toml", b"name = \"odd\"\nmodule = \"modules\"\n");
    unreadable.file("acme/modules/keep", b"");
    let dir = unreadable.path().display().to_string();
    let (ok, out, err) = docket(&["serve", "--manifests", &dir, "--skip-missing-modules"]);
    assert!(!ok, "serve should refuse to start:\n{out}");
    assert!(err.contains("odd.toml"), "{err}");
    assert!(err.contains("cannot read module"), "{err}");
}

/// The environment variable turns the flag on too.
#[test]
fn the_environment_variable_turns_skipping_on() {
    let manifests = ready_and_unbuilt();
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_docket"))
        .args(["serve", "--listen", "127.0.0.1:0", "--manifests"])
        .arg(manifests.path())
        .arg("--data-dir")
        .arg(data.path())
        .env("DOCKET_SKIP_MISSING_MODULES", "true")
        .env("DOCKET_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(first.starts_with("docket listening on "), "{first:?}");
}

/// A skipped action that an earlier start deployed is left as it is: still
/// served, and the banner says so.
#[tokio::test]
async fn a_skipped_action_deployed_earlier_is_left_in_place() {
    let manifests = Manifests::new();
    manifests.action("acme", "ready", &message_module("ready to serve"), "");
    manifests.action("acme", "later", &message_module("built earlier"), "");
    let data = tempfile::tempdir().unwrap();
    let dir = manifests.path().display().to_string();
    let args = ["--manifests", dir.as_str(), "--skip-missing-modules"];
    let first = Server::hosted_in(data.path(), &args);
    let banner = first.stdout_lines.join("\n");
    assert!(
        banner.contains("tenant acme: later (command), ready (command)"),
        "{banner}"
    );
    // The generated key is shown at the first start only.
    let key = first
        .stdout_lines
        .iter()
        .find_map(|line| line.trim().strip_prefix("apiKey: dk_"))
        .map(|rest| format!("dk_{rest}"))
        .unwrap_or_else(|| panic!("no generated key in the banner:\n{banner}"));
    drop(first);

    std::fs::remove_file(manifests.path().join("acme/modules/later.wasm")).unwrap();
    let second = Server::hosted_in(data.path(), &args);
    let banner = second.stdout_lines.join("\n");
    assert!(banner.contains("tenant acme: ready (command)"), "{banner}");
    assert!(
        banner.contains("later (an earlier version is still served)"),
        "{banner}"
    );
    let (status, body) = second.call("acme", "later", &key).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "built earlier");
    let (status, body) = second.call("acme", "ready", &key).await;
    assert_eq!(status, 200, "{body}");
}

/// The value after `label: ` on a banner line, if the banner has one.
fn banner_value(server: &Server, label: &str) -> Option<String> {
    let prefix = format!("{label}: ");
    server
        .stdout_lines
        .iter()
        .find_map(|line| line.trim().strip_prefix(prefix.as_str()))
        .map(str::to_owned)
}

/// The tenant's run log, polled until it holds `count` records (they are
/// written in batches, shortly after the call).
async fn run_log(server: &Server, tenant: &str, token: &str, count: usize) -> serde_json::Value {
    let path = format!("/tenants/{tenant}/invocations");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, body) = server.admin("GET", &path, Some(token), None).await;
        assert_eq!(status, 200, "{body}");
        if body["invocations"].as_array().map_or(0, Vec::len) >= count {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run log did not reach {count} records: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Runs `docket ARGS…` (a line the banner printed, without `docket`).
fn docket_cli(line: &str) -> (bool, String, String) {
    let args: Vec<&str> = line.split_whitespace().skip(1).collect();
    let output = Command::new(env!("CARGO_BIN_EXE_docket"))
        .args(&args)
        .env_remove("DOCKET_TOKEN")
        .env_remove("DOCKET_SERVER")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    common::outcome(output)
}

/// `make run` has no operator token, so a declarative tenant needs its own
/// admin token to read its run log: like its webhook key, it is generated at
/// the first start, printed once with a `docket logs` line to paste, and only
/// its hash is kept under the data directory. It reads the run log and the
/// keys, is refused what would change the tenant, and the next start keeps it.
#[tokio::test]
async fn a_declarative_tenant_gets_an_admin_token_for_its_run_log() {
    let manifests = Manifests::new();
    manifests.action("acme", "ready", &message_module("ready to serve"), "");
    let data = tempfile::tempdir().unwrap();
    let first = Server::start_in(data.path(), manifests.path(), &["acme"], &[]);
    let banner = first.stdout_lines.join("\n");
    let token = banner_value(&first, "admin token")
        .filter(|t| t.starts_with("dka_"))
        .unwrap_or_else(|| panic!("no generated admin token in the banner:\n{banner}"));
    assert!(
        banner.contains(&format!(
            "admin token: {token}\n          (generated now and shown only this once"
        )),
        "{banner}"
    );
    let stored =
        std::fs::read_to_string(data.path().join("declarative-keys/acme.admin-token.sha256"))
            .unwrap();
    assert!(!stored.contains(&token), "only the hash is kept");
    assert_eq!(
        stored.trim(),
        docket::registry::keys::KeyHash::of(&token).to_hex()
    );

    // The line to paste, as printed, through the real CLI.
    let line = banner_value(&first, "run log")
        .unwrap_or_else(|| panic!("no run log line in the banner:\n{banner}"));
    assert_eq!(
        line,
        format!("docket logs acme --server {} --token {token}", first.base)
    );
    let (status, body) = first.custom_action("acme", "ready", "").await;
    assert_eq!(status, 200, "{body}");
    let log = run_log(&first, "acme", &token, 1).await;
    assert_eq!(log["invocations"][0]["action"], "ready", "{log}");
    let (ok, out, err) = docket_cli(&line);
    assert!(ok, "`{line}` failed:\n{out}\n{err}");
    assert!(out.contains("ready"), "`{line}` printed:\n{out}\n{err}");

    // Reading is allowed; changing a tenant managed from files is not.
    let (status, body) = first
        .admin("GET", "/tenants/acme/keys", Some(&token), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["keys"][0]["id"], "declarative-acme", "{body}");
    let (status, body) = first
        .deploy("acme", &token, "name = \"other\"\n", message_module("x"))
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = first
        .admin("POST", "/tenants/acme/admin-token", Some(&token), None)
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("DOCKET_ADMIN_TOKEN_ACME"),
        "{body}"
    );
    let (status, body) = first
        .admin("GET", "/tenants/acme/invocations", Some("dka_wrong"), None)
        .await;
    assert_eq!(status, 403, "{body}");
    drop(first);

    // The next start shows where the token is kept, and it still works.
    let second = Server::start_in(data.path(), manifests.path(), &["acme"], &[]);
    let banner = second.stdout_lines.join("\n");
    assert!(!banner.contains(&token), "shown once only:\n{banner}");
    let shown = banner_value(&second, "admin token").unwrap();
    assert!(
        shown.starts_with("generated at an earlier start")
            && shown.contains("acme.admin-token.sha256"),
        "{banner}"
    );
    assert!(
        banner.contains("Set DOCKET_ADMIN_TOKEN_ACME to choose a token"),
        "{banner}"
    );
    assert!(
        banner_value(&second, "run log")
            .unwrap()
            .ends_with("--token $DOCKET_ADMIN_TOKEN_ACME"),
        "{banner}"
    );
    run_log(&second, "acme", &token, 1).await;
}

/// With `DOCKET_ADMIN_TOKEN_<TENANT>` set, that is the tenant's admin token:
/// the banner names the variable, and nothing is generated or stored.
#[tokio::test]
async fn an_admin_token_from_the_environment_is_used_and_none_is_generated() {
    const TOKEN: &str = "acme-corp-admin-token-from-the-environment";
    let manifests = Manifests::new();
    manifests.action("acme-corp", "ready", &message_module("ready to serve"), "");
    let server = Server::start_with_env(
        manifests.path(),
        &["acme-corp"],
        &[],
        &[("DOCKET_ADMIN_TOKEN_ACME_CORP", TOKEN)],
    );
    let banner = server.stdout_lines.join("\n");
    assert_eq!(
        banner_value(&server, "admin token").as_deref(),
        Some("the value of DOCKET_ADMIN_TOKEN_ACME_CORP"),
        "{banner}"
    );
    assert!(!banner.contains("dka_"), "nothing generated:\n{banner}");
    assert!(
        banner_value(&server, "run log")
            .unwrap()
            .ends_with("--token $DOCKET_ADMIN_TOKEN_ACME_CORP"),
        "{banner}"
    );
    assert!(
        !server
            .data_dir
            .join("declarative-keys/acme-corp.admin-token.sha256")
            .exists(),
        "nothing stored"
    );
    let (status, body) = server.custom_action("acme-corp", "ready", "").await;
    assert_eq!(status, 200, "{body}");
    run_log(&server, "acme-corp", TOKEN, 1).await;
    let (status, body) = server
        .admin("GET", "/tenants/acme-corp/keys", Some(TOKEN), None)
        .await;
    assert_eq!(status, 200, "{body}");
}
