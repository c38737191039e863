//! The `docket` command line's dev loop against a real server: tenant create,
//! deploy, keys, and invoke (locally and through the server).

mod common;

use common::{DOC, OPERATOR, Server, VER, message_module};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn docket(args: &[&str]) -> (bool, String, String) {
    docket_with_env(args, &[])
}

/// `docket` with nothing of the caller's environment that would change
/// what it does, and then `env`. Local runs cache compiled modules under
/// the target directory, not in the user's own cache.
fn docket_command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_docket"));
    command.args(args).env("DOCKET_LOG", "warn").env(
        "DOCKET_CACHE_DIR",
        concat!(env!("CARGO_TARGET_TMPDIR"), "/cli-artifacts"),
    );
    for name in [
        "DOCKET_TOKEN",
        "DOCKET_ADMIN_TOKEN",
        "DOCKET_SERVER",
        "DOCKET_API_KEY",
        "DOCKET_MANIFESTS",
        "DOCKET_TENANT",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    command
}

fn docket_with_env(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let output = docket_command(args, env).output().unwrap();
    common::outcome(output)
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

/// A manifest of `greet.wasm` answering `message`, in `dir`.
fn greet_manifest(dir: &Path, message: &str) -> PathBuf {
    std::fs::write(dir.join("greet.wasm"), message_module(message)).unwrap();
    let manifest = dir.join("greet.toml");
    std::fs::write(&manifest, "name = \"greet\"\nmodule = \"greet.wasm\"\n").unwrap();
    manifest
}

/// `docket invoke MANIFEST` with the artifact cache in `cache` and a debug
/// log line saying where the module came from (`from="compiled"` or
/// `from="artifact"`); returns (success, stdout, stderr).
fn invoke_with_cache(manifest: &Path, cache: &Path, extra: &[&str]) -> (bool, String, String) {
    let manifest = manifest.to_str().unwrap();
    let mut args = vec![
        "invoke",
        manifest,
        "--document-id",
        DOC,
        "--document-version-id",
        VER,
    ];
    args.extend(extra);
    let cache = cache.to_str().unwrap();
    let env = [("DOCKET_CACHE_DIR", cache), ("DOCKET_LOG", "docket=debug")];
    docket_with_env(&args, &env)
}

/// The artifacts in a cache: `<module sha256>/<fingerprint>.cwasm`.
fn cached_artifacts(cache: &Path) -> Vec<PathBuf> {
    let Ok(modules) = std::fs::read_dir(cache) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for module in modules {
        for file in std::fs::read_dir(module.unwrap().path()).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "cwasm") {
                found.push(path);
            }
        }
    }
    found
}

