//! The `docket` command line's dev loop against a real server: tenant create,
//! deploy, keys, and invoke (locally and through the server).

mod common;

use common::{DOC, OPERATOR, Server, VER, message_module};
use serde_json::Value;
use std::process::Command;

fn docket(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_docket"))
        .args(args)
        .env("DOCKET_LOG", "warn")
        .env_remove("DOCKET_TOKEN")
        .env_remove("DOCKET_SERVER")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn json_of(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// tenant create → deploy → invoke through the server → keys create/list.
#[tokio::test]
async fn cli_dev_loop_against_a_server() {
    let server = Server::hosted(&[]);
    let base = server.base.clone();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("greet.wasm"),
        message_module("from the cli"),
    )
    .unwrap();
    let manifest = work.path().join("greet.toml");
    std::fs::write(&manifest, "name = \"greet\"\nmodule = \"greet.wasm\"\n").unwrap();

    let (ok, out, err) = docket(&[
        "tenant", "create", "acme", "--server", &base, "--token", OPERATOR,
    ]);
    assert!(ok, "{err}");
    let created = json_of(&out);
    let token = created["adminToken"].as_str().unwrap().to_owned();
    let key = created["apiKey"].as_str().unwrap().to_owned();

    let manifest_arg = manifest.display().to_string();
    let (ok, out, err) = docket(&[
        "deploy",
        &manifest_arg,
        "--tenant",
        "acme",
        "--server",
        &base,
        "--token",
        &token,
    ]);
    assert!(ok, "{err}");
    assert_eq!(json_of(&out)["version"], 1);

    let (ok, out, err) = docket(&[
        "invoke",
        "acme",
        "greet",
        "--server",
        &base,
        "--api-key",
        &key,
        "--document-id",
        DOC,
        "--document-version-id",
        VER,
    ]);
    assert!(ok, "{err}");
    assert_eq!(
        out.trim(),
        r#"HTTP 200 {"message":"from the cli","status":"success"}"#
    );

    let (ok, out, err) = docket(&[
        "keys", "create", "--tenant", "acme", "--server", &base, "--token", &token,
    ]);
    assert!(ok, "{err}");
    assert!(json_of(&out)["apiKey"].as_str().unwrap().starts_with("dk_"));
    let (ok, out, _) = docket(&[
        "keys", "list", "--tenant", "acme", "--server", &base, "--token", &token,
    ]);
    assert!(ok);
    assert_eq!(json_of(&out)["keys"].as_array().unwrap().len(), 2);

    let (ok, _, err) = docket(&["tenant", "list", "--server", &base, "--token", &token]);
    assert!(!ok, "a tenant token must not list tenants");
    assert!(err.contains("403"), "{err}");
}

/// `docket invoke <manifest>` runs an action locally and prints what Workfront would get.
#[test]
fn invoke_runs_a_manifest_locally() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("greet.wasm"), message_module("local run")).unwrap();
    let manifest = work.path().join("greet.toml");
    std::fs::write(&manifest, "name = \"greet\"\nmodule = \"greet.wasm\"\n").unwrap();
    let manifest_arg = manifest.display().to_string();
    let (ok, out, err) = docket(&[
        "invoke",
        &manifest_arg,
        "--document-id",
        DOC,
        "--document-version-id",
        VER,
    ]);
    assert!(ok, "{err}");
    assert_eq!(
        out.trim(),
        r#"HTTP 200 {"message":"local run","status":"success"}"#
    );
}

