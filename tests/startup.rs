//! Bad manifests and bad modules stop `docket serve` at start-up with an error
//! naming the file, instead of serving half a tenant.

mod common;

use common::{Manifests, guest, serve_expecting_failure};

fn assert_startup_error(manifests: &Manifests, file: &str, fragments: &[&str]) {
    let finished = serve_expecting_failure(manifests.path());
    assert!(!finished.success, "docket should refuse to start");
    assert!(
        finished.stderr.contains(file),
        "stderr should name {file}:\n{}",
        finished.stderr
    );
    for fragment in fragments {
        assert!(
            finished.stderr.contains(fragment),
            "stderr should contain {fragment:?}:\n{}",
            finished.stderr
        );
    }
}

/// A manifest with an unknown key names the file, the key and the line.
#[test]
fn unknown_manifest_key_names_file_key_and_line() {
    let manifests = Manifests::new();
    manifests.action(
        "acme",
        "hello",
        &guest("hello"),
        "[limits]\ntimeout_ms = 100\n",
    );
    assert_startup_error(
        &manifests,
        "hello.toml",
        &["unknown field `timeout_ms`", "line 5"],
    );
}

/// Malformed TOML names the file.
#[test]
fn malformed_manifest_names_the_file() {
    let manifests = Manifests::new();
    manifests.action("acme", "hello", &guest("hello"), "");
    manifests.file("acme/broken.toml", b"name = \"broken\nmodule = 3\n");
    assert_startup_error(&manifests, "broken.toml", &["TOML parse error"]);
}

/// A module file that is not WebAssembly names the manifest and the module.
#[test]
fn non_wasm_module_names_the_file() {
    let manifests = Manifests::new();
    manifests.action("acme", "fake", b"%PDF-1.7 definitely not wasm", "");
    assert_startup_error(
        &manifests,
        "fake.wasm",
        &["fake.toml", "not a WebAssembly module"],
    );
}

/// An import Docket does not know is rejected at load, naming the import.
#[test]
fn unknown_import_is_rejected_naming_it() {
    let manifests = Manifests::new();
    manifests.action("acme", "missiles", &guest("unknown_import"), "");
    assert_startup_error(&manifests, "missiles.toml", &["env::launch_missiles"]);
}

/// A core module without `_start` fits neither ABI.
#[test]
fn module_with_neither_abi_is_rejected() {
    let manifests = Manifests::new();
    manifests.action("acme", "lost", &guest("no_start"), "");
    assert_startup_error(
        &manifests,
        "lost.toml",
        &["fits neither Docket ABI", "_start"],
    );
}

/// A module path that does not exist names it.
#[test]
fn missing_module_file_is_named() {
    let manifests = Manifests::new();
    manifests.file(
        "acme/ghost.toml",
        b"name = \"ghost\"\nmodule = \"nowhere/ghost.wasm\"\n",
    );
    assert_startup_error(
        &manifests,
        "nowhere/ghost.wasm",
        &["ghost.toml", "cannot read module"],
    );
}

/// Limits above the operator's ceiling are refused, naming the key.
#[test]
fn limits_over_the_ceiling_are_refused() {
    let manifests = Manifests::new();
    manifests.action(
        "acme",
        "greedy",
        &guest("hello"),
        "[limits]\nmemory-mb = 100000\n",
    );
    assert_startup_error(
        &manifests,
        "greedy.toml",
        &["limits.memory-mb = 100000 exceeds the ceiling of 256"],
    );
}

/// A tenant directory that is not a valid tenant name is refused.
#[test]
fn invalid_tenant_directory_name_is_refused() {
    let manifests = Manifests::new();
    manifests.action("Bad_Tenant", "hello", &guest("hello"), "");
    assert_startup_error(&manifests, "Bad_Tenant", &["invalid tenant name"]);
}

/// A port that is already taken stops `docket serve` at once, before the
/// manifests are compiled (the demo's, as `make run` serves them), with a
/// message naming the address and how to choose another.
#[test]
fn a_taken_port_stops_the_start_at_once_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let data = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_docket"))
        .args(["serve", "--listen", &addr.to_string(), "--manifests"])
        .arg(common::repo_root().join("manifests"))
        .arg("--skip-missing-modules")
        .arg("--data-dir")
        .arg(data.path())
        .env("DOCKET_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let limit = std::time::Duration::from_secs(3);
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "docket serve on a taken port still running after {limit:?}:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    for fragment in [
        format!("cannot listen on {addr}"),
        format!("port {} is already in use", addr.port()),
        "make run LISTEN=".to_owned(),
        "--listen".to_owned(),
    ] {
        assert!(
            stderr.contains(&fragment),
            "stderr should contain {fragment:?}:\n{stderr}"
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("docket listening"), "{stdout}");
    drop(taken);
}