/// The lines of `stderr` that are warnings.
fn warnings(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The first `docket invoke` of a build compiles it and caches the artifact
/// under the module's SHA-256 with the artifact's own SHA-256 beside it,
/// private to the user; the next run gets the same answer from the artifact
/// without compiling.
#[test]
fn invoke_caches_the_compiled_module_and_the_next_run_loads_it() {
    use sha2::{Digest, Sha256};
    let work = tempfile::tempdir().unwrap();
    let manifest = greet_manifest(work.path(), "cached");
    let cache = work.path().join("cache");
    let expected = r#"HTTP 200 {"message":"cached","status":"success"}"#;

    let (ok, out, err) = invoke_with_cache(&manifest, &cache, &[]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), expected);
    assert!(err.contains(r#"from="compiled""#), "{err}");
    assert!(warnings(&err).is_empty(), "{err}");
    let artifacts = cached_artifacts(&cache);
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    let artifact = &artifacts[0];
    let module_dir = artifact.parent().unwrap();
    let module = std::fs::read(work.path().join("greet.wasm")).unwrap();
    assert_eq!(
        module_dir.file_name().unwrap().to_str().unwrap(),
        hex::encode(Sha256::digest(&module))
    );
    let recorded = std::fs::read_to_string(artifact.with_extension("sha256")).unwrap();
    let bytes = std::fs::read(artifact).unwrap();
    assert_eq!(recorded.trim(), hex::encode(Sha256::digest(&bytes)));
    assert_eq!(mode(artifact), 0o600);
    assert_eq!(mode(&artifact.with_extension("sha256")), 0o600);
    assert_eq!(mode(module_dir), 0o700);
    assert_eq!(mode(&cache), 0o700);

    let (ok, out, err) = invoke_with_cache(&manifest, &cache, &[]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), expected, "the same answer from the artifact");
    assert!(err.contains(r#"from="artifact""#), "{err}");
    assert!(!err.contains(r#"from="compiled""#), "{err}");
    assert!(warnings(&err).is_empty(), "{err}");
    assert_eq!(cached_artifacts(&cache), artifacts);
}

/// An artifact whose bytes changed since Docket wrote them is never
/// deserialized: its hash gives it away, the run warns naming it, compiles,
/// answers as before and caches a good artifact again.
#[test]
fn a_corrupted_cached_artifact_is_caught_by_its_hash_and_recompiled() {
    let work = tempfile::tempdir().unwrap();
    let manifest = greet_manifest(work.path(), "still right");
    let cache = work.path().join("cache");
    let expected = r#"HTTP 200 {"message":"still right","status":"success"}"#;
    let (ok, _, err) = invoke_with_cache(&manifest, &cache, &[]);
    assert!(ok, "{err}");
    let artifact = cached_artifacts(&cache).pop().expect("an artifact cached");

    // Same length, different bytes in the middle of the compiled code.
    let mut bytes = std::fs::read(&artifact).unwrap();
    let middle = bytes.len() / 2;
    for byte in &mut bytes[middle..middle + 64] {
        *byte ^= 0xff;
    }
    std::fs::write(&artifact, &bytes).unwrap();

    let (ok, out, err) = invoke_with_cache(&manifest, &cache, &[]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), expected);
    let warned = warnings(&err);
    assert_eq!(warned.len(), 1, "one warning: {err}");
    assert!(
        warned[0].contains(artifact.to_str().unwrap()) && warned[0].contains("SHA-256"),
        "{err}"
    );
    assert!(err.contains(r#"from="compiled""#), "{err}");
    assert!(!err.contains(r#"from="artifact""#), "{err}");

    let (ok, out, err) = invoke_with_cache(&manifest, &cache, &[]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), expected);
    assert!(err.contains(r#"from="artifact""#), "rewritten: {err}");
    assert!(warnings(&err).is_empty(), "{err}");
}

/// `--no-cache` compiles without writing the cache, and without reading a
/// filled one; `replay` takes the flag too.
#[test]
fn no_cache_neither_writes_nor_reads_the_cache() {
    let work = tempfile::tempdir().unwrap();
    let manifest = greet_manifest(work.path(), "uncached");
    let cache = work.path().join("cache");
    let (ok, out, err) = invoke_with_cache(&manifest, &cache, &["--no-cache"]);
    assert!(ok, "{err}");
    assert_eq!(
        out.trim(),
        r#"HTTP 200 {"message":"uncached","status":"success"}"#
    );
    assert!(err.contains(r#"from="compiled""#), "{err}");
    assert!(!cache.exists(), "--no-cache wrote {}", cache.display());

    let (ok, _, err) = invoke_with_cache(&manifest, &cache, &[]);
    assert!(ok, "{err}");
    let filled = cached_artifacts(&cache);
    assert_eq!(filled.len(), 1);
    let (ok, _, err) = invoke_with_cache(&manifest, &cache, &["--no-cache"]);
    assert!(ok, "{err}");
    assert!(err.contains(r#"from="compiled""#), "{err}");
    assert!(!err.contains(r#"from="artifact""#), "{err}");

    let (ok, help, err) = docket(&["replay", "--help"]);
    assert!(ok, "{err}");
    assert!(help.contains("--no-cache"), "{help}");
}

/// A cache that cannot be written, or that other users could write to, costs
/// the compile and one warning naming it, never the run.
#[test]
fn an_unusable_cache_never_fails_the_run() {
    use std::os::unix::fs::PermissionsExt;
    let work = tempfile::tempdir().unwrap();
    let manifest = greet_manifest(work.path(), "regardless");
    let expected = r#"HTTP 200 {"message":"regardless","status":"success"}"#;

    // Under a regular file: no directory can be made there, even by root.
    let file = work.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let cache = file.join("cache");
    let (ok, out, err) = invoke_with_cache(&manifest, &cache, &[]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), expected);
    let warned = warnings(&err);
    assert_eq!(warned.len(), 1, "{err}");
    assert!(warned[0].contains(cache.to_str().unwrap()), "{err}");

    // Writable by everyone: artifacts there may not be Docket's.
    let shared = work.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (ok, out, err) = invoke_with_cache(&manifest, &shared, &[]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), expected);
    let warned = warnings(&err);
    assert_eq!(warned.len(), 1, "{err}");
    assert!(
        warned[0].contains(shared.to_str().unwrap()) && warned[0].contains("other users"),
        "{err}"
    );
    assert!(
        cached_artifacts(&shared).is_empty(),
        "nothing written there"
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
    let (ok, stdout, stderr) = docket(&["new", "--lang", "list"]);
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

    // Rust: `the_rust_template_builds_beside_its_manifest_wherever_cargo_builds`.

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

/// The Rust template's build puts the module beside the manifest, which names
/// it there, wherever Cargo builds (here a CARGO_TARGET_DIR elsewhere): the
/// project invokes, and its manifest and module copied into a tenant's
/// directory pass `docket check`.
#[test]
fn the_rust_template_builds_beside_its_manifest_wherever_cargo_builds() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("rust-hello");
    let (ok, _, stderr) = docket(&["new", "rust-hello", "--dir", dir.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let manifest = std::fs::read_to_string(dir.join("rust-hello.toml")).unwrap();
    assert!(
        manifest.contains("module = \"rust-hello.wasm\""),
        "{manifest}"
    );
    let elsewhere = work.path().join("cargo-target");
    let output = Command::new("bash")
        .args(["build.sh", "--offline", "--quiet"])
        .env("CARGO", env!("CARGO"))
        .env("CARGO_TARGET_DIR", &elsewhere)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        elsewhere
            .join("wasm32-wasip1/release/rust-hello.wasm")
            .is_file()
    );
    assert!(!dir.join("target").exists(), "built in CARGO_TARGET_DIR");
    invoke_new_project(&dir, "rust-hello");

    let manifest_arg = dir.join("rust-hello.toml").display().to_string();
    let (ok, out, err) = docket(&["check", &manifest_arg]);
    assert!(ok, "{out}{err}");
    assert!(out.starts_with("ok: action rust-hello (command)"), "{out}");

    let manifests = work.path().join("manifests");
    std::fs::create_dir_all(manifests.join("acme")).unwrap();
    for file in ["rust-hello.toml", "rust-hello.wasm"] {
        std::fs::copy(dir.join(file), manifests.join("acme").join(file)).unwrap();
    }
    let (ok, out, err) = docket(&["check", "--manifests", manifests.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(
        out.contains("ok: tenant acme: rust-hello (command)"),
        "{out}"
    );

    // Every template's README says how to deploy.
    for lang in ["assemblyscript", "c", "go", "js", "python", "rust", "zig"] {
        let readme = common::repo_root()
            .join("templates")
            .join(lang)
            .join("README.md");
        let text = std::fs::read_to_string(&readme).unwrap();
        assert!(
            text.contains("docket deploy {{name}}.toml"),
            "{}: no `docket deploy`",
            readme.display()
        );
    }
}

/// `invoke` and `check` take `--module FILE`, as `deploy` and `replay` do:
/// the manifest then needs no `module` key. A manifest whose module is not
/// built says so.
#[test]
fn invoke_and_check_take_the_module_as_a_flag() {
    let work = tempfile::tempdir().unwrap();
    let module = work.path().join("build").join("out.wasm");
    std::fs::create_dir_all(module.parent().unwrap()).unwrap();
    std::fs::write(&module, message_module("from --module")).unwrap();
    let manifest = work.path().join("greet.toml");
    std::fs::write(&manifest, "name = \"greet\"\n").unwrap();
    let (manifest, module) = (manifest.display().to_string(), module.display().to_string());
    let ids = ["--document-id", DOC, "--document-version-id", VER];

    let (ok, out, err) = docket(&[&["invoke", &manifest, "--module", &module][..], &ids].concat());
    assert!(ok, "{err}");
    assert_eq!(
        out.trim(),
        r#"HTTP 200 {"message":"from --module","status":"success"}"#
    );
    let (ok, out, err) = docket(&["check", &manifest, "--module", &module]);
    assert!(ok, "{err}");
    assert!(out.starts_with("ok: action greet (command)"), "{out}");
    let (ok, _, err) = docket(&["check", &manifest]);
    assert!(!ok, "a manifest without `module` needs --module");
    assert!(
        err.starts_with("error: ") && err.contains("module"),
        "{err}"
    );

    let unbuilt = work.path().join("unbuilt.toml");
    std::fs::write(&unbuilt, "name = \"unbuilt\"\nmodule = \"unbuilt.wasm\"\n").unwrap();
    let unbuilt = unbuilt.display().to_string();
    let (ok, _, err) = docket(&[&["invoke", &unbuilt][..], &ids].concat());
    assert!(!ok);
    assert!(err.contains("not built yet"), "{err}");

    // --module is a build on this machine; a server runs what was deployed.
    let (ok, _, err) = docket(
        &[
            &[
                "invoke",
                "acme",
                "greet",
                "--module",
                &module,
                "--api-key",
                "k",
            ][..],
            &ids,
        ]
        .concat(),
    );
    assert!(!ok);
    assert!(err.contains("docket deploy --module"), "{err}");
}

/// `invoke` with `--api-key` and no `--server` calls the default server,
/// http://127.0.0.1:8080, as the other commands do; it does not run locally.
#[test]
fn invoke_with_an_api_key_calls_the_default_server() {
    let (_, out, err) = docket(&[
        "invoke",
        "no-such-tenant",
        "greet",
        "--api-key",
        "some-key-0123456789",
        "--document-id",
        DOC,
        "--document-version-id",
        VER,
    ]);
    assert!(
        err.contains("cannot reach http://127.0.0.1:8080") || out.starts_with("HTTP "),
        "{out}{err}"
    );
    assert!(!err.contains("reading manifests"), "ran locally: {err}");
}

/// `docket new --lang list` needs no NAME; `docket new` without one says
/// what it needs.
#[test]
fn new_lang_list_needs_no_name() {
    let (ok, out, err) = docket(&["new", "--lang", "list"]);
    assert!(ok, "{err}");
    assert!(out.lines().any(|l| l == "rust"), "{out}");
    let (ok, _, err) = docket(&["new", "--help"]);
    assert!(ok && !err.contains("error"), "{err}");
    let (ok, _, err) = docket(&["new"]);
    assert!(!ok);
    assert!(err.contains("NAME") && err.contains("--lang list"), "{err}");
}

/// The admin commands read the token from DOCKET_ADMIN_TOKEN, the name the
/// server reads it from (the older DOCKET_TOKEN still works), and `tenant
/// delete` wants `--yes` where it cannot ask.
#[test]
fn the_admin_token_has_one_name_and_delete_asks_first() {
    let server = Server::hosted(&[]);
    let base = server.base.as_str();
    let (ok, out, err) = docket_with_env(
        &["tenant", "create", "acme", "--server", base],
        &[("DOCKET_ADMIN_TOKEN", OPERATOR)],
    );
    assert!(ok, "{err}");
    assert_eq!(json_of(&out)["name"], "acme");
    let (ok, _, err) = docket_with_env(
        &["tenant", "list", "--server", base],
        &[("DOCKET_TOKEN", OPERATOR)],
    );
    assert!(ok, "the older DOCKET_TOKEN: {err}");
    let (ok, _, err) = docket(&["tenant", "list", "--server", base]);
    assert!(!ok);
    assert!(err.contains("DOCKET_ADMIN_TOKEN"), "{err}");
    let (ok, help, _) = docket(&["tenant", "list", "--help"]);
    assert!(ok && help.contains("env: DOCKET_ADMIN_TOKEN"), "{help}");

    let listed = |server: &str| {
        let (ok, out, err) = docket(&["tenant", "list", "--server", server, "--token", OPERATOR]);
        assert!(ok, "{err}");
        out
    };
    let (ok, _, err) = docket(&[
        "tenant", "delete", "acme", "--server", base, "--token", OPERATOR,
    ]);
    assert!(!ok, "deleted without --yes");
    assert!(err.contains("--yes"), "{err}");
    assert!(listed(base).contains("\"acme\""), "still there");
    let (ok, out, err) = docket(&[
        "tenant", "delete", "acme", "--yes", "--server", base, "--token", OPERATOR,
    ]);
    assert!(ok, "{err}");
    assert_eq!(json_of(&out)["deleted"], "acme");
    assert!(!listed(base).contains("\"acme\""), "deleted");
}

/// `docket logs` shows why an invocation failed (the error Workfront got,
/// and the end of stderr); `docket invoke --server` prints the request id
/// `docket replay` takes; and a reader that stops early (`| head`) ends the
/// CLI quietly with status 0.
#[test]
fn logs_say_why_and_invoke_names_the_request() {
    let server = Server::hosted(&[]);
    let base = server.base.as_str();
    let (ok, out, err) = docket(&[
        "tenant", "create", "acme", "--server", base, "--token", OPERATOR,
    ]);
    assert!(ok, "{err}");
    let created = json_of(&out);
    let token = created["adminToken"].as_str().unwrap().to_owned();
    let key = created["apiKey"].as_str().unwrap().to_owned();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("fails.wasm"),
        common::guest("exit_with_stderr"),
    )
    .unwrap();
    let manifest = work.path().join("fails.toml");
    std::fs::write(&manifest, "name = \"fails\"\nmodule = \"fails.wasm\"\n").unwrap();
    let as_tenant = [
        ("DOCKET_ADMIN_TOKEN", token.as_str()),
        ("DOCKET_SERVER", base),
    ];
    let (ok, _, err) = docket_with_env(
        &["deploy", manifest.to_str().unwrap(), "--tenant", "acme"],
        &as_tenant,
    );
    assert!(ok, "{err}");

    let (ok, out, err) = docket(&[
        "invoke",
        "acme",
        "fails",
        "--server",
        base,
        "--api-key",
        &key,
        "--document-id",
        DOC,
        "--document-version-id",
        VER,
    ]);
    assert!(!ok && out.starts_with("HTTP 500 "), "{out}{err}");
    let request_id = err
        .lines()
        .find_map(|l| l.strip_prefix("request id: "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no request id on stderr: {err}"))
        .to_owned();
    assert_eq!(request_id.len(), 32, "{err}");
    assert!(
        err.contains(&format!("docket replay acme {request_id}")),
        "{err}"
    );

    // Records are written in batches, off the request path.
    let deadline = Instant::now() + Duration::from_secs(10);
    let logs = loop {
        let (ok, out, err) = docket_with_env(&["logs", "acme"], &as_tenant);
        assert!(ok, "{err}");
        if out.contains(&request_id) || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let lines: Vec<&str> = logs.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.ends_with(&request_id))
        .unwrap_or_else(|| panic!("no line for {request_id}: {logs}"));
    assert!(lines[at].contains("  fails@1  failure  "), "{logs}");
    assert_eq!(lines[at + 1], "    error: something went wrong", "{logs}");
    assert_eq!(lines[at + 2], "    stderr: something went wrong", "{logs}");

    // `docket logs acme | head -0`, and `docket new --lang list` likewise:
    // the reader is gone before anything is printed.
    for args in [&["logs", "acme"][..], &["new", "--lang", "list"]] {
        let mut child = docket_command(args, &as_tenant)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{args:?}: {:?} {stderr}",
            output.status
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// The commands that run an action here list the flags an author needs;
/// the operator's tuning of a server is hidden from their help, still
/// accepted, and listed by `docket serve --help`.
#[test]
fn local_commands_hide_the_server_tuning_flags() {
    for command in ["invoke", "check", "replay"] {
        let (ok, help, err) = docket(&[command, "--help"]);
        assert!(ok, "{err}");
        for shown in [
            "--max-timeout-ms",
            "--max-memory-mb",
            "--allow-private-outbound",
        ] {
            let listed = help.lines().any(|l| l.trim_start().starts_with(shown));
            assert!(listed, "{command}: {shown} missing: {help}");
        }
        for hidden in [
            "--max-instances",
            "--wasm-threads",
            "--tenant-cpu-share",
            "--compile-concurrency",
            "--max-br-table-targets",
            "--kv-max-tenant-mb",
        ] {
            let listed = help.lines().any(|l| l.trim_start().starts_with(hidden));
            assert!(!listed, "{command}: {hidden} listed: {help}");
        }
    }
    let (ok, help, _) = docket(&["serve", "--help"]);
    assert!(ok && help.contains("--max-instances") && help.contains("--wasm-threads"));

    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("greet.wasm"), message_module("tuned")).unwrap();
    let manifest = work.path().join("greet.toml");
    std::fs::write(&manifest, "name = \"greet\"\nmodule = \"greet.wasm\"\n").unwrap();
    let (ok, out, err) = docket(&[
        "invoke",
        manifest.to_str().unwrap(),
        "--max-instances",
        "10",
        "--wasm-threads",
        "1",
        "--document-id",
        DOC,
        "--document-version-id",
        VER,
    ]);
    assert!(ok, "{err}");
    assert!(out.starts_with("HTTP 200 "), "{out}");
}

/// A user's mistake is one line, `error: …` with its causes, and no
/// backtrace even with RUST_BACKTRACE set.
#[test]
fn user_errors_are_one_line_without_a_backtrace() {
    let work = tempfile::tempdir().unwrap();
    let missing = work.path().join("missing.toml");
    let (ok, out, err) = docket_with_env(
        &[
            "invoke",
            missing.to_str().unwrap(),
            "--document-id",
            DOC,
            "--document-version-id",
            VER,
        ],
        &[("RUST_BACKTRACE", "1")],
    );
    assert!(!ok && out.is_empty(), "{out}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("missing.toml"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        !err.contains("backtrace") && !err.contains("Caused by"),
        "{err}"
    );
}

/// `docket serve` refuses a webhook key or admin token under 16 characters
/// set by the operator, naming the variable and the minimum.
#[test]
fn weak_keys_and_tokens_are_refused_at_start() {
    let manifests = common::Manifests::new();
    manifests.action("acme", "greet", &message_module("hi"), "");
    let dir = manifests.path().to_str().unwrap();
    let cases: [(&[&str], (&str, &str), &str); 3] = [
        (
            &["--manifests", dir],
            ("DOCKET_API_KEY_ACME", "abc"),
            "DOCKET_API_KEY_ACME is 3 characters long",
        ),
        (
            &["--manifests", dir],
            ("DOCKET_ADMIN_TOKEN_ACME", "0123456789"),
            "DOCKET_ADMIN_TOKEN_ACME is 10 characters long",
        ),
        (
            &[],
            ("DOCKET_ADMIN_TOKEN", "twelve-chars"),
            "DOCKET_ADMIN_TOKEN) is 12 characters long",
        ),
    ];
    for (args, (var, value), expected) in cases {
        let data = tempfile::tempdir().unwrap();
        let mut child = docket_command(&["serve", "--listen", "127.0.0.1:0"], &[(var, value)])
            .arg("--data-dir")
            .arg(data.path())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{var}={value}: docket serve started");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let output = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert!(err.contains(expected), "{var}: {err}");
        assert!(err.contains("at least 16"), "{var}: {err}");
    }
}

/// The README's "Command line" block is what the binary accepts: every
/// command it lists exists, and every flag it names is in that command's
/// `--help` (or, for the server-tuning flags the local commands hide, in
/// `serve --help`), so the docs cannot drift from the binary unnoticed.
#[test]
fn the_readme_command_line_block_matches_the_binary() {
    let readme = std::fs::read_to_string(common::repo_root().join("README.md")).unwrap();
    let section = readme
        .split("## Command line")
        .nth(1)
        .expect("README has a Command line section");
    let block = section
        .split("```text")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the section opens with a text block");
    let help = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_docket"))
            .args(args)
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "docket {args:?} --help failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let serve_help = help(&["serve"]);
    let mut command: Vec<String> = Vec::new();
    let mut checked = 0;
    // A flag as a whole word of the help (`--limit` is not `--limit-x`).
    let has_flag = |text: &str, flag: &str| {
        text.match_indices(flag).any(|(at, _)| {
            let after = text[at + flag.len()..].chars().next();
            !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
        })
    };
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        let code = line.split(" # ").next().unwrap_or(line);
        if let Some(rest) = code.strip_prefix("docket ") {
            let mut words = rest.split_whitespace();
            command = vec![words.next().unwrap().to_owned()];
            if ["tenant", "keys", "oauth"].contains(&command[0].as_str()) {
                // `tenant create <name> | list | …`: each subcommand exists.
                for sub in rest.split('|') {
                    let sub = sub
                        .split_whitespace()
                        .find(|w| !w.starts_with(['<', '[', '-']));
                    let sub = sub.filter(|s| *s != command[0].as_str());
                    if let Some(sub) = sub {
                        help(&[command[0].as_str(), sub]);
                        checked += 1;
                    }
                }
            }
        }
        assert!(
            !command.is_empty(),
            "a flag line before any command: {line}"
        );
        let text = if ["tenant", "keys", "oauth"].contains(&command[0].as_str()) {
            // Their flags are the subcommands'; this one has them all.
            help(&[
                command[0].as_str(),
                match command[0].as_str() {
                    "tenant" => "delete",
                    "keys" => "list",
                    _ => "configure",
                },
            ])
        } else {
            help(&[command[0].as_str()])
        };
        for flag in code
            .split(|c: char| c.is_whitespace() || c == '[' || c == ']')
            .filter(|w| w.starts_with("--"))
        {
            let flag = flag.trim_end_matches(['.', ',']);
            let known = has_flag(&text, flag) || has_flag(&serve_help, flag);
            assert!(
                known,
                "README lists `docket {} {flag}`; the binary does not know it",
                command[0]
            );
            checked += 1;
        }
    }
    assert!(
        checked > 40,
        "only {checked} flags checked: is the block still there?"
    );
}

/// `docket invoke MANIFEST --endpoint NAME` runs one endpoint of a document
/// provider on this machine, its parameters from `--param`, read as the
/// server reads them, and prints what Workfront would get: Docket Drive's
/// root folder; the probe's refusals, 501s, downloads to stdout or a file,
/// and a download cut short.
#[test]
fn invoke_runs_a_provider_endpoint_locally() {
    let work = tempfile::tempdir().unwrap();
    let drive = work.path().join("drive.toml");
    std::fs::write(
        &drive,
        "name = \"docket-drive\"\nkind = \"provider\"\n[capabilities]\nkey-value = \"action\"\nblob = true\n",
    )
    .unwrap();
    let drive_module = work.path().join("drive.wasm");
    std::fs::write(&drive_module, common::example_action("docket-drive")).unwrap();
    let (drive, drive_module) = (
        drive.display().to_string(),
        drive_module.display().to_string(),
    );
    // Blobs go to .docket/blobs in the working directory: the temporary one.
    let run = |manifest: &str, module: &str, args: &[&str]| {
        let mut command = docket_command(
            &[&["invoke", manifest, "--module", module][..], args].concat(),
            &[],
        );
        common::outcome(command.current_dir(work.path()).output().unwrap())
    };
    let (ok, out, err) = run(
        &drive,
        &drive_module,
        &["--endpoint", "metadata", "--param", "id=/"],
    );
    assert!(ok, "{out}{err}");
    let body = out
        .trim()
        .strip_prefix("HTTP 200 ")
        .unwrap_or_else(|| panic!("{out}"));
    let root = json_of(body);
    assert_eq!(
        (&root["id"], &root["kind"]),
        (&"/".into(), &"folder".into()),
        "{root}"
    );
    let (ok, out, err) = run(
        &drive,
        &drive_module,
        &["--endpoint", "files", "--param", "parentId=/"],
    );
    assert!(ok, "{err}");
    assert!(
        json_of(out.trim().strip_prefix("HTTP 200 ").unwrap()).is_array(),
        "{out}"
    );
    // A missing parameter is the server's 400, before anything runs.
    let (ok, out, _) = run(&drive, &drive_module, &["--endpoint", "metadata"]);
    assert!(!ok);
    assert!(out.starts_with("HTTP 400 ") && out.contains("id"), "{out}");

    // The probe (metadata, files and download only).
    let probe = work.path().join("probe.toml");
    std::fs::write(&probe, "name = \"probe\"\nkind = \"provider\"\n").unwrap();
    let probe_module = work.path().join("probe.wasm");
    std::fs::write(&probe_module, common::built_guest("provider-probe")).unwrap();
    let (probe, probe_module) = (
        probe.display().to_string(),
        probe_module.display().to_string(),
    );
    let (ok, out, _) = run(
        &probe,
        &probe_module,
        &["--endpoint", "metadata", "--param", "id=missing"],
    );
    assert!(!ok && out.starts_with("HTTP 404 "), "{out}");
    let (ok, out, _) = run(
        &probe,
        &probe_module,
        &["--endpoint", "thumbnail", "--param", "id=x"],
    );
    assert!(
        !ok && out.starts_with("HTTP 501 ") && out.contains("thumbnail"),
        "{out}"
    );
    let (ok, out, err) = run(
        &probe,
        &probe_module,
        &[
            "--endpoint",
            "files",
            "--param",
            "parentId=/p",
            "--param",
            "max=2",
            "--param",
            "offset=4",
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(
        out.trim(),
        r#"HTTP 200 [{"id":"/p/4","kind":"file","mimeType":"text/plain","size":5,"title":"4"},{"id":"/p/5","kind":"file","mimeType":"text/plain","size":5,"title":"5"}]"#
    );
    // A download's bytes go to stdout (the status line to stderr), or to --output.
    let (ok, out, err) = run(
        &probe,
        &probe_module,
        &["--endpoint", "download", "--param", "id=fine"],
    );
    assert!(ok, "{err}");
    assert_eq!(out, "hello");
    assert!(
        err.contains(r#"HTTP 200 {"bytes":5,"status":"success"}"#),
        "{err}"
    );
    let saved = work.path().join("saved.txt");
    let saved_arg = saved.display().to_string();
    let (ok, out, err) = run(
        &probe,
        &probe_module,
        &[
            "--endpoint",
            "download",
            "--param",
            "id=fine",
            "--output",
            &saved_arg,
        ],
    );
    assert!(ok, "{err}");
    assert!(out.starts_with("HTTP 200 "), "{out}");
    assert_eq!(std::fs::read(&saved).unwrap(), b"hello");
    // The liar declares 10 bytes and writes 5: a failure, and a body cut short.
    let (ok, out, err) = run(
        &probe,
        &probe_module,
        &[
            "--endpoint",
            "download",
            "--param",
            "id=liar",
            "--output",
            &saved_arg,
        ],
    );
    assert!(!ok);
    assert!(
        out.starts_with("HTTP 500 ") && out.contains("declared 10"),
        "{out}"
    );
    assert!(err.contains("cut short"), "{err}");

    // --endpoint is for providers, and takes no document ids.
    let greet = greet_manifest(work.path(), "hi").display().to_string();
    let (ok, _, err) = docket(&["invoke", &greet, "--endpoint", "files"]);
    assert!(!ok && err.contains("not a document provider"), "{err}");
    let (ok, _, err) = docket(&["invoke", &probe, "--endpoint", "teleport"]);
    assert!(!ok && err.contains("metadata, files"), "{err}");
    let (ok, _, err) = docket(&[
        "invoke",
        &probe,
        "--endpoint",
        "files",
        "--document-id",
        DOC,
    ]);
    assert!(!ok && err.contains("--document-id"), "{err}");
}

/// `docket new --provider` in Rust and JavaScript: the files a provider
/// project needs (its manifest saying `kind = "provider"`, the provider
/// WIT, the JavaScript helper), languages without a provider template
/// refused naming those with one; the Rust project builds beside its
/// manifest and answers `files` and `metadata` through `docket invoke
/// --endpoint`, as the JavaScript one does when `make actions` installed
/// componentize-js.
#[test]
fn new_provider_projects_build_and_answer() {
    let work = tempfile::tempdir().unwrap();
    let (ok, out, err) = docket(&["new", "--provider", "--lang", "list"]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().collect::<Vec<_>>(), ["js", "rust"]);
    let (ok, out, _) = docket(&["new", "--lang", "list"]);
    assert!(ok && !out.contains("provider"), "{out}");
    let (ok, _, err) = docket(&[
        "new",
        "--provider",
        "--lang",
        "go",
        "x",
        "--dir",
        work.path().join("x").to_str().unwrap(),
    ]);
    assert!(!ok, "{err}");
    assert!(
        err.contains("no document-provider template for language \"go\"")
            && err.contains("js, rust"),
        "{err}"
    );
    assert!(!work.path().join("x").exists());

    let expected: [(&str, &[&str]); 2] = [
        (
            "rust",
            &[
                "Cargo.toml",
                "build.sh",
                "README.md",
                "src/lib.rs",
                "docket/wit-provider/provider.wit",
                "docket/wit-provider/deps/io/io.wit",
                "docket/wit-provider/deps/config/store.wit",
                "docket/wit-provider/deps/keyvalue/keyvalue.wit",
            ],
        ),
        (
            "js",
            &[
                "package.json",
                "README.md",
                "docket/provider.js",
                "wit/world.wit",
                "wit/deps/provider/provider.wit",
                "wit/deps/io/io.wit",
                "wit/deps/config/store.wit",
                "wit/deps/keyvalue/keyvalue.wit",
            ],
        ),
    ];
    for (lang, files) in expected {
        let name = format!("{lang}-drive");
        let dir = work.path().join(&name);
        let (ok, out, err) = docket(&[
            "new",
            "--provider",
            "--lang",
            lang,
            &name,
            "--dir",
            dir.to_str().unwrap(),
        ]);
        assert!(ok, "{lang}: {err}");
        assert!(out.contains("--endpoint"), "{out}");
        for file in files.iter().chain(&[&*format!("{name}.toml")]) {
            assert!(dir.join(file).is_file(), "{lang}: no {file}");
        }
        let manifest = std::fs::read_to_string(dir.join(format!("{name}.toml"))).unwrap();
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "{manifest}"
        );
        assert!(manifest.contains("kind = \"provider\""), "{manifest}");
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
        assert!(
            readme.contains(&format!("docket deploy {name}.toml")),
            "{readme}"
        );
        let sdk =
            std::fs::read(common::repo_root().join("guest-sdk/wit-provider/provider.wit")).unwrap();
        let copied = match lang {
            "rust" => "docket/wit-provider/provider.wit",
            _ => "wit/deps/provider/provider.wit",
        };
        assert_eq!(std::fs::read(dir.join(copied)).unwrap(), sdk, "{lang}");
    }
    let js = std::fs::read(work.path().join("js-drive/docket/provider.js")).unwrap();
    assert_eq!(
        js,
        std::fs::read(common::repo_root().join("guest-sdk/js/provider.js")).unwrap()
    );

    // The Rust provider builds (its module beside its manifest) and answers.
    let dir = work.path().join("rust-drive");
    let output = Command::new("bash")
        .args(["build.sh", "--offline", "--quiet"])
        .env("CARGO", env!("CARGO"))
        .env("CARGO_TARGET_DIR", work.path().join("cargo-target"))
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let built: Vec<(&str, PathBuf)> = vec![("rust", dir)];
    // The JavaScript one, with the componentize-js `make actions` installed.
    let toolchain = common::repo_root().join(".toolchains/js/node_modules");
    let built = match toolchain.join(".bin/componentize-js").exists() {
        false => {
            eprintln!(
                "not building the JavaScript provider: no {}",
                toolchain.display()
            );
            built
        }
        true => {
            let dir = work.path().join("js-drive");
            std::os::unix::fs::symlink(&toolchain, dir.join("node_modules")).unwrap();
            let output = Command::new("npm")
                .args(["run", "--silent", "build"])
                .current_dir(&dir)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            [built, vec![("js", dir)]].concat()
        }
    };
    for (lang, dir) in built {
        let manifest = dir.join(format!("{lang}-drive.toml")).display().to_string();
        let (ok, out, err) = docket(&[
            "invoke",
            &manifest,
            "--endpoint",
            "files",
            "--param",
            "parentId=/",
        ]);
        assert!(ok, "{lang}: {out}{err}");
        let listed = json_of(out.trim().strip_prefix("HTTP 200 ").unwrap());
        let titles: Vec<&str> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["title"].as_str().unwrap())
            .collect();
        assert_eq!(titles, ["Reports", "readme.txt"], "{lang}");
        let (ok, out, _) = docket(&[
            "invoke",
            &manifest,
            "--endpoint",
            "metadata",
            "--param",
            "id=/",
        ]);
        assert!(ok, "{lang}: {out}");
        assert!(
            out.contains(&format!(r#""title":"{lang}-drive""#)),
            "{lang}: {out}"
        );
        let (ok, out, _) = docket(&[
            "invoke",
            &manifest,
            "--endpoint",
            "metadata",
            "--param",
            "id=/nope",
        ]);
        assert!(!ok && out.starts_with("HTTP 404 "), "{lang}: {out}");
        let (ok, out, _) = docket(&[
            "invoke",
            &manifest,
            "--endpoint",
            "download",
            "--param",
            "id=/readme.txt",
        ]);
        assert!(!ok && out.starts_with("HTTP 501 "), "{lang}: {out}");
        let (ok, out, err) = docket(&["check", &manifest]);
        assert!(ok, "{lang}: {err}");
        assert!(
            out.starts_with(&format!("ok: provider {lang}-drive (component)")),
            "{out}"
        );
    }
}
