//! Lazy loading and the bound on loaded modules, through the real binary: a
//! start loads only the actions called lately, an action never called since
//! the restart answers correctly on its first call (under the tier switch
//! too), and with a tiny `--max-loaded-modules-mb` every action of several
//! tenants keeps answering while modules are evicted and loaded again from
//! their compiled artifacts, never recompiled.

mod common;

use common::warm::until_warmed;
use common::{DOC, Server, VER, example_action, message_module, padded_message_module};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The sum of every sample of `series` (a name, with or without some of its
/// labels), 0 when absent.
fn sample(text: &str, series: &str) -> u64 {
    let (name, labels) = series.split_once('{').unwrap_or((series, ""));
    let labels: Vec<&str> = labels
        .trim_end_matches('}')
        .split(',')
        .filter(|l| !l.is_empty())
        .collect();
    let mut sum = 0.0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (key, value) = line.rsplit_once(' ').unwrap();
        let (key_name, key_labels) = key.split_once('{').unwrap_or((key, ""));
        if key_name == name && labels.iter().all(|l| key_labels.contains(l)) {
            sum += value.parse::<f64>().unwrap();
        }
    }
    sum as u64
}

fn manifest(name: &str) -> String {
    format!("name = \"{name}\"\n")
}

/// Stops the server as an operator would (SIGTERM), so its invocation log
/// is written out, and keeps its data for a restart.
fn stop(mut server: Server) {
    server.signal("TERM");
    assert!(
        server.wait_for_exit(Duration::from_secs(30)).is_some(),
        "the server did not stop"
    );
}

