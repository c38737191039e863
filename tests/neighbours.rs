//! Hostile neighbours through the real binary: one tenant's compiles, CPU,
//! memory and abandoned calls must not cost another tenant anything, and
//! nothing about one tenant's modules shows through another's deploys.
//!
//! The tests run one at a time (see [`exclusive`]): several measure latency
//! or memory, and the others' servers would disturb them.

mod common;

use common::modules::{command, nested_blocks};
use common::{Server, guest, message_module};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn manifest(name: &str, limits: &str) -> String {
    format!("name = \"{name}\"\n[limits]\n{limits}\n")
}

/// Serializes this file's tests: tests in one binary run in parallel, and on
/// a 2-core machine the ones that measure time or memory would measure the
/// others.
async fn exclusive() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

/// Deploys an action, which must succeed.
async fn deployed(server: &Server, tenant: &str, token: &str, manifest: &str, module: Vec<u8>) {
    let (status, body) = server.deploy(tenant, token, manifest, module).await;
    assert_eq!(status, 201, "{body}");
}

/// A core module with `count` functions doing a little arithmetic: valid,
/// within every static limit, and slow to compile when `count` is large.
fn many_functions(count: usize) -> Vec<u8> {
    let mut wat = String::from("(module (memory (export \"memory\") 1)\n");
    for i in 0..count {
        wat.push_str(&format!(
            "(func $f{i} (param i32 i32) (result i32) (i32.add (i32.mul (local.get 0) (i32.const {i})) \
             (i32.xor (local.get 1) (i32.rotl (local.get 0) (local.get 1)))))\n"
        ));
    }
    wat.push_str("(func (export \"_start\")))");
    wat::parse_str(wat).unwrap()
}

/// A command that grows its memory to 60 MiB, writes every byte of it, and
/// holds it for 300 ms (asleep in the host), so a burst of them overlaps.
fn touches_60_mib() -> Vec<u8> {
    wat::parse_str(
        r#"(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (memory.grow (i32.const 959)))
    (memory.fill (i32.const 0) (i32.const 1) (i32.const 62914560))
    ;; one relative monotonic-clock subscription of 300 ms at offset 0
    (i64.store (i32.const 0) (i64.const 0))
    (i32.store8 (i32.const 8) (i32.const 0))
    (i32.store (i32.const 16) (i32.const 1))
    (i64.store (i32.const 24) (i64.const 300000000))
    (i64.store (i32.const 32) (i64.const 0))
    (i32.store16 (i32.const 40) (i32.const 0))
    (drop (call $poll_oneoff (i32.const 0) (i32.const 128) (i32.const 1) (i32.const 256)))))"#,
    )
    .unwrap()
}

/// A compile bomb that gets past the static checks (they are raised here on
/// purpose) is stopped by the compile worker's memory bound: the deploy is
/// refused naming the limit, the server's own memory stays small, and another
/// tenant is served throughout.
#[tokio::test]
async fn a_compile_bomb_past_the_static_checks_fails_alone() {
    let _serial = exclusive().await;
    let server = Server::hosted(&[
        "--max-nesting-depth",
        "100000000",
        "--max-function-kb",
        "100000",
        "--max-blocks",
        "100000000",
        "--compile-memory-mb",
        "512",
    ]);
    let (bomber, _) = server.create_tenant("bomber", json!({})).await;
    let (calm_token, calm_key) = server.create_tenant("calm", json!({})).await;
    deployed(
        &server,
        "calm",
        &calm_token,
        &manifest("hello", ""),
        message_module("hi"),
    )
    .await;
    let bomb_manifest = manifest("bomb", "");
    let bomb = server.deploy(
        "bomber",
        &bomber,
        &bomb_manifest,
        command(&[], &[nested_blocks(2_500_000)]),
    );
    let calls = async {
        let mut statuses = Vec::new();
        for _ in 0..10 {
            statuses.push(server.call("calm", "hello", &calm_key).await.0);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        statuses
    };
    let ((status, body), statuses) = tokio::join!(bomb, calls);
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("more than 512 MiB of memory"), "{body}");
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let peak = server.memory_mib("VmHWM:");
    eprintln!("compile bomb past the static checks: {error}; server peak RSS {peak} MiB");
    assert!(peak < 1024, "server peak RSS {peak} MiB");
}

