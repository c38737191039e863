//! Replicas sharing one PostgreSQL database (`--database-url`): changes made
//! through any replica reach every other within a second, counters stay exact
//! across replicas, and a replica that loses the database keeps serving live
//! actions from its snapshot while refusing changes with 503.

mod common;

use common::cluster::{Cut, Database, eventually};
use common::{OPERATOR, Server, built_guest, message_module};
use serde_json::{Value, json};
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(1);

fn replicas(url: &str, n: usize) -> (Vec<Server>, Vec<tempfile::TempDir>) {
    let dirs: Vec<_> = (0..n).map(|_| tempfile::tempdir().unwrap()).collect();
    let servers = dirs
        .iter()
        .map(|dir| Server::replica(url, "127.0.0.1:0", dir.path()))
        .collect();
    (servers, dirs)
}

/// The message an action answers through `replica`, or the status it got.
async fn answer(replica: &Server, key: &str) -> Result<String, u16> {
    let (status, body) = replica.call("acme", "greet", key).await;
    match (status, body["message"].as_str()) {
        (200, Some(message)) => Ok(message.to_owned()),
        _ => Err(status),
    }
}

/// Waits until every replica answers `expected` (a message, or a status),
/// all within one [`WITHIN`] from the call: the change was made just before.
async fn everywhere(replicas: &[Server], key: &str, expected: Result<&str, u16>, what: &str) {
    let deadline = std::time::Instant::now() + WITHIN;
    for (i, replica) in replicas.iter().enumerate() {
        let what = format!("replica {i}: {what}");
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        eventually(&what, left, || async {
            (answer(replica, key).await.as_deref().map_err(|s| *s) == expected).then_some(())
        })
        .await;
    }
}

/// How many invocations the tenant's log holds (up to 1,000).
async fn logged(replica: &Server, token: &str) -> usize {
    let (status, body) = replica
        .admin(
            "GET",
            "/tenants/acme/invocations?limit=1000",
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["invocations"].as_array().unwrap().len()
}

/// Waits until `replica` lists `action` (its snapshot has the deploy).
async fn knows(replica: &Server, key: &str, action: &str) {
    eventually(
        &format!("{} lists {action}", replica.base),
        WITHIN,
        || async {
            let (_, info) = replica.get("/t/acme/serviceInfo", &[("apiKey", key)]).await;
            info["customActions"]
                .as_array()?
                .iter()
                .any(|a| a["name"] == action)
                .then_some(())
        },
    )
    .await;
}

fn manifest() -> &'static str {
    "name = \"greet\"\n"
}

