//! How failures and crashes reach Workfront, through the real binary, for
//! actions written from `guest-sdk/CONTRACT.md` alone (no Docket helper): exit
//! codes 0 to 255 behave alike, a JSON answer always wins, and a panic in any
//! language is a crash whose message is the panic's own text and the request id.
//!
//! The Go, AssemblyScript and Zig programs are built here from source with the
//! toolchains `make actions` installs under `.toolchains/`; when one is missing
//! its test says so and skips. The Rust program is `tests/guests/panic-rust`
//! (`make guests`).

mod common;

use common::{Manifests, Server, built_guest, guest};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// Asserts the documented crash answer: HTTP 500 and exactly
/// `action "NAME" crashed: MESSAGE (request id ID)`, ID being the
/// `x-request-id` header of the same response.
fn assert_crash(answer: (u16, Option<String>, Value), action: &str, message: &str) {
    let (status, request_id, body) = answer;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["status"], "failure", "{body}");
    let id = request_id.expect("the response carries x-request-id");
    assert_eq!(
        body["error"],
        format!("action \"{action}\" crashed: {message} (request id {id})"),
    );
}

/// One action `name` of tenant `acme` running `module`, served.
fn serve(name: &str, module: &[u8]) -> (Manifests, Server) {
    let manifests = Manifests::new();
    manifests.action("acme", name, module, "");
    let server = Server::start(manifests.path(), &["acme"]);
    (manifests, server)
}

/// Runs a build command; panics with its output when it fails.
fn build(command: &mut Command) {
    let output = command.output().expect("the build command starts");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn toolchains() -> PathBuf {
    common::repo_root().join(".toolchains")
}

/// Says why a test does not run here.
fn skip(test: &str, why: &str) {
    eprintln!("skipping {test}: {why}; `make actions` installs it under .toolchains/");
}

/// Exit codes 126 to 255 are ordinary exit codes: with a JSON answer on stdout,
/// the answer decides (AssemblyScript's WASI shim exits with 255).
#[tokio::test]
async fn exit_255_with_a_json_answer_is_that_answer() {
    let (_manifests, server) = serve("gate", &guest("exit_255_forbidden"));
    let (status, body) = server.custom_action("acme", "gate", "").await;
    assert_eq!(
        (status, body["status"].as_str(), body["error"].as_str()),
        (403, Some("failure"), Some("only editors may archive"))
    );
}

/// A high exit code with no answer is a plain failure, not a crash: the
/// message is the last non-empty stderr line, as for codes 1 to 125.
#[tokio::test]
async fn exit_200_without_an_answer_fails_with_the_last_stderr_line() {
    let (_manifests, server) = serve("fetch", &guest("exit_200_stderr"));
    let (status, body) = server.custom_action("acme", "fetch", "").await;
    assert_eq!(
        (status, body["status"].as_str(), body["error"].as_str()),
        (
            500,
            Some("failure"),
            Some("cannot reach the archive: connection refused")
        )
    );
}

/// A Go program that panics or hits a fatal runtime error, built with
/// `GOOS=wasip1`: `panic("boom")` exits 2, `select {}` dies with a deadlock.
/// `None` when the Go toolchain is not installed.
fn go_crash_module() -> Option<&'static [u8]> {
    static MODULE: OnceLock<Option<Vec<u8>>> = OnceLock::new();
    MODULE
        .get_or_init(|| {
            let home = toolchains().join("go");
            let goroot = home.join("usr/lib/go-1.23");
            let go = goroot.join("bin/go");
            if !go.exists() {
                return None;
            }
            let work = tempfile::tempdir().unwrap();
            std::fs::write(
                work.path().join("go.mod"),
                "module example.com/action\n\ngo 1.23\n",
            )
            .unwrap();
            std::fs::write(
                work.path().join("main.go"),
                r#"package main

import (
	"io"
	"os"
	"strings"
)

func main() {
	request, _ := io.ReadAll(os.Stdin)
	if strings.Contains(string(request), `"crash":"deadlock"`) {
		select {}
	}
	panic("boom")
}
"#,
            )
            .unwrap();
            let out = work.path().join("crash.wasm");
            build(
                Command::new(&go)
                    .args(["build", "-p", "1", "-trimpath", "-o"])
                    .arg(&out)
                    .arg(".")
                    .current_dir(work.path())
                    .env("GOOS", "wasip1")
                    .env("GOARCH", "wasm")
                    .env("GOROOT", &goroot)
                    .env("GOCACHE", home.join("cache"))
                    .env("GOPATH", home.join("gopath"))
                    .env("XDG_CONFIG_HOME", home.join("config"))
                    .env("GOTOOLCHAIN", "local")
                    .env("GOPROXY", "off")
                    .env("GOFLAGS", "")
                    .env("CGO_ENABLED", "0"),
            );
            Some(std::fs::read(out).unwrap())
        })
        .as_deref()
}

