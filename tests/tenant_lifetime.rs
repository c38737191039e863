//! Tenant boundaries over time, through the real binary: what a tenant
//! opened or accumulated ends with it. A run log stream closes within a
//! second of its tenant's deletion, suspension or the rotation of the admin
//! token it was opened with, and never carries a record of a new tenant of
//! the same name (on SQLite, and on PostgreSQL with the stream on one
//! replica and the delete on another); record ids say nothing of other
//! tenants' calls; one tenant cannot take every named metric series; and the
//! service-wide guest memory budget holds across tenants.

mod common;

use common::cluster::Database;
use common::haproxy::slow_message_module;
use common::sse::{Events, Next};
use common::{OPERATOR, Server, message_module};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How soon a revoked stream must close.
const WITHIN: Duration = Duration::from_secs(1);

/// An open run log stream of one tenant.
struct Stream(Events);

impl Stream {
    async fn open(server: &Server, tenant: &str, token: &str) -> Self {
        Self(Events::open(&server.base, tenant, token, "", None).await)
    }

    /// The next event, the end of the stream, or quiet after `wait`.
    async fn next(&mut self, wait: Duration) -> Next {
        self.0.next_or_end(wait).await
    }

    /// Waits for the stream to close, failing on any event; returns how long
    /// it took.
    async fn closes(&mut self, what: &str) -> Duration {
        let started = Instant::now();
        match self.next(WITHIN * 3).await {
            Next::Closed => started.elapsed(),
            other => panic!("{what}: the stream did not close: {other:?}"),
        }
    }
}

/// Creates `name` with a `greet` action answering `message`, through `server`;
/// returns (admin token, webhook key).
async fn tenant_with_greet(server: &Server, name: &str, message: &str) -> (String, String) {
    let (token, key) = server.create_tenant(name, json!({})).await;
    let (status, body) = server
        .deploy(name, &token, "name = \"greet\"\n", message_module(message))
        .await;
    assert_eq!(status, 201, "{body}");
    (token, key)
}

/// A tenant's records (newest first), waiting until there are `count`.
async fn records(server: &Server, tenant: &str, token: &str, count: usize) -> Vec<Value> {
    let path = format!("/tenants/{tenant}/invocations?limit=1000");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, body) = server.admin("GET", &path, Some(token), None).await;
        assert_eq!(status, 200, "{body}");
        let found = body["invocations"].as_array().unwrap().clone();
        if found.len() >= count || Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The operator deletes `tenant` through `server`.
async fn delete(server: &Server, tenant: &str) {
    let path = format!("/tenants/{tenant}");
    let (status, body) = server.admin("DELETE", &path, Some(OPERATOR), None).await;
    assert_eq!(status, 204, "{body}");
}

/// Opens a stream of `alpha` on `watched`, deletes `alpha` through
/// `changed`, makes a new `alpha` there and calls it: the old stream closes
/// within a second and carries nothing of the new tenant. `rounds` times.
async fn stream_outlives_no_deletion(watched: &Server, changed: &Server, rounds: usize) {
    for round in 0..rounds {
        let (token, _) = tenant_with_greet(changed, "alpha", "old").await;
        // The stream's replica may hear of the tenant a moment later.
        let opened = loop {
            let path = "/tenants/alpha/invocations";
            if watched.admin("GET", path, Some(&token), None).await.0 == 200 {
                break Stream::open(watched, "alpha", &token).await;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let mut stream = opened;
        delete(changed, "alpha").await;
        let deleted = Instant::now();
        let (_, new_key) = tenant_with_greet(changed, "alpha", "new customer").await;
        let (status, body) = changed.call("alpha", "greet", &new_key).await;
        assert_eq!(status, 200, "{body}");
        match stream.next(WITHIN * 3).await {
            Next::Closed => {}
            other => panic!("round {round}: {other:?}"),
        }
        assert!(
            deleted.elapsed() < WITHIN + Duration::from_millis(500),
            "round {round}: closed {:?} after the delete",
            deleted.elapsed()
        );
        delete(changed, "alpha").await;
    }
}

/// The crossing an outside review found: a stream opened by a tenant that
/// is then deleted and made again under its name (for another customer)
/// received the new tenant's records. Now it closes within a second and
/// carries none of them, 20 times over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_closes_with_its_deleted_tenant_and_sees_nothing_of_its_successor() {
    let server = Server::hosted(&[]);
    stream_outlives_no_deletion(&server, &server, 20).await;
}

/// The same across replicas on PostgreSQL: the stream on one replica, the
/// delete and the new tenant on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_replicas_a_stream_closes_with_its_tenant_deleted_elsewhere() {
    let database = Database::create().await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let watched = Server::replica(&database.url, "127.0.0.1:0", dirs[0].path());
    let changed = Server::replica(&database.url, "127.0.0.1:0", dirs[1].path());
    stream_outlives_no_deletion(&watched, &changed, 20).await;
}

