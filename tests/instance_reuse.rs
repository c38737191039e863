//! Instance reuse, the opt-in (`[limits] instance-reuse = N`,
//! docs/architecture.md#the-isolation-model), through the real binary: one
//! component instance answers up to N requests of one action version, and its
//! state never reaches another action, another version, another tenant or a
//! request after a trap. That nothing survives by default, in either ABI, is
//! `tests/fresh_instances.rs`.
//!
//! The guest is `tests/guests/http-probe` (a component): `leftovers=1`
//! answers "earlier calls seen: static N, heap M", N and M being how many
//! requests this instance answered before; `trap=1` bumps both and panics.

mod common;

use common::{DOC, OPERATOR, Server, VER, built_guest, message_module};
use serde_json::{Value, json};

/// One compiler tier: a background compile would swap the module between
/// two calls and (rightly) start a fresh instance, blurring the counts.
const ONE_TIER: &[&str] = &["--compile-tiers", "optimized"];

fn manifest(name: &str, reuse: u32) -> String {
    format!("name = \"{name}\"\n[limits]\ninstance-reuse = {reuse}\n")
}

/// How many earlier requests the instance that answered this one had seen.
async fn seen(server: &Server, tenant: &str, action: &str, key: &str) -> u64 {
    let (status, body) = call(server, tenant, action, key, "leftovers=1").await;
    assert_eq!(status, 200, "{tenant}/{action}: {body}");
    let message = body["message"].as_str().unwrap_or_default();
    let counts = message
        .strip_prefix("earlier calls seen: static ")
        .unwrap_or_else(|| panic!("{tenant}/{action}: {body}"));
    let (statics, heap) = counts.split_once(", heap ").unwrap();
    // The static and the heap value move together, or the guest is broken.
    assert_eq!(statics, heap, "{tenant}/{action}: {body}");
    statics.parse().unwrap()
}

async fn call(server: &Server, tenant: &str, action: &str, key: &str, q: &str) -> (u16, Value) {
    let path = format!(
        "/t/{tenant}/customAction?name={action}&documentId={DOC}&documentVersionId={VER}&{q}"
    );
    server.get(&path, &[("apiKey", key)]).await
}