#[tokio::test(flavor = "multi_thread")]
async fn deploys_rollbacks_revocations_and_suspension_reach_every_replica_within_a_second() {
    let db = Database::create().await;
    let (replicas, _dirs) = replicas(&db.url, 3);
    let (token, key) = replicas[0].create_tenant("acme", json!({})).await;

    let (status, body) = replicas[0]
        .deploy("acme", &token, manifest(), message_module("v1"))
        .await;
    assert_eq!(status, 201, "{body}");
    everywhere(&replicas, &key, Ok("v1"), "deployed on replica 0").await;

    let (status, body) = replicas[1]
        .deploy("acme", &token, manifest(), message_module("v2"))
        .await;
    assert_eq!(status, 201, "{body}");
    everywhere(&replicas, &key, Ok("v2"), "deployed on replica 1").await;

    let (status, body) = replicas[2]
        .admin(
            "POST",
            "/tenants/acme/actions/greet/rollback",
            Some(&token),
            Some(json!({"version": 1})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    everywhere(&replicas, &key, Ok("v1"), "rolled back on replica 2").await;

    // A second key on replica 0, the first revoked on replica 1.
    let (status, created) = replicas[0]
        .admin("POST", "/tenants/acme/keys", Some(&token), None)
        .await;
    assert_eq!(status, 201, "{created}");
    let second = created["apiKey"].as_str().unwrap().to_owned();
    let (_, listed) = replicas[0]
        .admin("GET", "/tenants/acme/keys", Some(&token), None)
        .await;
    let first_id = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] != created["id"])
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = replicas[1]
        .admin(
            "DELETE",
            &format!("/tenants/acme/keys/{first_id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");
    everywhere(&replicas, &key, Err(403), "first key revoked on replica 1").await;
    everywhere(
        &replicas,
        &second,
        Ok("v1"),
        "second key created on replica 0",
    )
    .await;

    let (status, body) = replicas[2]
        .admin(
            "PATCH",
            "/tenants/acme",
            Some(OPERATOR),
            Some(json!({"suspended": true})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    everywhere(&replicas, &second, Err(403), "suspended on replica 2").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_counter_incremented_through_three_replicas_ends_at_the_exact_total() {
    let db = Database::create().await;
    let (replicas, _dirs) = replicas(&db.url, 3);
    let (token, key) = replicas[0].create_tenant("acme", json!({})).await;
    let manifest = "name = \"counter\"\n[capabilities]\nkey-value = \"tenant\"\n";
    let (status, body) = replicas[0]
        .deploy("acme", &token, manifest, built_guest("sandbox-probe"))
        .await;
    assert_eq!(status, 201, "{body}");
    let path = format!(
        "/t/acme/customAction?name=counter&documentId={}&documentVersionId={}&count=visits",
        common::DOC,
        common::VER
    );
    for replica in &replicas {
        knows(replica, &key, "counter").await;
    }
    let replicas = std::sync::Arc::new(replicas);
    // Each replica's share of the default quota of 32 in flight is 11: four
    // callers per replica stay well inside it.
    const CALLERS_PER_REPLICA: usize = 4;
    const CALLS_EACH: usize = 10;
    let mut callers = Vec::new();
    for r in 0..replicas.len() {
        for _ in 0..CALLERS_PER_REPLICA {
            let (replicas, path, key) = (replicas.clone(), path.clone(), key.clone());
            callers.push(tokio::spawn(async move {
                for _ in 0..CALLS_EACH {
                    // The first call on a replica may wait for the module to load there.
                    let (status, body) = replicas[r].get(&path, &[("apiKey", key.as_str())]).await;
                    assert_eq!(status, 200, "replica {r}: {body}");
                }
            }));
        }
    }
    for caller in callers {
        caller.await.unwrap();
    }
    let total = replicas.len() * CALLERS_PER_REPLICA * CALLS_EACH;
    let (status, body) = replicas[1].get(&path, &[("apiKey", key.as_str())]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], format!("count {}", total + 1));
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_that_lose_the_database_serve_from_their_snapshot_and_refuse_changes() {
    let db = Database::create().await;
    let cut = Cut::new().await;
    let url = db.url_via(cut.port);
    let (replicas, _dirs) = replicas(&url, 2);
    let (token, key) = replicas[0].create_tenant("acme", json!({})).await;
    let (status, body) = replicas[0]
        .deploy("acme", &token, manifest(), message_module("v1"))
        .await;
    assert_eq!(status, 201, "{body}");
    everywhere(&replicas, &key, Ok("v1"), "deployed").await;
    for replica in &replicas {
        assert_eq!(replica.readiness().await.0, 200);
    }

    let logged_before = logged(&replicas[0], &token).await;
    cut.cut();
    // Live actions keep answering while the database is gone…
    for round in 0..20 {
        for (i, replica) in replicas.iter().enumerate() {
            assert_eq!(
                answer(replica, &key).await,
                Ok("v1".to_owned()),
                "replica {i}, round {round}"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // …each replica says so in /readyz…
    for replica in &replicas {
        let (body, _) = eventually(
            "not ready without the database",
            Duration::from_secs(5),
            || async {
                let (status, body) = replica.readiness().await;
                (status == 503).then_some(body)
            },
        )
        .await;
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["database"], "unreachable", "{body}");
        assert!(
            replica.stderr().contains("database unreachable"),
            "{}",
            replica.stderr()
        );
    }
    // …and changes are refused with a clear 503, leaving nothing behind.
    let (status, body) = replicas[1]
        .deploy("acme", &token, manifest(), message_module("v2"))
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("database is unreachable"),
        "{body}"
    );

    cut.restore();
    for replica in &replicas {
        eventually("ready again", Duration::from_secs(10), || async {
            (replica.readiness().await.0 == 200).then_some(())
        })
        .await;
    }
    let (status, body) = replicas[1]
        .deploy("acme", &token, manifest(), message_module("v2"))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["version"], 2,
        "the refused deploy left no version behind"
    );
    everywhere(&replicas, &key, Ok("v2"), "deployed after the outage").await;
    // The invocations made during the outage were kept and logged once it was back.
    eventually(
        "the outage's invocations logged",
        Duration::from_secs(5),
        || async { (logged(&replicas[0], &token).await >= logged_before + 40).then_some(()) },
    )
    .await;
    // Nothing diverged: both replicas list what the database holds.
    let live = db
        .query("SELECT name || ':' || live_version FROM actions ORDER BY name")
        .await;
    for replica in &replicas {
        let (_, listed) = replica
            .admin("GET", "/tenants/acme/actions", Some(&token), None)
            .await;
        let seen: Vec<String> = listed["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| format!("{}:{}", a["name"].as_str().unwrap(), a["liveVersion"]))
            .collect();
        assert_eq!(seen, live);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_concurrency_quota_holds_across_replicas() {
    let db = Database::create().await;
    let (replicas, _dirs) = replicas(&db.url, 3);
    // Each replica admits its share of the live replicas: ceil(6 / 3) = 2.
    for (i, replica) in replicas.iter().enumerate() {
        eventually(
            &format!("replica {i} counts three live replicas"),
            Duration::from_secs(5),
            || async {
                let (_, body) = replica.readiness().await;
                let health: Value = serde_json::from_str(&body).ok()?;
                (health["replicas"] == 3).then_some(())
            },
        )
        .await;
    }
    let (token, key) = replicas[0]
        .create_tenant("acme", json!({"maxConcurrency": 6}))
        .await;
    let manifest = "name = \"greet\"\n[limits]\ntimeout-ms = 1500\n";
    let (status, body) = replicas[0]
        .deploy("acme", &token, manifest, common::guest("sleep"))
        .await;
    assert_eq!(status, 201, "{body}");
    // Known everywhere before the burst, and loaded (replicas load what
    // other replicas deploy as the change arrives).
    for replica in &replicas {
        knows(replica, &key, "greet").await;
    }

    let replicas = std::sync::Arc::new(replicas);
    let mut calls = Vec::new();
    for r in 0..3 {
        for _ in 0..4 {
            let (replicas, key) = (replicas.clone(), key.clone());
            calls.push(tokio::spawn(async move {
                replicas[r].call("acme", "greet", &key).await.0
            }));
        }
    }
    let mut refused = 0;
    for call in calls {
        if call.await.unwrap() == 429 {
            refused += 1;
        }
    }
    assert_eq!(
        refused, 6,
        "12 calls, 6 admitted cluster-wide (2 per replica)"
    );
}

#[test]
fn a_declarative_tenant_on_a_shared_database_takes_its_key_from_the_environment() {
    let db = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(Database::create());
    let manifests = common::Manifests::new();
    manifests.action("demo", "greet", &message_module("hi"), "");
    let scratch = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_docket"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &db.url,
        ])
        .arg("--manifests")
        .arg(manifests.path())
        .arg("--data-dir")
        .arg(scratch.path())
        .env("DOCKET_SECRETS_KEY", common::cluster::SECRETS_KEY)
        .env_remove("DOCKET_API_KEY_DEMO")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("a replica with a generated declarative key started");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("set DOCKET_API_KEY_DEMO to the same value on every replica"),
        "{stderr}"
    );
}

/// The same for a declarative tenant's admin token: a replica on a shared
/// database never generates one; with `DOCKET_ADMIN_TOKEN_<TENANT>` set it
/// starts, and that token reads the tenant's run log through any replica.
#[tokio::test(flavor = "multi_thread")]
async fn a_declarative_tenant_on_a_shared_database_takes_its_admin_token_from_the_environment() {
    const TOKEN: &str = "demo-admin-token-shared-by-every-replica";
    let db = Database::create().await;
    let manifests = common::Manifests::new();
    manifests.action("demo", "greet", &message_module("hi"), "");
    let scratch = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_docket"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &db.url,
        ])
        .arg("--manifests")
        .arg(manifests.path())
        .arg("--data-dir")
        .arg(scratch.path())
        .env("DOCKET_SECRETS_KEY", common::cluster::SECRETS_KEY)
        .env("DOCKET_API_KEY_DEMO", common::KEY)
        .env_remove("DOCKET_ADMIN_TOKEN_DEMO")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("admin token from the environment: set DOCKET_ADMIN_TOKEN_DEMO to the same value on every replica"),
        "{stderr}"
    );
    assert!(
        !scratch.path().join("declarative-keys").exists(),
        "nothing generated"
    );

    let syncing = Server::start_with_env(
        manifests.path(),
        &["demo"],
        &["--database-url", &db.url],
        &[
            ("DOCKET_SECRETS_KEY", common::cluster::SECRETS_KEY),
            ("DOCKET_ADMIN_TOKEN_DEMO", TOKEN),
        ],
    );
    let banner = syncing.stdout_lines.join("\n");
    assert!(
        banner.contains("admin token: the value of DOCKET_ADMIN_TOKEN_DEMO"),
        "{banner}"
    );
    let other = tempfile::tempdir().unwrap();
    let replica = Server::replica(&db.url, "127.0.0.1:0", other.path());
    let (status, body) = syncing.call("demo", "greet", common::KEY).await;
    assert_eq!(status, 200, "{body}");
    eventually(
        "the record, through the other replica",
        Duration::from_secs(10),
        || async {
            let (status, body) = replica
                .admin("GET", "/tenants/demo/invocations", Some(TOKEN), None)
                .await;
            assert_eq!(status, 200, "{body}");
            body["invocations"]
                .as_array()
                .filter(|r| !r.is_empty())
                .cloned()
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_created_through_one_replica_can_deploy_through_another_at_once() {
    let db = Database::create().await;
    let (replicas, _dirs) = replicas(&db.url, 2);
    for i in 0..5 {
        // No wait between: the second replica has not necessarily heard of
        // the tenant yet, and checks the database before refusing the token.
        let name = format!("t{i}");
        let (token, _) = replicas[0].create_tenant(&name, json!({})).await;
        let (status, body) = replicas[1]
            .deploy(&name, &token, manifest(), message_module("hi"))
            .await;
        assert_eq!(status, 201, "{name}: {body}");
    }
}