/// Suspending a tenant closes its streams within a second, the operator's
/// too; rotating the admin token closes the streams opened with the old
/// token but not the operator's; the old token is refused and the new one
/// works. 20 rounds each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspension_and_token_rotation_close_streams() {
    let server = Server::hosted(&[]);
    suspension_and_rotation_close_streams(&server, &server).await;
}

/// The same across replicas on PostgreSQL: the streams on one replica, the
/// suspension and the rotation through the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_replicas_suspension_and_token_rotation_close_streams() {
    let database = Database::create().await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let watched = Server::replica(&database.url, "127.0.0.1:0", dirs[0].path());
    let changed = Server::replica(&database.url, "127.0.0.1:0", dirs[1].path());
    suspension_and_rotation_close_streams(&watched, &changed).await;
}

/// Opens a stream once `server` lets `token` read the tenant's log (another
/// replica may have changed it a moment ago).
async fn open_when_allowed(server: &Server, tenant: &str, token: &str) -> Stream {
    let path = format!("/tenants/{tenant}/invocations");
    let deadline = Instant::now() + Duration::from_secs(3);
    while server.admin("GET", &path, Some(token), None).await.0 != 200 {
        assert!(
            Instant::now() < deadline,
            "{tenant} stays closed to the token"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Stream::open(server, tenant, token).await
}

async fn suspension_and_rotation_close_streams(watched: &Server, changed: &Server) {
    let (token, key) = tenant_with_greet(changed, "alpha", "hi").await;
    for round in 0..20 {
        let mut by_tenant = open_when_allowed(watched, "alpha", &token).await;
        let mut by_operator = open_when_allowed(watched, "alpha", OPERATOR).await;
        let body = json!({ "suspended": true });
        let (status, answer) = changed
            .admin("PATCH", "/tenants/alpha", Some(OPERATOR), Some(body))
            .await;
        assert_eq!(status, 200, "{answer}");
        let took = by_tenant.closes(&format!("round {round}, suspended")).await;
        assert!(took < WITHIN, "round {round}: {took:?}");
        by_operator.closes("the operator's, suspended").await;
        let body = json!({ "suspended": false });
        let (status, _) = changed
            .admin("PATCH", "/tenants/alpha", Some(OPERATOR), Some(body))
            .await;
        assert_eq!(status, 200);
    }
    assert_eq!(changed.call("alpha", "greet", &key).await.0, 200);
    // Written before the streams below open, so none of them carries it.
    records(changed, "alpha", &token, 1).await;

    let mut token = token;
    for round in 0..20 {
        let mut by_old_token = open_when_allowed(watched, "alpha", &token).await;
        let mut by_operator = open_when_allowed(watched, "alpha", OPERATOR).await;
        let (status, rotated) = changed
            .admin("POST", "/tenants/alpha/admin-token", Some(&token), None)
            .await;
        assert_eq!(status, 201, "{rotated}");
        let took = by_old_token
            .closes(&format!("round {round}, rotated"))
            .await;
        assert!(took < WITHIN, "round {round}: {took:?}");
        let old = changed
            .admin("GET", "/tenants/alpha/invocations", Some(&token), None)
            .await;
        assert_eq!(old.0, 403, "the old token is refused: {}", old.1);
        token = rotated["adminToken"].as_str().unwrap().to_owned();
        assert_eq!(changed.call("alpha", "greet", &key).await.0, 200);
        match by_operator.next(Duration::from_secs(2)).await {
            Next::Event(_, record) => assert_eq!(record["action"], "greet"),
            other => panic!("round {round}: the operator's stream: {other:?}"),
        }
        // This round's record is written before the next round's streams open.
        records(changed, "alpha", &token, round + 2).await;
    }
    let (status, _) = watched
        .admin("GET", "/tenants/alpha/invocations", Some(&token), None)
        .await;
    assert_eq!(status, 200, "the newest token works");
}

/// A running invocation of a tenant that is deleted is stopped, and its
/// record lands nowhere: not in a new tenant of the same name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_invocation_ends_with_its_tenant_and_is_recorded_nowhere() {
    let server = Server::hosted(&[]);
    let (token, key) = server.create_tenant("alpha", json!({})).await;
    let slow = "name = \"slow\"\n[limits]\ntimeout-ms = 20000\n";
    let (status, body) = server
        .deploy("alpha", &token, slow, slow_message_module("late", 10_000))
        .await;
    assert_eq!(status, 201, "{body}");
    let started = Instant::now();
    let call = server.call("alpha", "slow", &key);
    let remove = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        delete(&server, "alpha").await;
    };
    let ((status, body), ()) = tokio::join!(call, remove);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "it ran {:?}",
        started.elapsed()
    );
    assert_ne!(status, 200, "{body}");
    let (new_token, new_key) = tenant_with_greet(&server, "alpha", "fresh").await;
    assert_eq!(server.call("alpha", "greet", &new_key).await.0, 200);
    let found = records(&server, "alpha", &new_token, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let found_later = records(&server, "alpha", &new_token, 1).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found_later.len(), 1, "{found_later:?}");
    assert_eq!(found[0]["action"], "greet");
    assert_eq!(
        found[0]["id"], "1",
        "a new tenant's numbering starts afresh"
    );
}

