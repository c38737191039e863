//! A failure drill through a real HAProxy configured from `deploy/haproxy.cfg`:
//! three replicas on one database under steady load, one killed with SIGKILL,
//! a deploy while it is down, and its restart on the same port and scratch
//! directory; then the database cut off from every replica, where HAProxy
//! falls back to its backup servers. Also checks that `deploy/kubernetes.yaml`
//! parses and wires what docs/deploying.md says it does.

mod common;

use common::haproxy::*;

use common::cluster::{Cut, Database, eventually, free_port};
use common::{OPERATOR, Server, message_module};
use serde_json::{Value, json};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn haproxy_routes_around_a_killed_replica_and_its_restart_serves_the_latest_deploy() {
    let haproxy_binary = haproxy_binary(); // fail first, and clearly, without HAProxy
    let db = Database::create().await;
    let ports = [fixed_port(), fixed_port(), fixed_port()];
    assert!(
        ports[0] != ports[1] && ports[1] != ports[2] && ports[0] != ports[2],
        "{ports:?}"
    );
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut replicas: Vec<Option<Server>> = ports
        .iter()
        .zip(&dirs)
        .map(|(port, dir)| {
            Some(Server::replica(
                &db.url,
                &format!("127.0.0.1:{port}"),
                dir.path(),
            ))
        })
        .collect();
    let lb = Haproxy::start(free_port(), ports);
    eprintln!(
        "haproxy {} on {}, replicas on {ports:?}",
        haproxy_binary.display(),
        lb.base
    );
    let client = client();

    // All three in rotation: round robin reaches three distinct replicas.
    in_rotation(&client, &lb, 3).await;

    // The tenant and v1, created through HAProxy.
    let (token, key) = create_acme(&client, &lb.base).await;
    known_everywhere(replicas.iter().flatten(), &token).await;
    // v1 takes a little while, so that calls are in flight when the replica dies.
    deploy(
        &client,
        &lb.base,
        &token,
        "v1",
        slow_message_module("v1", ACTION_TAKES_MS),
    )
    .await;
    for (i, replica) in replicas.iter().enumerate() {
        let replica = replica.as_ref().unwrap();
        eventually(&format!("replica {i} serves v1"), PROPAGATION, || async {
            let (status, body) = replica.call("acme", "greet", &key).await;
            (status == 200 && body["message"] == "v1").then_some(())
        })
        .await;
    }

    // Steady load; SIGKILL one replica part-way through.
    let stop = Arc::new(AtomicBool::new(false));
    let load_started = Instant::now();
    let callers = load(&lb.base, &key, CALLERS, &stop);
    tokio::time::sleep(KILL_AT).await;
    const VICTIM: usize = 1;
    let killed_at = Instant::now();
    replicas[VICTIM].take().unwrap().crash();
    tokio::time::sleep(LOAD_FOR.saturating_sub(load_started.elapsed())).await;
    stop.store(true, Ordering::Relaxed);
    let outcomes = collect(callers).await;

    let settled = killed_at + SETTLED_AFTER;
    let failures = |set: &[&Outcome]| set.iter().filter(|o| o.result.is_err()).count();
    let before: Vec<_> = outcomes.iter().filter(|o| o.started < killed_at).collect();
    let around: Vec<_> = outcomes
        .iter()
        .filter(|o| o.started >= killed_at && o.started < settled)
        .collect();
    let after: Vec<_> = outcomes.iter().filter(|o| o.started >= settled).collect();
    let in_flight_at_kill = before
        .iter()
        .filter(|o| o.started + o.took > killed_at)
        .count();
    let slowest_after = after.iter().map(|o| o.took).max().unwrap_or_default();
    eprintln!(
        "load: {} calls in {:?} by {CALLERS} callers; before the kill {} ({} failed, {} in flight at the kill), \
         first {SETTLED_AFTER:?} after it {} ({} failed), after that {} ({} failed, slowest {slowest_after:?})",
        outcomes.len(),
        LOAD_FOR,
        before.len(),
        failures(&before),
        in_flight_at_kill,
        around.len(),
        failures(&around),
        after.len(),
        failures(&after),
    );
    let retries: Vec<String> = lb
        .requests("/t/acme/customAction")
        .into_iter()
        .map(|(_, retries)| retries)
        .filter(|retries| retries != "0")
        .collect();
    eprintln!(
        "HAProxy retried {} calls ({} of them on another replica)",
        retries.len(),
        retries.iter().filter(|r| r.starts_with('+')).count()
    );
    for outcome in outcomes.iter().filter(|o| o.result.is_err()) {
        let at = if outcome.started < killed_at {
            format!("-{:?}", killed_at - outcome.started)
        } else {
            format!("+{:?}", outcome.started - killed_at)
        };
        eprintln!(
            "  failed: started at kill {at}, took {:?}: {:?}",
            outcome.took, outcome.result
        );
    }
    assert!(
        before
            .iter()
            .filter(|o| o.started + o.took <= killed_at)
            .all(|o| o.result.as_deref() == Ok("v1")),
        "calls failed before anything was killed\nHAProxy:\n{}",
        lb.state_changes()
    );
    let bad: Vec<_> = after
        .iter()
        .filter(|o| o.result.as_deref() != Ok("v1"))
        .map(|o| o.result.clone())
        .collect();
    assert!(
        bad.is_empty(),
        "{} of {} calls that started {SETTLED_AFTER:?} or more after the kill failed: {bad:?}\nHAProxy:\n{}",
        bad.len(),
        after.len(),
        lb.state_changes()
    );
    assert!(
        after.len() >= CALLERS * 50,
        "the load ran: {} calls after the kill settled",
        after.len()
    );

    // While it is down: v2, deployed through HAProxy, reaches HAProxy's
    // answers within the propagation time and stays.
    let deployed = deploy(&client, &lb.base, &token, "v2", message_module("v2")).await;
    let deployed_at = Instant::now();
    assert_eq!(deployed["version"], 2, "{deployed}");
    let (_, took) = eventually("HAProxy answers v2", PROPAGATION, || async {
        (call(&client, &lb.base, &key).await.as_deref() == Ok("v2")).then_some(())
    })
    .await;
    eprintln!("v2 answered through HAProxy {took:?} after its deploy returned");
    // From here on every answer through HAProxy must be v2, through the
    // restart below and after the restarted replica is back in rotation.
    let settled_on_v2 = deployed_at + PROPAGATION;
    tokio::time::sleep(settled_on_v2.saturating_duration_since(Instant::now())).await;
    let watching = Arc::new(AtomicBool::new(false));
    let watchers = load(&lb.base, &key, 2, &watching);

    // The killed replica again, on the same port and scratch directory.
    let restarted_at = Instant::now();
    let (url, listen, dir) = (
        db.url.clone(),
        format!("127.0.0.1:{}", ports[VICTIM]),
        dirs[VICTIM].path().to_owned(),
    );
    let restarted = tokio::task::spawn_blocking(move || Server::replica(&url, &listen, &dir))
        .await
        .unwrap();
    let (_, until_ready) = eventually(
        "the restarted replica is ready",
        Duration::from_secs(30),
        || async { (restarted.readiness().await.0 == 200).then_some(()) },
    )
    .await;
    // The moment it first says ready, it serves v2 itself.
    let (status, body) = restarted.call("acme", "greet", &key).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (200, Some("v2")),
        "the restarted replica, directly, as soon as /readyz said 200: {body}"
    );
    eprintln!(
        "restarted replica listening after {:?}, ready {until_ready:?} later, serving v2",
        restarted_at.elapsed() - until_ready
    );
    // Back in rotation: HAProxy routes to it again.
    let restarted_id = {
        let (_, body) = restarted.readiness().await;
        let health: Value = serde_json::from_str(&body).unwrap();
        health["replica"].as_str().unwrap().to_owned()
    };
    let (_, back_after) = eventually(
        "HAProxy routes to the restarted replica",
        Duration::from_secs(10),
        || async {
            (replica_behind(&client, &lb.base).await.as_deref() == Some(&restarted_id))
                .then_some(())
        },
    )
    .await;
    eprintln!("HAProxy routed to the restarted replica {back_after:?} after it was ready");
    tokio::time::sleep(Duration::from_secs(1)).await;
    watching.store(true, Ordering::Relaxed);
    let watched = collect(watchers).await;
    let not_v2: Vec<_> = watched
        .iter()
        .filter(|o| o.result.as_deref() != Ok("v2"))
        .map(|o| o.result.clone())
        .collect();
    assert!(
        not_v2.is_empty(),
        "after the deploy settled, {} of {} calls through HAProxy did not answer v2: {not_v2:?}\nHAProxy:\n{}",
        not_v2.len(),
        watched.len(),
        lb.state_changes()
    );
    eprintln!(
        "{} calls through HAProxy during the restart, all v2\nHAProxy state changes:\n{}",
        watched.len(),
        lb.state_changes()
    );
    // The replicas that never went down kept answering directly too.
    for replica in replicas.iter().flatten() {
        let (status, body) = replica.call("acme", "greet", &key).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (200, Some("v2")),
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn when_no_replica_reaches_the_database_haproxy_falls_back_to_the_backups_and_actions_keep_answering()
 {
    haproxy_binary(); // fail first, and clearly, without HAProxy
    let db = Database::create().await;
    let cut = Cut::new().await;
    let url = db.url_via(cut.port);
    let ports = [fixed_port(), fixed_port(), fixed_port()];
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let replicas: Vec<Server> = ports
        .iter()
        .zip(&dirs)
        .map(|(port, dir)| Server::replica(&url, &format!("127.0.0.1:{port}"), dir.path()))
        .collect();
    let lb = Haproxy::start(free_port(), ports);
    let client = client();
    in_rotation(&client, &lb, 3).await;
    let (token, key) = create_acme(&client, &lb.base).await;
    known_everywhere(&replicas, &token).await;
    deploy(&client, &lb.base, &token, "v1", message_module("v1")).await;
    for replica in &replicas {
        eventually("every replica serves v1", PROPAGATION, || async {
            let (status, body) = replica.call("acme", "greet", &key).await;
            (status == 200 && body["message"] == "v1").then_some(())
        })
        .await;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let callers = load(&lb.base, &key, 2, &stop);
    tokio::time::sleep(Duration::from_secs(1)).await;
    cut.cut();
    let cut_at = Instant::now();
    let primaries = ["replica-1", "replica-2", "replica-3"];
    let (_, all_down) = eventually(
        "HAProxy takes every primary out (each /readyz says 503)",
        Duration::from_secs(10),
        || async { lb.all(&primaries, "DOWN").then_some(()) },
    )
    .await;
    // Now the backups answer: /readyz through HAProxy is a replica's own 503…
    let response = client
        .get(format!("{}/readyz", lb.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    let health: Value = response
        .json()
        .await
        .expect("a replica's JSON, not HAProxy's page");
    assert_eq!(health["database"], "unreachable", "{health}");
    // …changes are refused by a replica, with its reason…
    let (status, body) = admin(
        &client,
        &lb.base,
        reqwest::Method::POST,
        "/tenants",
        OPERATOR,
        Some(json!({"name": "other", "quotas": {}})),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("database"),
        "{body}"
    );
    // …and live actions keep answering, through the backups.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let outage = cut_at.elapsed();
    cut.restore();
    let (_, all_up) = eventually(
        "HAProxy takes the primaries back",
        Duration::from_secs(10),
        || async { lb.all(&primaries, "UP").then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let outcomes = collect(callers).await;
    let by_backups = lb
        .requests("/t/acme/customAction")
        .iter()
        .filter(|(server, _)| server.ends_with("-live"))
        .count();
    eprintln!(
        "database cut for {outage:?}: every primary out {all_down:?} after the cut, back {all_up:?} after the restore; \
         {} calls through HAProxy, {by_backups} answered by the backups",
        outcomes.len()
    );
    let failed: Vec<_> = outcomes
        .iter()
        .filter(|o| o.result.as_deref() != Ok("v1"))
        .map(|o| o.result.clone())
        .collect();
    assert!(
        failed.is_empty(),
        "calls failed while the database was down: {failed:?}\nHAProxy:\n{}",
        lb.state_changes()
    );
    assert!(
        by_backups >= 10,
        "the backups served the outage ({by_backups} calls)\nHAProxy:\n{}",
        lb.state_changes()
    );
}