/// Six concurrent uploads of expensive and unknown-import modules from one
/// tenant do not hold up another tenant's small deploy: the compile line
/// serves tenants in turn, and unknown imports are refused before compiling.
#[tokio::test]
async fn one_tenants_upload_flood_does_not_delay_another_tenants_deploy() {
    let _serial = exclusive().await;
    let server = Server::hosted(&[]);
    let (flooder, _) = server.create_tenant("flooder", json!({})).await;
    let (calm, _) = server.create_tenant("calm", json!({})).await;
    let expensive = many_functions(60_000);
    let mut unknown =
        String::from("(module (import \"evil\" \"thing\" (func)) (memory (export \"memory\") 1)\n");
    for i in 0..20_000 {
        unknown.push_str(&format!("(func $f{i} (result i32) (i32.const {i}))\n"));
    }
    unknown.push_str("(func (export \"_start\")))");
    let unknown = wat::parse_str(unknown).unwrap();
    let uploads = (0..6).map(|i| {
        let module = if i % 2 == 0 {
            expensive.clone()
        } else {
            unknown.clone()
        };
        let manifest = manifest(&format!("flood-{i}"), "");
        let server = &server;
        let flooder = &flooder;
        async move { server.deploy("flooder", flooder, &manifest, module).await }
    });
    let small = async {
        // Let the flood reach the compile line first.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let started = Instant::now();
        let (status, body) = server
            .deploy("calm", &calm, &manifest("hello", ""), message_module("hi"))
            .await;
        (status, body, started.elapsed())
    };
    let (flood, (status, body, took)) = tokio::join!(futures::future::join_all(uploads), small);
    eprintln!("another tenant's small deploy during a six-upload flood: {took:?}");
    assert_eq!(status, 201, "{body}");
    assert!(
        took < Duration::from_secs(5),
        "the small deploy took {took:?}"
    );
    for (i, (status, body)) in flood.iter().enumerate() {
        if i % 2 == 1 {
            assert_eq!(*status, 400, "{body}");
            assert!(
                body["error"].as_str().unwrap().contains("evil::thing"),
                "{body}"
            );
        }
    }
}

/// A tenant whose compiles keep failing is refused with 429 once it reaches
/// the limit, while other tenants deploy as usual.
#[tokio::test]
async fn repeated_failed_compiles_are_rate_limited_per_tenant() {
    let _serial = exclusive().await;
    let server = Server::hosted(&["--tenant-compile-failures", "2"]);
    let (token, _) = server.create_tenant("flaky", json!({})).await;
    let (other, _) = server.create_tenant("other", json!({})).await;
    // Valid to the static checks, refused by validation at compile time.
    let invalid = wat::parse_str("(module (func (export \"_start\") (result i32)))").unwrap();
    for _ in 0..2 {
        let (status, body) = server
            .deploy("flaky", &token, &manifest("bad", ""), invalid.clone())
            .await;
        assert_eq!(status, 400, "{body}");
    }
    let (status, body) = server
        .deploy("flaky", &token, &manifest("good", ""), message_module("ok"))
        .await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("limit of 2 compiles"),
        "{body}"
    );
    deployed(
        &server,
        "other",
        &other,
        &manifest("good", ""),
        message_module("ok"),
    )
    .await;
}

/// One tenant's 32 computing invocations leave another tenant's quick action
/// quick: tenants take turns on the WebAssembly threads.
#[tokio::test]
async fn a_cpu_bound_tenant_leaves_other_tenants_quick() {
    let _serial = exclusive().await;
    let server = Server::hosted(&["--tenant-max-memory-mb", "4096"]);
    let (hog, hog_key) = server.create_tenant("hog", json!({})).await;
    let (calm, calm_key) = server.create_tenant("calm", json!({})).await;
    deployed(
        &server,
        "hog",
        &hog,
        &manifest("spin", "timeout-ms = 4000"),
        guest("loop"),
    )
    .await;
    deployed(
        &server,
        "calm",
        &calm,
        &manifest("hello", ""),
        message_module("hi"),
    )
    .await;
    let spins = (0..32).map(|_| server.call("hog", "spin", &hog_key));
    let quick = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut times = Vec::new();
        for _ in 0..25 {
            let started = Instant::now();
            let (status, body) = server.call("calm", "hello", &calm_key).await;
            assert_eq!(status, 200, "{body}");
            times.push(started.elapsed());
        }
        times
    };
    let (spun, mut times) = tokio::join!(futures::future::join_all(spins), quick);
    assert!(
        spun.iter().all(|(status, _)| *status == 500),
        "the spinning calls did not all hit their time limit"
    );
    times.sort();
    let median = times[times.len() / 2];
    eprintln!(
        "quick action while another tenant spins: median {median:?}, max {:?}",
        times.last().unwrap()
    );
    assert!(
        median < Duration::from_millis(20),
        "median {median:?}: {times:?}"
    );
}

