//! Run logs a tenant can see, through the real binary: the invocation list
//! with filters and cursor paging, one record by id, the live stream
//! (server-sent events), `docket logs`, and pruning by age.

mod common;

use common::sse::Events;
use common::{Server, guest, message_module};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Creates `acme` with a `greet` action (success) and a `spin` action (hits
/// its time limit); returns (admin token, webhook key).
async fn acme(server: &Server) -> (String, String) {
    let (token, key) = server.create_tenant("acme", serde_json::json!({})).await;
    let (status, body) = server
        .deploy("acme", &token, "name = \"greet\"\n", message_module("hi"))
        .await;
    assert_eq!(status, 201, "{body}");
    let spin = "name = \"spin\"\n[limits]\ntimeout-ms = 100\n";
    let (status, body) = server.deploy("acme", &token, spin, guest("loop")).await;
    assert_eq!(status, 201, "{body}");
    (token, key)
}

/// Lists `path` until it holds `count` records (they are written in batches,
/// off the request path); returns the body.
async fn listed(server: &Server, token: &str, path: &str, count: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, body) = server.admin("GET", path, Some(token), None).await;
        assert_eq!(status, 200, "{path}: {body}");
        if body["invocations"].as_array().unwrap().len() == count || Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn field<'a>(body: &'a Value, name: &str) -> Vec<&'a str> {
    body["invocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[name].as_str().unwrap())
        .collect()
}