/// `docket invoke TENANT ACTION` finds the action in the manifests directory.
#[test]
fn invoke_finds_a_declarative_action_by_name() {
    let root = common::repo_root();
    let manifests = root.join("manifests").display().to_string();
    let (ok, out, err) = docket(&[
        "invoke",
        "demo",
        "review-gate",
        "--manifests",
        &manifests,
        "--username",
        "jane.doe",
        "--param",
        "stage=final",
        "--document-id",
        DOC,
        "--document-version-id",
        VER,
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("Final review signed off by jane.doe"), "{out}");
    let (ok, out, _) = docket(&[
        "invoke",
        "demo",
        "review-gate",
        "--manifests",
        &manifests,
        "--username",
        "eve",
        "--param",
        "stage=final",
        "--document-id",
        DOC,
        "--document-version-id",
        VER,
    ]);
    assert!(!ok);
    assert!(out.starts_with("HTTP 403"), "{out}");
}

/// `docket check` validates a manifests directory without serving.
#[test]
fn check_reports_each_tenant_or_the_bad_file() {
    let manifests = common::repo_root().join("manifests").display().to_string();
    let (ok, out, err) = docket(&["check", "--manifests", &manifests]);
    assert!(ok, "{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("ok: tenant demo: "))
        .unwrap_or_else(|| panic!("no line for the demo tenant: {out}"));
    // One example per language; these two are always there (`make run` builds them).
    for action in ["archive (command)", "review-gate (component)"] {
        assert!(line.contains(action), "{line}");
    }
}

/// Builds the project `docket new` made and checks it answers through
/// `docket invoke`: 200 with a user, 403 without.
fn invoke_new_project(dir: &std::path::Path, name: &str) {
    let manifest = dir.join(format!("{name}.toml"));
    let manifest = manifest.to_str().unwrap();
    let base = [
        "invoke",
        manifest,
        "--document-id",
        DOC,
        "--document-version-id",
        VER,
    ];
    let (ok, stdout, stderr) = docket(&[&base[..], &["--username", "jane.doe"]].concat());
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.starts_with("HTTP 200 "), "{stdout}");
    assert!(stdout.contains("jane.doe"), "{stdout}");
    let (_, stdout, _) = docket(&base);
    assert!(stdout.starts_with("HTTP 403 "), "{stdout}");
}

/// A language, the environment its toolchain needs, and the command that
/// builds a new project of it.
type TemplateBuild = (&'static str, Vec<(String, String)>, &'static str);

/// How each template builds, with the toolchain `make actions` keeps in `toolchains`.
fn template_builds(toolchains: &std::path::Path) -> Vec<TemplateBuild> {
    let at = |path: &str| toolchains.join(path).display().to_string();
    let var = |name: &str, path: &str| (name.to_owned(), at(path));
    let go = "go/usr/lib/go-1.23";
    vec![
        (
            "zig",
            vec![
                var("PYTHONPATH", "zig"),
                var("ZIG_GLOBAL_CACHE_DIR", "zig-cache"),
            ],
            "bash build.sh",
        ),
        ("assemblyscript", vec![], "npm run --silent build"),
        (
            "go",
            vec![
                var("GO", &format!("{go}/bin/go")),
                var("GOROOT", go),
                var("GOCACHE", "go/cache"),
                var("GOPATH", "go/gopath"),
                var("XDG_CONFIG_HOME", "go/config"),
                ("GOPROXY".into(), "off".into()),
            ],
            "bash build.sh",
        ),
        ("js", vec![], "npm run --silent build"),
        (
            "python",
            vec![
                var("PYTHONPATH", "python"),
                (
                    "PATH".into(),
                    format!(
                        "{}:{}",
                        at("python/bin"),
                        std::env::var("PATH").unwrap_or_default()
                    ),
                ),
            ],
            "bash build.sh",
        ),
    ]
}

/// `docket new` in every language: the project builds with only its toolchain
/// and the helper it was given, and runs.
#[test]
fn new_projects_build_and_run() {
    let work = tempfile::tempdir().unwrap();
    let (ok, stdout, stderr) = docket(&["new", "--lang", "list", "x"]);
    assert!(ok, "{stderr}");
    for lang in ["assemblyscript", "c", "go", "js", "python", "rust", "zig"] {
        assert!(
            stdout.lines().any(|l| l == lang),
            "{lang} missing from {stdout}"
        );
    }

    let c_dir = work.path().join("c-hello");
    let (ok, stdout, stderr) = docket(&[
        "new",
        "--lang",
        "c",
        "c-hello",
        "--dir",
        c_dir.to_str().unwrap(),
    ]);
    assert!(ok, "{stdout}{stderr}");
    let built = Command::new("clang")
        .args([
            "--target=wasm32-wasi",
            "-O2",
            "-Wall",
            "-Werror",
            "-o",
            "c-hello.wasm",
            "c-hello.c",
        ])
        .current_dir(&c_dir)
        .status()
        .expect("clang (installed by `make actions`)");
    assert!(built.success());
    invoke_new_project(&c_dir, "c-hello");

    let rust_dir = work.path().join("rust-hello");
    let (ok, _, stderr) = docket(&["new", "rust-hello", "--dir", rust_dir.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let built = Command::new(env!("CARGO"))
        .args([
            "build",
            "--offline",
            "--quiet",
            "--release",
            "--target",
            "wasm32-wasip1",
        ])
        .current_dir(&rust_dir)
        .status()
        .unwrap();
    assert!(built.success());
    invoke_new_project(&rust_dir, "rust-hello");

    // The other languages, with the toolchains `make actions` installed.
    let toolchains = common::repo_root().join(".toolchains");
    for (lang, env, build) in template_builds(&toolchains) {
        let name = format!("{lang}-hello");
        let dir = work.path().join(&name);
        let (ok, _, stderr) =
            docket(&["new", "--lang", lang, &name, "--dir", dir.to_str().unwrap()]);
        assert!(ok, "{lang}: {stderr}");
        if lang == "assemblyscript" || lang == "js" {
            std::os::unix::fs::symlink(
                toolchains.join(lang).join("node_modules"),
                dir.join("node_modules"),
            )
            .unwrap();
        }
        let output = Command::new("bash")
            .args(["-c", build])
            .envs(env)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{lang}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        invoke_new_project(&dir, &name);
    }

    // A second `new` into the same place is refused and changes nothing.
    let (ok, _, stderr) = docket(&[
        "new",
        "--lang",
        "c",
        "c-hello",
        "--dir",
        c_dir.to_str().unwrap(),
    ]);
    assert!(!ok && stderr.contains("not empty"), "{stderr}");
    let (ok, _, stderr) = docket(&[
        "new",
        "--lang",
        "cobol",
        "x",
        "--dir",
        work.path().join("x").to_str().unwrap(),
    ]);
    assert!(
        !ok && stderr.contains("no template for language \"cobol\""),
        "{stderr}"
    );
}

/// `docket invoke --secret` hands a local run the secrets its manifest grants, and only those.
#[test]
fn local_invoke_passes_only_granted_secrets() {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("probe.wasm"),
        common::built_guest("sandbox-probe"),
    )
    .unwrap();
    let manifest = work.path().join("probe.toml");
    std::fs::write(
        &manifest,
        "name = \"probe\"\nmodule = \"probe.wasm\"\n[capabilities]\nsecrets = [\"api-token\"]\n",
    )
    .unwrap();
    let manifest = manifest.to_str().unwrap();
    let run = |name: &str| {
        let param = format!("secret={name}");
        let (ok, stdout, stderr) = docket(&[
            "invoke",
            manifest,
            "--document-id",
            DOC,
            "--document-version-id",
            VER,
            "--param",
            &param,
            "--secret",
            "api-token=s3cret",
            "--secret",
            "other=nope",
        ]);
        assert!(ok, "{stderr}");
        stdout
    };
    assert!(
        run("api-token").contains("secret api-token = s3cret"),
        "{}",
        run("api-token")
    );
    assert!(
        run("other").contains("secret other is not available"),
        "{}",
        run("other")
    );
}

/// `docket invoke` and the server take the same path to an answer: for the
/// same manifest, module and request they answer byte for byte alike (the
/// server's request id aside), a success, an action's failure, a crash and a
/// time limit worded from the limits the invocation really ran under.
#[tokio::test]
async fn local_invoke_and_the_server_answer_alike() {
    let manifests = common::Manifests::new();
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("greet", message_module("same everywhere"), ""),
        ("grumble", common::guest("exit_with_stderr"), ""),
        ("crash", common::guest("trap"), ""),
        (
            "spin",
            common::guest("loop"),
            "[limits]\ntimeout-ms = 300\n",
        ),
    ];
    for (name, module, extra) in &cases {
        manifests.action("acme", name, module, extra);
    }
    let server = Server::start(manifests.path(), &["acme"]);
    for (name, _, _) in &cases {
        let (status, body) = server.custom_action("acme", name, "").await;
        let served = format!("HTTP {status} {body}");
        let manifest = manifests.path().join("acme").join(format!("{name}.toml"));
        let manifest = manifest.display().to_string();
        let (_, local, err) = docket(&[
            "invoke",
            &manifest,
            "--username",
            "jane.doe",
            "--document-id",
            DOC,
            "--document-version-id",
            VER,
        ]);
        let without_id = |text: &str| match text.find(" (request id ") {
            Some(at) => {
                let end = text[at..].find(')').map_or(text.len(), |e| at + e + 1);
                format!("{}{}", &text[..at], &text[end..])
            }
            None => text.to_owned(),
        };
        assert_eq!(without_id(&served), local.trim(), "{name}: {err}");
    }
}
