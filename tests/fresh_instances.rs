//! Every request gets a fresh instance (docs/architecture.md#the-isolation-model):
//! what a guest left in its globals, statics or heap on one request is gone
//! on the next, for both ABIs. And what a guest learns of its caller:
//! `usernameVerified` false in ApiKey mode, true from `docket invoke
//! --username-verified`, through the command JSON and the component import.

mod common;

use common::{DOC, Server, VER, built_guest};
use serde_json::json;

/// A command module with a mutable global and a byte of memory, both set on
/// its first run: "fresh" while neither was set before, "reused" otherwise.
fn remembering_command() -> Vec<u8> {
    wat::parse_str(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $seen (mut i32) (i32.const 0))
  (data (i32.const 64) "{\"status\":\"success\",\"message\":\"fresh\"} ")
  (data (i32.const 128) "{\"status\":\"success\",\"message\":\"reused\"}")
  (func (export "_start")
    (local $at i32)
    (local.set $at (i32.const 64))
    (if (i32.or (global.get $seen) (i32.load8_u (i32.const 200)))
      (then (local.set $at (i32.const 128))))
    (global.set $seen (i32.const 1))
    (i32.store8 (i32.const 200) (i32.const 1))
    (i32.store (i32.const 0) (local.get $at))
    (i32.store (i32.const 4) (i32.const 39))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#,
    )
    .unwrap()
}

#[tokio::test]
async fn no_state_survives_from_one_request_to_the_next_in_either_abi() {
    let server = Server::hosted(&[]);
    let (admin, key) = server.create_tenant("acme", json!({})).await;
    for (name, module) in [
        ("global", remembering_command()),
        ("cmd", built_guest("sandbox-probe")),
        ("comp", built_guest("http-probe")),
    ] {
        let manifest = format!("name = \"{name}\"\n");
        let (status, body) = server.deploy("acme", &admin, &manifest, module).await;
        assert_eq!(status, 201, "{body}");
    }
    for round in 0..3 {
        let (status, body) = server.call("acme", "global", &key).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["message"], "fresh", "round {round}");
        for action in ["cmd", "comp"] {
            let path = format!(
                "/t/acme/customAction?name={action}&documentId={DOC}&documentVersionId={VER}&leftovers=1"
            );
            let (status, body) = server.get(&path, &[("apiKey", &key)]).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(
                body["message"], "earlier calls seen: static 0, heap 0",
                "{action}, round {round}"
            );
        }
    }
}

#[tokio::test]
async fn actions_learn_whether_their_user_was_verified() {
    let server = Server::hosted(&[]);
    let (admin, key) = server.create_tenant("acme", json!({})).await;
    for (name, guest) in [("cmd", "sandbox-probe"), ("comp", "http-probe")] {
        let manifest = format!("name = \"{name}\"\n");
        let (status, body) = server
            .deploy("acme", &admin, &manifest, built_guest(guest))
            .await;
        assert_eq!(status, 201, "{body}");
        let path = format!(
            "/t/acme/customAction?name={name}&documentId={DOC}&documentVersionId={VER}&identity=1"
        );
        let (status, body) = server
            .get(&path, &[("apiKey", &key), ("username", "jane.doe")])
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["message"], "user \"jane.doe\" verified false",
            "{name}: ApiKey mode's user is only claimed"
        );
    }

    // `docket invoke --username-verified` runs the other path locally.
    let work = tempfile::tempdir().unwrap();
    for (name, guest) in [("cmd", "sandbox-probe"), ("comp", "http-probe")] {
        std::fs::write(work.path().join(format!("{name}.wasm")), built_guest(guest)).unwrap();
        let manifest = work.path().join(format!("{name}.toml"));
        std::fs::write(
            &manifest,
            format!("name = \"{name}\"\nmodule = \"{name}.wasm\"\n"),
        )
        .unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_docket"))
            .arg("invoke")
            .arg(&manifest)
            .args(["--document-id", DOC, "--document-version-id", VER])
            .args(["--username", "ada@example.com", "--username-verified"])
            .args(["--param", "identity=1", "--no-cache"])
            .env("DOCKET_LOG", "warn")
            .output()
            .unwrap();
        let (ok, out, err) = common::outcome(output);
        assert!(ok, "{name}: {err}");
        assert!(
            out.contains(r#"user \"ada@example.com\" verified true"#),
            "{name}: {out}"
        );
    }
}