/// After a burst of 32 invocations touching 60 MiB each, the server gives the
/// memory back: its RSS is under 600 MiB within 10 s.
#[tokio::test]
async fn memory_returns_to_the_system_after_a_burst() {
    let _serial = exclusive().await;
    let server = Server::hosted(&["--tenant-max-memory-mb", "4096"]);
    let (token, key) = server.create_tenant("bursty", json!({})).await;
    deployed(
        &server,
        "bursty",
        &token,
        &manifest("fill", ""),
        touches_60_mib(),
    )
    .await;
    let calls = (0..32).map(|_| server.call("bursty", "fill", &key));
    let results = futures::future::join_all(calls).await;
    for (status, body) in &results {
        assert_eq!(*status, 200, "{body}");
    }
    let peak = server.memory_mib("VmHWM:");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut rss = server.memory_mib("VmRSS:");
    while rss >= 600 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        rss = server.memory_mib("VmRSS:");
    }
    eprintln!("burst of 32 × 60 MiB: peak {peak} MiB, after {rss} MiB");
    assert!(
        rss < 600,
        "RSS {rss} MiB 10 s after the burst (peak {peak} MiB)"
    );
}

/// A tenant's running invocations hold at most its memory budget: past it a
/// call waits briefly, then gets 429 naming the budget.
#[tokio::test]
async fn the_memory_budget_bounds_a_tenants_memory_in_flight() {
    let _serial = exclusive().await;
    let server = Server::hosted(&["--tenant-max-memory-mb", "128"]);
    let (token, key) = server.create_tenant("acme", json!({})).await;
    deployed(
        &server,
        "acme",
        &token,
        &manifest("spin", "timeout-ms = 3000\nmemory-mb = 64"),
        guest("loop"),
    )
    .await;
    deployed(
        &server,
        "acme",
        &token,
        &manifest("big", "memory-mb = 256"),
        message_module("no"),
    )
    .await;
    let (status, body) = server.call("acme", "big", &key).await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("memory budget (128 MiB)"),
        "{body}"
    );
    let calls = (0..3).map(|_| server.call("acme", "spin", &key));
    let results = futures::future::join_all(calls).await;
    let mut statuses: Vec<u16> = results.iter().map(|(s, _)| *s).collect();
    statuses.sort();
    assert_eq!(statuses, vec![429, 500, 500], "{results:?}");
}