/// A Go `panic("boom")` exits with code 2 and a stack on stderr; Workfront gets
/// the panic's message and the request id, not the last stack frame's path.
#[tokio::test]
async fn a_go_panic_is_a_crash_with_its_message_and_the_request_id() {
    let Some(module) = go_crash_module() else {
        return skip("the Go panic test", "Go 1.23 is not installed");
    };
    let (_manifests, server) = serve("go-crash", module);
    let answer = server
        .custom_action_with_request_id("acme", "go-crash", "")
        .await;
    assert!(
        !answer.2.to_string().contains("main.go:"),
        "no source path: {}",
        answer.2
    );
    assert_crash(answer, "go-crash", "panic: boom");
}

/// A Go runtime `fatal error:` (here a deadlock) is a crash too, and keeps its
/// own word: `crashed: fatal error: …`.
#[tokio::test]
async fn a_go_fatal_error_is_a_crash_with_its_message() {
    let Some(module) = go_crash_module() else {
        return skip("the Go fatal error test", "Go 1.23 is not installed");
    };
    let (_manifests, server) = serve("go-crash", module);
    let answer = server
        .custom_action_with_request_id("acme", "go-crash", "&crash=deadlock")
        .await;
    assert_crash(
        answer,
        "go-crash",
        "fatal error: all goroutines are asleep - deadlock!",
    );
}

/// A Rust panic on wasm32-wasip1 prints `thread 'main' … panicked at FILE:` and
/// its message on stderr, then traps; Workfront gets the message, not the
/// `RUST_BACKTRACE` hint that ends stderr, nor a bare `wasm trap`.
#[tokio::test]
async fn a_rust_panic_is_a_crash_with_its_message_and_the_request_id() {
    let (_manifests, server) = serve("rust-crash", &built_guest("panic-rust"));
    let answer = server
        .custom_action_with_request_id("acme", "rust-crash", "")
        .await;
    assert_crash(answer, "rust-crash", "panic: boom");
}

/// An AssemblyScript `throw` goes through the WASI shim's abort: a line
/// `abort: boom in FILE(LINE:COLUMN)` on stderr and exit code 255. Workfront
/// gets `panic: boom`, without the source location.
#[tokio::test]
async fn an_assemblyscript_throw_is_a_crash_with_its_message_and_the_request_id() {
    let toolchain = toolchains().join("assemblyscript");
    let asc = toolchain.join("node_modules/.bin/asc");
    let shim = "./node_modules/@assemblyscript/wasi-shim/asconfig.json";
    if !asc.exists() || !toolchain.join(shim).exists() {
        return skip(
            "the AssemblyScript throw test",
            "assemblyscript and @assemblyscript/wasi-shim are not installed",
        );
    }
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("index.ts");
    std::fs::write(
        &source,
        "function run(): void {\n  throw new Error(\"boom\");\n}\n\nrun();\n",
    )
    .unwrap();
    let out = work.path().join("crash.wasm");
    // asc resolves the shim's library path against the working directory.
    build(
        Command::new(&asc)
            .arg(&source)
            .args(["--config", shim, "-Oz", "-o"])
            .arg(&out)
            .current_dir(&toolchain),
    );
    let (_manifests, server) = serve("as-crash", &std::fs::read(out).unwrap());
    let answer = server
        .custom_action_with_request_id("acme", "as-crash", "")
        .await;
    assert_crash(answer, "as-crash", "panic: boom");
}