/// Filters, pages that follow one another by cursor, one record by id, and
/// bad filter values refused naming the parameter.
#[tokio::test]
async fn list_filters_pages_and_gets_one() {
    let server = Server::hosted(&[]);
    let (token, key) = acme(&server).await;
    for action in ["greet", "spin", "greet", "spin", "greet"] {
        server.call("acme", action, &key).await;
    }
    let all = listed(&server, &token, "/tenants/acme/invocations", 5).await;
    assert_eq!(
        field(&all, "action"),
        ["greet", "spin", "greet", "spin", "greet"]
    );
    assert!(all.get("next").is_none(), "one page: {all}");
    let ids = field(&all, "id");

    let greets = listed(&server, &token, "/tenants/acme/invocations?action=greet", 3).await;
    assert_eq!(field(&greets, "action"), ["greet"; 3]);
    let limits = listed(
        &server,
        &token,
        "/tenants/acme/invocations?outcome=limit",
        2,
    )
    .await;
    assert_eq!(field(&limits, "action"), ["spin"; 2]);
    let request = all["invocations"][1]["requestId"].as_str().unwrap();
    let path = format!("/tenants/acme/invocations?requestId={request}");
    assert_eq!(
        field(&listed(&server, &token, &path, 1).await, "id"),
        [ids[1]]
    );
    let future = "/tenants/acme/invocations?since=2999-01-01T00:00:00Z";
    assert!(field(&listed(&server, &token, future, 0).await, "id").is_empty());
    let past = "/tenants/acme/invocations?until=2000-01-01T01:00:00%2B01:00";
    assert!(field(&listed(&server, &token, past, 0).await, "id").is_empty());
    let window = "/tenants/acme/invocations?since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z";
    assert_eq!(field(&listed(&server, &token, window, 5).await, "id"), ids);

    let mut paged = Vec::new();
    let mut path = "/tenants/acme/invocations?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let (status, page) = server.admin("GET", &path, Some(&token), None).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        paged.extend(field(&page, "id").into_iter().map(str::to_owned));
        match page["next"].as_str() {
            Some(next) => path = format!("/tenants/acme/invocations?limit=2&before={next}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(paged, ids, "pages without gaps or duplicates");

    let path = format!("/tenants/acme/invocations/{}", ids[1]);
    let (status, one) = server.admin("GET", &path, Some(&token), None).await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one, all["invocations"][1]);
    for missing in ["999999", "nope"] {
        let path = format!("/tenants/acme/invocations/{missing}");
        assert_eq!(server.admin("GET", &path, Some(&token), None).await.0, 404);
    }

    for (query, parameter) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("since=yesterday", "since"),
        ("until=2026-13-01T00:00:00Z", "until"),
        ("before=abc", "before"),
        ("outcome=nope", "outcome"),
        ("action=No%20Such", "action"),
    ] {
        let path = format!("/tenants/acme/invocations?{query}");
        let (status, body) = server.admin("GET", &path, Some(&token), None).await;
        assert_eq!(status, 400, "{query}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(parameter), "{query}: {error}");
    }
}

/// Another tenant's token can neither list, get nor stream; its own routes
/// never show the first tenant's records.
#[tokio::test]
async fn another_tenant_cannot_list_get_or_stream() {
    let server = Server::hosted(&[]);
    let (token, key) = acme(&server).await;
    let (other, _) = server.create_tenant("globex", serde_json::json!({})).await;
    server.call("acme", "greet", &key).await;
    let all = listed(&server, &token, "/tenants/acme/invocations", 1).await;
    let id = field(&all, "id")[0].to_owned();
    for path in [
        "/tenants/acme/invocations".to_owned(),
        format!("/tenants/acme/invocations/{id}"),
        "/tenants/acme/invocations/stream".to_owned(),
    ] {
        let (status, body) = server.admin("GET", &path, Some(&other), None).await;
        assert_eq!(status, 403, "{path}: {body}");
    }
    let path = format!("/tenants/globex/invocations/{id}");
    assert_eq!(server.admin("GET", &path, Some(&other), None).await.0, 404);
    let theirs = listed(&server, &other, "/tenants/globex/invocations", 0).await;
    assert!(field(&theirs, "id").is_empty());
}

/// Opens acme's stream (see [`Events::open`]).
async fn open(server: &Server, token: &str, query: &str, last: Option<&str>) -> Events {
    Events::open(&server.base, "acme", token, query, last).await
}

/// A new invocation reaches an open stream within a second; filters apply;
/// `Last-Event-ID` resumes after the record it names.
#[tokio::test]
async fn stream_delivers_new_invocations_and_resumes() {
    let server = Server::hosted(&[]);
    let (token, key) = acme(&server).await;
    server.call("acme", "greet", &key).await;
    listed(&server, &token, "/tenants/acme/invocations", 1).await;

    let mut events = open(&server, &token, "", None).await;
    let mut spins = open(&server, &token, "?action=spin", None).await;
    let quiet = events.next(Duration::from_millis(600)).await;
    assert!(quiet.is_none(), "older records are not replayed: {quiet:?}");
    let (status, _) = server.call("acme", "greet", &key).await;
    assert_eq!(status, 200);
    let called = Instant::now();
    let (id, record) = events.next(Duration::from_secs(1)).await.expect("an event");
    assert!(called.elapsed() < Duration::from_secs(1));
    assert_eq!(
        (record["action"].as_str(), record["id"].as_str()),
        (Some("greet"), Some(id.as_str()))
    );

    server.call("acme", "spin", &key).await;
    let (_, record) = spins
        .next(Duration::from_secs(2))
        .await
        .expect("a spin event");
    assert_eq!(record["outcome"], "limit");
    let (_, record) = events
        .next(Duration::from_secs(2))
        .await
        .expect("the spin too");
    assert_eq!(record["action"], "spin");

    let mut resumed = open(&server, &token, "", Some(&id)).await;
    let (_, record) = resumed.next(Duration::from_secs(2)).await.expect("resumed");
    assert_eq!(record["action"], "spin", "the one after Last-Event-ID");

    // At most four streams per tenant; a closed one gives its place back.
    let fourth = open(&server, &token, "", None).await;
    let url = format!("{}/admin/v1/tenants/acme/invocations/stream", server.base);
    let fifth = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(fifth.status(), 429);
    drop(fourth);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let again = reqwest::Client::new()
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        if again.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "a closed stream keeps its place");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Records older than `--invocation-max-age-days` are pruned.
#[tokio::test]
async fn invocations_past_the_max_age_are_pruned() {
    // About 1.7 seconds.
    let server = Server::hosted(&["--invocation-max-age-days", "0.00002"]);
    let (token, key) = acme(&server).await;
    server.call("acme", "greet", &key).await;
    let called = Instant::now();
    let body = listed(&server, &token, "/tenants/acme/invocations", 1).await;
    assert_eq!(field(&body, "action"), ["greet"], "kept while young");
    listed(&server, &token, "/tenants/acme/invocations", 0).await;
    let gone = called.elapsed();
    let body = listed(&server, &token, "/tenants/acme/invocations", 0).await;
    assert!(field(&body, "id").is_empty(), "pruned after {gone:?}");
    assert!(
        gone > Duration::from_millis(1500),
        "pruned too early: {gone:?}"
    );
}

/// `docket logs` prints one line per invocation, oldest first, with the
/// error Workfront got and the action's stderr indented below.
#[tokio::test]
async fn docket_logs_prints_one_line_per_invocation() {
    let server = Server::hosted(&[]);
    let (token, key) = acme(&server).await;
    let fails = "name = \"fails\"\n";
    let (status, body) = server
        .deploy("acme", &token, fails, guest("exit_with_stderr"))
        .await;
    assert_eq!(status, 201, "{body}");
    for action in ["greet", "spin", "fails"] {
        server.call("acme", action, &key).await;
    }
    listed(&server, &token, "/tenants/acme/invocations", 3).await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_docket"))
        .args(["logs", "acme", "--limit", "2", "--server", &server.base])
        .env("DOCKET_ADMIN_TOKEN", &token)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    let spin: Vec<&str> = lines[0].split("  ").collect();
    assert_eq!(spin.len(), 6, "{stdout}");
    assert_eq!(
        (spin[1], spin[2], spin[4]),
        ("spin@1", "limit", "time limit")
    );
    assert!(spin[3].ends_with(" ms"), "{stdout}");
    assert_eq!(spin[5].len(), 32, "the request id: {stdout}");
    assert!(
        lines[1].starts_with("    error: action \"spin\" was stopped at its time limit"),
        "{stdout}"
    );
    assert!(lines[2].contains("  fails@1  failure  "), "{stdout}");
    assert!(lines[2].contains("  -  "), "no limit hit: {stdout}");
    assert_eq!(lines[3], "    error: something went wrong", "{stdout}");
    assert_eq!(lines[4], "    stderr: something went wrong", "{stdout}");
}

/// `docket logs --follow` prints a new invocation within a second of it.
#[tokio::test]
async fn docket_logs_follow_prints_new_invocations() {
    let server = Server::hosted(&[]);
    let (token, key) = acme(&server).await;
    server.call("acme", "spin", &key).await;
    listed(&server, &token, "/tenants/acme/invocations", 1).await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_docket"))
        .args(["logs", "acme", "--follow"])
        .env("DOCKET_SERVER", &server.base)
        .env("DOCKET_ADMIN_TOKEN", &token)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let first = lines.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(first.contains("  spin@1  limit  "), "{first}");
    // The stream is open once the listing is printed; give it a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, _) = server.call("acme", "greet", &key).await;
    assert_eq!(status, 200);
    let called = Instant::now();
    // The next invocation's line; the indented ones below spin's say why it failed.
    let line = loop {
        let line = lines.recv_timeout(Duration::from_secs(1).saturating_sub(called.elapsed()));
        if !line.as_ref().is_ok_and(|l| l.starts_with("    ")) {
            break line;
        }
    };
    let elapsed = called.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    let line = line.expect("a new line within a second");
    assert!(line.contains("  greet@1  success  "), "{line}");
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
}

#[tokio::test]
async fn an_open_stream_does_not_hold_the_shutdown() {
    let mut server = Server::hosted(&[]);
    let (token, _) = acme(&server).await;
    let _events = open(&server, &token, "", None).await;
    let signalled = Instant::now();
    server.signal("TERM");
    // The shutdown grace is 30 s; the stream ends at its next poll instead.
    let status = server.wait_for_exit(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "still running {:?} after SIGTERM with a stream open",
        signalled.elapsed()
    );
}

/// A secret's value appears in no log line, run-log record, stream or metric
/// that Docket itself writes, whatever its actions do with it.
#[tokio::test]
async fn a_secret_appears_in_no_log_record_or_metric() {
    const SECRET: &str = "sekret-7f3a91c2-never-print-me";
    let server = Server::hosted(&["--log-format", "json"]);
    let (token, key) = acme(&server).await;
    let (status, _) = server
        .admin(
            "PUT",
            "/tenants/acme/secrets/api-key",
            Some(&token),
            Some(serde_json::json!({"value": SECRET})),
        )
        .await;
    assert_eq!(status, 204);
    // Granted to a succeeding, a failing and a trapping action.
    for (name, module) in [
        ("granted", message_module("ok")),
        ("granted-trap", guest("trap")),
        ("granted-spin", guest("loop")),
    ] {
        let manifest = format!(
            "name = \"{name}\"\n[limits]\ntimeout-ms = 100\n[capabilities]\nsecrets = [\"api-key\"]\n"
        );
        let (status, body) = server.deploy("acme", &token, &manifest, module).await;
        assert_eq!(status, 201, "{body}");
        server.call("acme", name, &key).await;
    }
    let logged = listed(&server, &token, "/tenants/acme/invocations", 3).await;
    let (_, secrets) = server
        .admin("GET", "/tenants/acme/secrets", Some(&token), None)
        .await;
    let metrics = server.scrape_metrics().await;
    assert!(metrics.contains("docket_invocations_total"), "{metrics}");
    for (what, text) in [
        ("the server's log", server.stderr()),
        ("the run log", logged.to_string()),
        ("the secret listing", secrets.to_string()),
        ("the metrics", metrics),
    ] {
        assert!(!text.contains(SECRET), "the secret leaked into {what}");
    }
    assert!(secrets.to_string().contains("api-key"));
}