/// A caller that hangs up cancels the invocation, and the invocation log
/// shows it as `cancelled`, with how long it ran.
#[tokio::test]
async fn a_disconnected_invocation_is_logged_as_cancelled() {
    let _serial = exclusive().await;
    let server = Server::hosted(&[]);
    let (token, key) = server.create_tenant("acme", json!({})).await;
    deployed(
        &server,
        "acme",
        &token,
        &manifest("spin", "timeout-ms = 5000"),
        guest("loop"),
    )
    .await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let url = format!(
        "{}/t/acme/customAction?name=spin&documentId={}&documentVersionId={}",
        server.base,
        common::DOC,
        common::VER
    );
    let hung_up = client.get(url).header("apiKey", &key).send().await;
    assert!(
        hung_up.is_err(),
        "the call answered before the client hung up"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let record: Value = loop {
        let (status, body) = server
            .admin(
                "GET",
                "/tenants/acme/invocations?limit=10",
                Some(&token),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let found = body["invocations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["outcome"] == "cancelled")
            .cloned();
        if let Some(record) = found {
            break record;
        }
        assert!(Instant::now() < deadline, "no cancelled record: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(record["action"], "spin", "{record}");
    let ms = record["ms"].as_u64().unwrap();
    assert!((200..4000).contains(&ms), "{record}");
}

/// The same bytes deployed by a second tenant are compiled for that tenant,
/// not taken from the first tenant's cache: deploy time reveals nothing about
/// what other tenants run.
#[tokio::test]
async fn compiled_modules_are_never_shared_between_tenants() {
    let _serial = exclusive().await;
    let server = Server::hosted_with_env(&[], &[("DOCKET_LOG", "docket=debug")]);
    let module = message_module("shared bytes");
    for tenant in ["first", "second"] {
        let (token, _) = server.create_tenant(tenant, json!({})).await;
        deployed(
            &server,
            tenant,
            &token,
            &manifest("same", ""),
            module.clone(),
        )
        .await;
    }
    let log = server.stderr();
    for tenant in ["first", "second"] {
        assert!(
            log.lines()
                .any(|l| l.contains("compiled") && l.contains(&format!("tenant={tenant}"))),
            "no compile for {tenant}:\n{log}"
        );
    }
}

/// The data directory is private to Docket's user: 0700 for the directory,
/// 0600 for the database and key files, and a restart tightens files an older
/// version left readable.
#[tokio::test]
async fn the_data_directory_and_its_files_are_private() {
    let _serial = exclusive().await;
    use std::os::unix::fs::PermissionsExt;
    let data = tempfile::tempdir().unwrap();
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    {
        let server = Server::hosted_in(data.path(), &[]);
        let (token, _) = server.create_tenant("acme", json!({})).await;
        let (status, _) = server
            .admin(
                "PUT",
                "/tenants/acme/secrets/token",
                Some(&token),
                Some(json!({"value": "s3cret"})),
            )
            .await;
        assert!(status < 300, "{status}");
        assert_eq!(mode(data.path()), 0o700);
        assert_eq!(mode(&data.path().join("docket.db")), 0o600);
        assert_eq!(mode(&common::secrets_key_beside(data.path())), 0o600);
        assert!(
            !data.path().join("secrets.key").exists(),
            "no key inside the data directory"
        );
    }
    std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        data.path().join("docket.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let server = Server::hosted_in(data.path(), &[]);
    assert_eq!(mode(data.path()), 0o700);
    assert_eq!(mode(&data.path().join("docket.db")), 0o600);
    drop(server);
    let _ = std::fs::remove_file(common::secrets_key_beside(data.path()));
}

/// A fresh install keeps its generated secrets key beside the data
/// directory, never in it, so a copy of the data directory does not carry
/// the key that opens its secrets; an older install whose key is inside
/// still serves its secrets, with a warning that says how to move the key.
#[tokio::test]
async fn the_secrets_key_lives_outside_the_data_directory() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    async fn put(server: &Server, token: &str) {
        let body = Some(json!({"value": "s3cret"}));
        let path = "/tenants/acme/secrets/token";
        assert_eq!(server.admin("PUT", path, Some(token), body).await.0, 204);
    }
    let mut server = Server::hosted_in(&data, &[]);
    let (token, _) = server.create_tenant("acme", json!({})).await;
    put(&server, &token).await;
    server.signal("TERM");
    assert!(server.wait_for_exit(Duration::from_secs(30)).is_some());
    let beside = root.path().join("data.secrets.key");
    assert_eq!(std::fs::read(&beside).unwrap().len(), 32);
    assert!(!data.join("secrets.key").exists());
    assert!(!server.stderr().contains("inside the data directory"));
    drop(server);

    // As an older version left it: the key inside the data directory.
    std::fs::rename(&beside, data.join("secrets.key")).unwrap();
    let mut server = Server::hosted_in(&data, &[]);
    put(&server, &token).await;
    server.signal("TERM");
    assert!(server.wait_for_exit(Duration::from_secs(30)).is_some());
    let log = server.stderr();
    assert!(
        log.contains("inside the data directory") && log.contains("mv "),
        "{log}"
    );
    assert!(!log.contains("cannot be decrypted"), "{log}");
    assert!(
        !beside.exists(),
        "the old key is used where it is, not replaced"
    );
}