/// A Zig `@panic("boom")` prints `panic: boom` and a stack-trace hint, then
/// traps; Workfront gets the panic's message.
#[tokio::test]
async fn a_zig_panic_is_a_crash_with_its_message_and_the_request_id() {
    let home = toolchains().join("zig");
    if !home.join("ziglang").exists() {
        return skip("the Zig panic test", "ziglang (PyPI) is not installed");
    }
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("crash.zig");
    std::fs::write(&source, "pub fn main() void {\n    @panic(\"boom\");\n}\n").unwrap();
    let cache = toolchains().join("zig-cache");
    build(
        Command::new("python3")
            .args([
                "-m",
                "ziglang",
                "build-exe",
                "-j1",
                "-target",
                "wasm32-wasi",
            ])
            .args(["-O", "ReleaseSmall", "--name", "crash"])
            .arg(&source)
            .current_dir(work.path())
            .env("PYTHONPATH", &home)
            .env("ZIG_GLOBAL_CACHE_DIR", cache.join("global"))
            .env("ZIG_LOCAL_CACHE_DIR", work.path().join("cache")),
    );
    let module = std::fs::read(work.path().join("crash.wasm")).unwrap();
    let (_manifests, server) = serve("zig-crash", &module);
    let answer = server
        .custom_action_with_request_id("acme", "zig-crash", "")
        .await;
    assert_crash(answer, "zig-crash", "panic: boom");
}

/// An answer already on stdout decides, even when the program panics after
/// writing it: the panic report is diagnostics, the JSON is the answer.
#[tokio::test]
async fn a_json_answer_wins_over_a_later_panic() {
    let (_manifests, server) = serve("rust-crash", &built_guest("panic-rust"));
    let (status, body) = server
        .custom_action("acme", "rust-crash", "&answer=not-found")
        .await;
    assert_eq!(
        (status, body["status"].as_str(), body["error"].as_str()),
        (404, Some("failure"), Some("gone"))
    );
}

/// A hosted server with tenant `acme` running `module` as action `name`;
/// returns the server, the admin token and the webhook key.
async fn hosted(name: &str, module: Vec<u8>) -> (Server, String, String) {
    let server = Server::hosted(&[]);
    let (token, key) = server.create_tenant("acme", json!({})).await;
    let (status, body) = server
        .deploy("acme", &token, &format!("name = \"{name}\"\n"), module)
        .await;
    assert_eq!(status, 201, "{body}");
    (server, token, key)
}

/// Calls `name` once and returns its invocation-log record, checking that the
/// record is the one for this call's request id.
async fn call_and_read_log(server: &Server, token: &str, key: &str, name: &str) -> Value {
    let path = format!(
        "/t/acme/customAction?name={name}&documentId={}&documentVersionId={}",
        common::DOC,
        common::VER
    );
    let (_, request_id, _) = server.get_with_request_id(&path, &[("apiKey", key)]).await;
    let request_id = request_id.expect("the response carries x-request-id");
    for _ in 0..100 {
        let (status, body) = server
            .admin("GET", "/tenants/acme/invocations", Some(token), None)
            .await;
        assert_eq!(status, 200, "{body}");
        if let Some(record) = body["invocations"].as_array().and_then(|list| list.first()) {
            assert_eq!(record["requestId"], request_id.as_str());
            return record.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the invocation of {name} was never logged");
}

/// The invocation log tells a crash from a failure (outcome `trap`) and keeps
/// the panic report the author needs.
#[tokio::test]
async fn a_panic_is_logged_as_a_trap_with_its_stderr() {
    let (server, token, key) = hosted("rust-crash", built_guest("panic-rust")).await;
    let record = call_and_read_log(&server, &token, &key, "rust-crash").await;
    assert_eq!(record["outcome"], "trap", "{record}");
    let stderr = record["stderr"].as_str().unwrap_or_default();
    assert!(
        stderr.contains("panicked at") && stderr.contains("boom"),
        "{record}"
    );
}

/// The invocation log keeps the first and the last 4 KiB of stderr, so both
/// how an invocation began and how it ended survive a chatty action.
#[tokio::test]
async fn the_invocation_log_keeps_the_head_and_tail_of_stderr() {
    let (server, token, key) = hosted("chatty", guest("stderr_head_tail")).await;
    let record = call_and_read_log(&server, &token, &key, "chatty").await;
    assert_eq!(record["outcome"], "failure", "{record}");
    let stderr = record["stderr"].as_str().expect("stderr is logged");
    assert!(stderr.starts_with("stderr begins here\n"), "{stderr:.200}");
    assert!(stderr.trim_end().ends_with("stderr ends here"), "{stderr}");
    assert!(!stderr.contains("the middle of stderr"));
    assert!(stderr.len() <= 8 * 1024 + 256, "{} bytes", stderr.len());
}