/// A start loads the actions called lately and only those; an action never
/// called since the restart answers correctly on its first call, loaded
/// then from its artifact, and that first call is counted as a lazy load.
#[tokio::test]
async fn a_start_loads_what_was_called_and_the_rest_loads_on_its_first_call() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::hosted_in(data.path(), &[]);
    let (token, key) = server.create_tenant("acme", json!({})).await;
    for name in ["called", "quiet"] {
        let (status, body) = server
            .deploy("acme", &token, &manifest(name), message_module(name))
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = server.call("acme", "called", &key).await;
    assert_eq!((status, &body["message"]), (200, &json!("called")));
    stop(server);

    let server = Server::hosted_in(data.path(), &[]);
    until_warmed(&server).await;
    let text = server.scrape_metrics().await;
    assert_eq!(sample(&text, "docket_loaded_modules"), 1, "{text}");
    assert_eq!(sample(&text, "docket_module_lazy_loads_total"), 0, "{text}");

    let (status, body) = server.call("acme", "called", &key).await;
    assert_eq!((status, &body["message"]), (200, &json!("called")));
    let text = server.scrape_metrics().await;
    assert_eq!(
        sample(&text, "docket_module_lazy_loads_total"),
        0,
        "the called action was loaded at the start: {text}"
    );

    let (status, body) = server.call("acme", "quiet", &key).await;
    assert_eq!((status, &body["message"]), (200, &json!("quiet")));
    let text = server.scrape_metrics().await;
    assert_eq!(sample(&text, "docket_module_lazy_loads_total"), 1, "{text}");
    assert_eq!(sample(&text, "docket_loaded_modules"), 2, "{text}");
    assert_eq!(
        sample(&text, r#"docket_modules_loaded_total{source="compiled"}"#),
        0,
        "{text}"
    );
}

/// Concurrent first calls of a never-called action share one load and all
/// answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_calls_share_one_load() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::hosted_in(data.path(), &[]);
    let (token, key) = server.create_tenant("acme", json!({})).await;
    let (status, body) = server
        .deploy("acme", &token, &manifest("crowd"), message_module("crowd"))
        .await;
    assert_eq!(status, 201, "{body}");
    stop(server);

    let server = std::sync::Arc::new(Server::hosted_in(data.path(), &[]));
    let calls: Vec<_> = (0..12)
        .map(|_| {
            let (server, key) = (server.clone(), key.clone());
            tokio::spawn(async move { server.call("acme", "crowd", &key).await })
        })
        .collect();
    for call in calls {
        let (status, body) = call.await.unwrap();
        assert_eq!((status, &body["message"]), (200, &json!("crowd")));
    }
    let text = server.scrape_metrics().await;
    assert_eq!(sample(&text, "docket_module_lazy_loads_total"), 1, "{text}");
    assert_eq!(
        sample(&text, r#"docket_modules_loaded_total{source="artifact"}"#),
        1,
        "{text}"
    );
}

/// Under the tier switch: restarted while only the baseline artifact may
/// exist, a never-called action answers on its first call, and its
/// optimized code then takes over, still answering the same.
#[tokio::test]
async fn a_first_call_after_a_restart_goes_through_the_tier_switch() {
    let tiers = ["--compile-tiers", "baseline,optimized"];
    let server = Server::hosted(&tiers);
    let (token, key) = server.create_tenant("acme", json!({})).await;
    let (status, body) = server
        .deploy(
            "acme",
            &token,
            &manifest("tiered"),
            padded_message_module("tiered", 300),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // Killed while the optimized compile likely still runs.
    let data = server.crash().unwrap();

    let server = Server::hosted_in(data.path(), &tiers);
    until_warmed(&server).await;
    assert_eq!(
        sample(&server.scrape_metrics().await, "docket_loaded_modules"),
        0
    );
    let (status, body) = server.call("acme", "tiered", &key).await;
    assert_eq!((status, &body["message"]), (200, &json!("tiered")));
    let started = Instant::now();
    loop {
        let text = server.scrape_metrics().await;
        if sample(&text, r#"docket_modules_cached{tier="optimized"}"#) == 1
            && sample(&text, r#"docket_modules_cached{tier="baseline"}"#) == 0
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the optimized code did not take over: {text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, body) = server.call("acme", "tiered", &key).await;
    assert_eq!((status, &body["message"]), (200, &json!("tiered")));
    let text = server.scrape_metrics().await;
    assert_eq!(
        sample(&text, r#"docket_modules_loaded_total{source="compiled"}"#),
        0,
        "only background compiles: {text}"
    );
    drop(data);
}

/// The component action the bound test runs beside the commands.
async fn call_gate(server: &Server, tenant: &str, key: &str) -> (u16, Value) {
    let path = format!(
        "/t/{tenant}/customAction?name=gate&documentId={DOC}&documentVersionId={VER}&stage=brand"
    );
    server
        .get(&path, &[("apiKey", key), ("username", "jane.doe")])
        .await
}

/// With a bound far smaller than the tenants' modules, every action of
/// every tenant keeps answering correctly, round after round; modules are
/// evicted and loaded again from their artifacts, and nothing is compiled
/// but the deploys' own compiles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evicted_modules_load_again_from_their_artifacts_and_answer() {
    // One tier, so no background compile blurs the count of compiles.
    let server = Server::hosted(&[
        "--max-loaded-modules-mb",
        "1",
        "--compile-tiers",
        "optimized",
    ]);
    let tenants = ["alpha", "bravo", "charlie"];
    let mut keys = Vec::new();
    let mut deploys = 0;
    for tenant in tenants {
        let (token, key) = server.create_tenant(tenant, json!({})).await;
        for n in 0..3 {
            let name = format!("act{n}");
            let module = padded_message_module(&format!("{tenant} {name}"), 60);
            let (status, body) = server
                .deploy(tenant, &token, &manifest(&name), module)
                .await;
            assert_eq!(status, 201, "{body}");
            deploys += 1;
        }
        let gate = "name = \"gate\"\n[config]\nreviewers = \"jane.doe\"\n";
        let (status, body) = server
            .deploy(tenant, &token, gate, example_action("review-gate"))
            .await;
        assert_eq!(status, 201, "{body}");
        deploys += 1;
        keys.push(key);
    }
    let text = server.scrape_metrics().await;
    assert_eq!(
        sample(&text, "docket_loaded_module_bytes_limit"),
        1024 * 1024
    );
    let mut gate_answer = None;
    for round in 0..3 {
        for (tenant, key) in tenants.iter().zip(&keys) {
            for n in 0..3 {
                let name = format!("act{n}");
                let (status, body) = server.call(tenant, &name, key).await;
                assert_eq!(
                    (status, &body["message"]),
                    (200, &json!(format!("{tenant} {name}"))),
                    "round {round}"
                );
            }
            let (status, body) = call_gate(&server, tenant, key).await;
            assert_eq!(status, 200, "round {round}: {body}");
            assert_eq!(body["status"], "success", "{body}");
            match &gate_answer {
                None => gate_answer = Some(body["message"].clone()),
                Some(first) => assert_eq!(&body["message"], first),
            }
        }
        let text = server.scrape_metrics().await;
        assert!(
            sample(&text, "docket_loaded_module_bytes") <= 1024 * 1024
                || sample(&text, "docket_loaded_modules") == 1,
            "over the bound: {text}"
        );
    }
    let text = server.scrape_metrics().await;
    assert!(sample(&text, "docket_module_evictions_total") > 0, "{text}");
    assert!(
        sample(&text, "docket_module_lazy_loads_total") > 0,
        "{text}"
    );
    assert!(
        sample(&text, r#"docket_modules_loaded_total{source="artifact"}"#) > 0,
        "{text}"
    );
    // Every compile was a deploy's: the reloads read artifacts.
    assert_eq!(
        sample(&text, "docket_compile_duration_seconds_count"),
        deploys,
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"docket_modules_loaded_total{source="compiled"}"#),
        deploys,
        "{text}"
    );
    let log = server.stderr();
    assert!(log.contains("from=\"artifact\""), "{log}");
}

/// On PostgreSQL, a replica that lost the database still loads an evicted
/// module again, from the artifact on its own disk (the artifact says its
/// ABI, so no database is needed): every action keeps answering through
/// the outage while modules are evicted and reloaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_database_evicted_modules_load_again_from_the_replicas_disk() {
    use common::cluster::{Cut, Database};
    let db = Database::create().await;
    let cut = Cut::new().await;
    let url = db.url_via(cut.port);
    let dir = tempfile::tempdir().unwrap();
    // Winch only: no background compile, so every artifact is written at deploy.
    let replica = Server::replica_with(
        &url,
        "127.0.0.1:0",
        dir.path(),
        &[
            "--max-loaded-modules-mb",
            "1",
            "--compile-tiers",
            "baseline",
        ],
    );
    let (token, key) = replica.create_tenant("acme", json!({})).await;
    let names = ["one", "two", "three", "four", "five"];
    for name in names {
        let module = padded_message_module(name, 400);
        let (status, body) = replica
            .deploy("acme", &token, &manifest(name), module)
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let evictions = |text: &str| sample(text, "docket_module_evictions_total");
    let before = evictions(&replica.scrape_metrics().await);

    cut.cut();
    for round in 0..3 {
        for name in names {
            let (status, body) = replica.call("acme", name, &key).await;
            assert_eq!(
                (status, &body["message"]),
                (200, &json!(name)),
                "round {round} without the database: {}",
                replica.stderr()
            );
        }
    }
    let text = replica.scrape_metrics().await;
    assert!(evictions(&text) > before, "nothing evicted: {text}");
    assert!(
        sample(&text, "docket_module_lazy_loads_total") > 0,
        "{text}"
    );
    assert_eq!(
        sample(&text, r#"docket_modules_loaded_total{source="compiled"}"#),
        names.len() as u64,
        "only the deploys compiled: {text}"
    );
    cut.restore();
}