async fn deploy(server: &Server, tenant: &str, admin: &str, manifest: &str) {
    let (status, body) = server
        .deploy(tenant, admin, manifest, built_guest("http-probe"))
        .await;
    assert_eq!(status, 201, "{manifest}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_answers_n_requests_of_its_action_and_tenant_only() {
    let server = Server::hosted(ONE_TIER);
    let (acme, acme_key) = server.create_tenant("acme", json!({})).await;
    let (bravo, bravo_key) = server.create_tenant("bravo", json!({})).await;
    deploy(&server, "acme", &acme, &manifest("reuse", 5)).await;
    deploy(&server, "acme", &acme, &manifest("sibling", 5)).await;
    deploy(&server, "acme", &acme, &manifest("fresh", 1)).await;
    // The very same bytes and manifest, in another tenant.
    deploy(&server, "bravo", &bravo, &manifest("reuse", 5)).await;

    // Requests 1..5 climb on one instance; the 6th gets a fresh one.
    for (n, expected) in [0, 1, 2].into_iter().enumerate() {
        assert_eq!(
            seen(&server, "acme", "reuse", &acme_key).await,
            expected,
            "request {}",
            n + 1
        );
    }
    // Between them: the same tenant's other action and the other tenant's
    // identical one each start from nothing, and leave "reuse" alone.
    assert_eq!(seen(&server, "acme", "sibling", &acme_key).await, 0);
    assert_eq!(seen(&server, "bravo", "reuse", &bravo_key).await, 0);
    assert_eq!(seen(&server, "bravo", "reuse", &bravo_key).await, 1);
    assert_eq!(seen(&server, "acme", "sibling", &acme_key).await, 1);
    for expected in [3, 4] {
        assert_eq!(seen(&server, "acme", "reuse", &acme_key).await, expected);
    }
    assert_eq!(
        seen(&server, "acme", "reuse", &acme_key).await,
        0,
        "the 6th request: 5 answered, the instance is spent"
    );
    assert_eq!(seen(&server, "acme", "reuse", &acme_key).await, 1);

    // instance-reuse = 1, said explicitly, is a fresh instance every time.
    for round in 0..3 {
        assert_eq!(
            seen(&server, "acme", "fresh", &acme_key).await,
            0,
            "round {round}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_a_rollback_or_a_suspension_starts_from_a_fresh_instance() {
    let server = Server::hosted(ONE_TIER);
    let (admin, key) = server.create_tenant("acme", json!({})).await;
    deploy(&server, "acme", &admin, &manifest("reuse", 10)).await;
    assert_eq!(seen(&server, "acme", "reuse", &key).await, 0);
    assert_eq!(seen(&server, "acme", "reuse", &key).await, 1);

    // Version 2 has the same bytes (the same compiled module in the cache):
    // only the version tells its instances apart from version 1's.
    deploy(&server, "acme", &admin, &manifest("reuse", 10)).await;
    assert_eq!(seen(&server, "acme", "reuse", &key).await, 0, "v2");
    assert_eq!(seen(&server, "acme", "reuse", &key).await, 1, "v2");

    // Back to version 1: its instance from before is not taken again.
    let (status, body) = server
        .admin(
            "POST",
            "/tenants/acme/actions/reuse/rollback",
            Some(&admin),
            Some(json!({"version": 1})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(seen(&server, "acme", "reuse", &key).await, 0, "v1 again");
    assert_eq!(seen(&server, "acme", "reuse", &key).await, 1, "v1 again");

    suspend(&server, "acme", true).await;
    suspend(&server, "acme", false).await;
    assert_eq!(seen(&server, "acme", "reuse", &key).await, 0, "resumed");
}

/// The operator suspends or resumes `tenant`.
async fn suspend(server: &Server, tenant: &str, suspended: bool) {
    let (status, body) = server
        .admin(
            "PATCH",
            &format!("/tenants/{tenant}"),
            Some(OPERATOR),
            Some(json!({ "suspended": suspended })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Instances taken from the pool now (`docket_pool_instances_in_use`): an
/// idle instance kept for reuse holds its slot.
async fn pool_instances(server: &Server) -> f64 {
    let metrics = server.scrape_metrics().await;
    metrics
        .lines()
        .find_map(|line| {
            let value = line.strip_prefix("docket_pool_instances_in_use ")?;
            value.trim().parse().ok()
        })
        .unwrap_or_else(|| panic!("no docket_pool_instances_in_use in {metrics}"))
}

/// Polls until the pool is empty, for what a tenant reconcile (every 200
/// ms) drops.
async fn pool_empties(server: &Server, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while pool_instances(server).await > 0.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: idle instances still hold pool slots after 2 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_instances_of_a_replaced_snapshot_give_their_slots_back_at_once() {
    let server = Server::hosted(ONE_TIER);
    let (admin, key) = server.create_tenant("acme", json!({})).await;
    deploy(&server, "acme", &admin, &manifest("reuse", 10)).await;
    assert_eq!(pool_instances(&server).await, 0.0, "nothing ran yet");
    assert_eq!(seen(&server, "acme", "reuse", &key).await, 0);
    assert!(
        pool_instances(&server).await > 0.0,
        "the idle instance holds its slot"
    );
    // A deploy drops them before it answers.
    deploy(&server, "acme", &admin, &manifest("reuse", 10)).await;
    assert_eq!(pool_instances(&server).await, 0.0, "after the deploy");

    assert_eq!(seen(&server, "acme", "reuse", &key).await, 0);
    assert!(pool_instances(&server).await > 0.0);
    suspend(&server, "acme", true).await;
    pool_empties(&server, "suspended").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_idle_instance_is_kept_past_the_operator_bound() {
    let args = [ONE_TIER, &["--max-idle-instances", "0"]].concat();
    let server = Server::hosted(&args);
    let (admin, key) = server.create_tenant("acme", json!({})).await;
    deploy(&server, "acme", &admin, &manifest("reuse", 10)).await;
    for round in 0..3 {
        assert_eq!(
            seen(&server, "acme", "reuse", &key).await,
            0,
            "round {round}"
        );
        assert_eq!(pool_instances(&server).await, 0.0, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trapped_request_drops_its_instance() {
    let server = Server::hosted(ONE_TIER);
    let (admin, key) = server.create_tenant("acme", json!({})).await;
    deploy(&server, "acme", &admin, &manifest("reuse", 10)).await;
    assert_eq!(seen(&server, "acme", "reuse", &key).await, 0);
    assert_eq!(seen(&server, "acme", "reuse", &key).await, 1);
    let (status, body) = call(&server, "acme", "reuse", &key, "trap=1").await;
    assert_eq!(status, 500, "{body}");
    // Had the trapped instance come back, it would have seen 3 requests.
    assert_eq!(seen(&server, "acme", "reuse", &key).await, 0);
    assert_eq!(seen(&server, "acme", "reuse", &key).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_ceiling_turns_reuse_off_for_stored_versions_too() {
    let data = tempfile::tempdir().unwrap();
    let (admin, key) = {
        let server = Server::hosted_in(data.path(), ONE_TIER);
        let (admin, key) = server.create_tenant("acme", json!({})).await;
        deploy(&server, "acme", &admin, &manifest("reuse", 5)).await;
        assert_eq!(seen(&server, "acme", "reuse", &key).await, 0);
        assert_eq!(seen(&server, "acme", "reuse", &key).await, 1);
        (admin, key)
    };
    let args = [ONE_TIER, &["--max-instance-reuse", "1"]].concat();
    let server = Server::hosted_in(data.path(), &args);
    for round in 0..3 {
        assert_eq!(
            seen(&server, "acme", "reuse", &key).await,
            0,
            "round {round}"
        );
    }
    // And a new deploy asking for more is refused, naming the ceiling.
    let (status, body) = server
        .deploy(
            "acme",
            &admin,
            &manifest("reuse", 2),
            built_guest("http-probe"),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"],
        "manifest: limits.instance-reuse = 2 exceeds the ceiling of 1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_reuse_is_refused_where_it_cannot_apply() {
    let server = Server::hosted(ONE_TIER);
    let (admin, _) = server.create_tenant("acme", json!({})).await;
    let component = || built_guest("http-probe");
    let provider = "name = \"docs\"\nkind = \"provider\"\n[limits]\ninstance-reuse = 5\n";
    let cases = [
        (
            manifest("zero", 0),
            component(),
            "instance-reuse must be greater than 0",
        ),
        (
            manifest("over", 101),
            component(),
            "limits.instance-reuse = 101 exceeds the ceiling of 100",
        ),
        (
            manifest("command", 5),
            message_module("hi"),
            "limits.instance-reuse = 5 is for custom actions built as components: the module is a command",
        ),
        (
            provider.to_owned(),
            component(),
            "limits.instance-reuse = 5 is for custom actions built as components: a document provider",
        ),
    ];
    for (manifest, module, expected) in cases {
        let (status, body) = server.deploy("acme", &admin, &manifest, module).await;
        assert_eq!(status, 400, "{manifest}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(expected), "{manifest}: {error}");
    }
    let (status, body) = server
        .admin("GET", "/tenants/acme/actions", Some(&admin), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["actions"], json!([]), "nothing refused was stored");
}

/// `docket check`, `docket invoke` and a declarative start refuse a command
/// module that asks for reuse, as a deploy does.
#[test]
fn a_command_module_asking_for_reuse_fails_check_and_start() {
    let manifests = common::Manifests::new();
    manifests.action(
        "acme",
        "greet",
        &message_module("hi"),
        "[limits]\ninstance-reuse = 3",
    );
    const REFUSAL: &str = "limits.instance-reuse = 3 is for custom actions built as components";
    let refused = |output: std::process::Output| {
        let (ok, out, err) = common::outcome(output);
        assert!(!ok, "{out}");
        assert!(err.contains(REFUSAL), "{err}");
    };
    let dir = manifests.path().display().to_string();
    refused(
        std::process::Command::new(env!("CARGO_BIN_EXE_docket"))
            .args(["check", "--manifests", &dir])
            .env("DOCKET_LOG", "warn")
            .output()
            .unwrap(),
    );
    let manifest = manifests.path().join("acme/greet.toml");
    refused(
        std::process::Command::new(env!("CARGO_BIN_EXE_docket"))
            .arg("invoke")
            .arg(&manifest)
            .args([
                "--document-id",
                DOC,
                "--document-version-id",
                VER,
                "--no-cache",
            ])
            .env("DOCKET_LOG", "warn")
            .output()
            .unwrap(),
    );
    let finished = common::serve_expecting_failure(manifests.path());
    assert!(finished.stderr.contains(REFUSAL), "{}", finished.stderr);
}