/// Two tenants calling in turn: each sees its own records numbered 1, 2, 3…
/// with no gaps where the other's calls went, on SQLite and on PostgreSQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_ids_say_nothing_of_other_tenants() {
    let server = Server::hosted(&[]);
    interleaved_tenants_see_their_own_numbering(&server, &server).await;
    let database = Database::create().await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let one = Server::replica(&database.url, "127.0.0.1:0", dirs[0].path());
    let two = Server::replica(&database.url, "127.0.0.1:0", dirs[1].path());
    interleaved_tenants_see_their_own_numbering(&one, &two).await;
}

async fn interleaved_tenants_see_their_own_numbering(first: &Server, second: &Server) {
    let (alpha_token, alpha_key) = tenant_with_greet(first, "alpha", "a").await;
    let (beta_token, beta_key) = tenant_with_greet(first, "beta", "b").await;
    for round in 0..10 {
        // Alternating replicas too, where there are two.
        let via = if round % 2 == 0 { first } else { second };
        for (tenant, key) in [
            ("alpha", &alpha_key),
            ("beta", &beta_key),
            ("beta", &beta_key),
        ] {
            let deadline = Instant::now() + Duration::from_secs(2);
            loop {
                let (status, _) = via.call(tenant, "greet", key).await;
                if status == 200 {
                    break;
                }
                assert!(Instant::now() < deadline, "{tenant}: {status}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    for (tenant, token, count) in [("alpha", &alpha_token, 10), ("beta", &beta_token, 20)] {
        let found = records(first, tenant, token, count).await;
        let ids: Vec<&str> = found.iter().map(|r| r["id"].as_str().unwrap()).collect();
        let expected: Vec<String> = (1..=count).rev().map(|n| n.to_string()).collect();
        assert_eq!(ids, expected, "{tenant}");
    }
    delete(first, "alpha").await;
    delete(first, "beta").await;
}

/// One tenant calling more distinct actions than its share of named series
/// is counted under its own name and `action="_other"`, and another tenant
/// still gets its own named series.
#[tokio::test]
async fn one_tenant_cannot_take_every_named_metric_series() {
    let server = Server::hosted(&[
        "--metrics-max-series",
        "6",
        "--metrics-max-series-per-tenant",
        "3",
    ]);
    let (hog_token, hog_key) = server.create_tenant("hog", json!({})).await;
    for n in 0..8 {
        let manifest = format!("name = \"a{n}\"\n");
        let (status, body) = server
            .deploy("hog", &hog_token, &manifest, message_module("x"))
            .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(server.call("hog", &format!("a{n}"), &hog_key).await.0, 200);
    }
    let (_, key) = tenant_with_greet(&server, "quiet", "q").await;
    assert_eq!(server.call("quiet", "greet", &key).await.0, 200);
    let text = server.scrape_metrics().await;
    let line = |labels: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("docket_invocations_total{{{labels}")))
            .map(|l| l.rsplit_once(' ').unwrap().1.to_owned())
    };
    assert_eq!(
        line(r#"tenant="quiet",action="greet",outcome="success""#).as_deref(),
        Some("1"),
        "{text}"
    );
    assert_eq!(
        line(r#"tenant="hog",action="_other",outcome="success""#).as_deref(),
        Some("5"),
        "{text}"
    );
    assert!(line(r#"tenant="hog",action="a3""#).is_none(), "{text}");
}

/// Tenants each within their own memory budget cannot hold more guest
/// memory together than the server's budget: the call past it waits a
/// second, then gets 429 naming the server's budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_together_stay_within_the_servers_memory_budget() {
    let server = Server::hosted(&["--guest-memory-budget-mb", "100"]);
    let manifest = "name = \"slow\"\n[limits]\nmemory-mb = 60\ntimeout-ms = 10000\n";
    let mut keys = Vec::new();
    for tenant in ["alpha", "beta"] {
        let (token, key) = server.create_tenant(tenant, json!({})).await;
        let (status, body) = server
            .deploy(tenant, &token, manifest, slow_message_module("done", 2_500))
            .await;
        assert_eq!(status, 201, "{body}");
        keys.push(key);
    }
    let first = server.call("alpha", "slow", &keys[0]);
    let second = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.call("beta", "slow", &keys[1]).await
    };
    let ((first_status, first_body), (second_status, second_body)) = tokio::join!(first, second);
    assert_eq!(first_status, 200, "{first_body}");
    assert_eq!(second_status, 429, "{second_body}");
    let error = second_body["error"].as_str().unwrap();
    assert!(
        error.contains("server") && error.contains("100 MiB"),
        "{error}"
    );
    // Once the first is done, the second tenant runs.
    assert_eq!(server.call("beta", "slow", &keys[1]).await.0, 200);
}

/// A tenant whose failed compiles used up its window, deleted and made again
/// under the same name at once (before any reconcile tick), starts with a
/// clean record: the successor's deploy is not refused for the old tenant's
/// failures. (The old tenant only ever deployed; it never ran anything.)
#[tokio::test]
async fn a_recreated_tenant_starts_with_a_clean_compile_record() {
    let server = Server::hosted(&["--tenant-compile-failures", "2"]);
    // Valid to the static checks, refused by validation at compile time.
    let invalid = wat::parse_str("(module (func (export \"_start\") (result i32)))").unwrap();
    let (token, _) = server.create_tenant("alpha", json!({})).await;
    for _ in 0..2 {
        let (status, body) = server
            .deploy("alpha", &token, "name = \"bad\"\n", invalid.clone())
            .await;
        assert_eq!(status, 400, "{body}");
    }
    let (status, _) = server
        .deploy("alpha", &token, "name = \"good\"\n", message_module("ok"))
        .await;
    assert_eq!(status, 429, "the old tenant is out of compiles");
    delete(&server, "alpha").await;
    let (token, _) = server.create_tenant("alpha", json!({})).await;
    let (status, body) = server
        .deploy("alpha", &token, "name = \"good\"\n", message_module("ok"))
        .await;
    assert_eq!(status, 201, "{body}");
}

/// An action asking for more memory than the server's whole guest memory
/// budget is refused naming both (it can never run), not told to try again.
#[tokio::test]
async fn an_action_over_the_servers_whole_budget_is_refused_at_once() {
    let server = Server::hosted(&["--guest-memory-budget-mb", "50"]);
    let (token, key) = server.create_tenant("alpha", json!({})).await;
    let manifest = "name = \"big\"\n[limits]\nmemory-mb = 60\n";
    let (status, body) = server
        .deploy("alpha", &token, manifest, message_module("x"))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = server.call("alpha", "big", &key).await;
    assert_eq!(status, 429, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("is more than the server's guest memory budget")
            && error.contains("60 MiB")
            && error.contains("50 MiB"),
        "{error}"
    );
}
