//! Capabilities through the real binary: outbound HTTP (allow-list, redirects,
//! SSRF after DNS, budgets, deadlines) and the key-value store, for both ABIs,
//! against a real HTTP server this test starts on 127.0.0.1 as the remote side.

mod common;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use common::{DOC, Manifests, Server, VER, built_guest, example_action};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What the remote side received: (path, apiKey header, body).
type Received = Arc<Mutex<Vec<(String, String, String)>>>;

/// The remote side: a real HTTP server on 127.0.0.1 with the answers the tests need.
struct Remote {
    port: u16,
    received: Received,
    /// The path of every request that reached the server.
    hits: Arc<Mutex<Vec<String>>>,
}

impl Remote {
    async fn start() -> Self {
        let received: Received = Arc::default();
        let hits: Arc<Mutex<Vec<String>>> = Arc::default();
        let app = axum::Router::new()
            .route("/hello", get(|| async { "hello from remote" }))
            .route(
                "/redirect",
                get(|Query(q): Query<HashMap<String, String>>| async move {
                    Redirect::temporary(&q["to"])
                }),
            )
            .route("/big", get(|| async { "x".repeat(2 * 1024 * 1024) }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                    "too late"
                }),
            )
            .route("/attask/api/v19.0/note", post(workfront_note))
            .route("/chat", post(record))
            .route(
                "/headers",
                get(|headers: HeaderMap| async move {
                    let key = headers.get("apikey").and_then(|v| v.to_str().ok());
                    format!("apikey={}", key.unwrap_or("none"))
                }),
            )
            .with_state(received.clone())
            .layer(axum::middleware::from_fn_with_state(
                hits.clone(),
                record_hit,
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            port,
            received,
            hits,
        }
    }

    fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn received(&self) -> Vec<(String, String, String)> {
        self.received.lock().unwrap().clone()
    }
}

async fn record_hit(
    State(hits): State<Arc<Mutex<Vec<String>>>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    hits.lock().unwrap().push(request.uri().path().to_owned());
    next.run(request).await
}

async fn record(
    State(received): State<Received>,
    headers: HeaderMap,
    body: String,
) -> &'static str {
    let key = headers
        .get("apikey")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    received
        .lock()
        .unwrap()
        .push(("/chat".into(), key.into(), body));
    "ok"
}

/// Plays Workfront's `POST /attask/api/v19.0/note`.
async fn workfront_note(
    State(received): State<Received>,
    headers: HeaderMap,
    body: String,
) -> impl IntoResponse {
    let key = headers
        .get("apikey")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if key != "wf-api-key" {
        let error = json!({"error": {"message": "Invalid apiKey"}});
        return (StatusCode::UNAUTHORIZED, error.to_string());
    }
    let note: Value = serde_json::from_str(&body).unwrap_or_default();
    if note["objID"] == "missing" {
        let error = json!({"error": {"message": "DOCV missing not found"}});
        return (StatusCode::NOT_FOUND, error.to_string());
    }
    received
        .lock()
        .unwrap()
        .push(("note".into(), key.into(), body));
    (
        StatusCode::OK,
        json!({"data": {"ID": "note-7"}}).to_string(),
    )
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

async fn probe(server: &Server, action: &str, query: &str) -> (u16, Value) {
    server.custom_action("acme", action, query).await
}

/// Calls `action` of `tenant` with `count=visits`; returns its message.
async fn count(server: &Server, tenant: &str, action: &str, key: &str) -> String {
    let path = format!(
        "/t/{tenant}/customAction?name={action}&documentId={DOC}&documentVersionId={VER}&count=visits"
    );
    let (status, body) = server.get(&path, &[("apiKey", key)]).await;
    assert_eq!(status, 200, "{tenant}/{action}: {body}");
    body["message"].as_str().unwrap().to_owned()
}

fn error(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_default()
}

/// A manifest for the probes granting `hosts`, with `extra` appended.
fn probe_manifests(hosts: &[String], extra: &str) -> Manifests {
    let manifests = Manifests::new();
    let list: Vec<String> = hosts.iter().map(|h| format!("{h:?}")).collect();
    let grant = format!(
        "[capabilities]\nallowed-outbound-hosts = [{}]\n{extra}",
        list.join(", ")
    );
    manifests.action("acme", "cmd", &built_guest("sandbox-probe"), &grant);
    manifests.action("acme", "comp", &built_guest("http-probe"), &grant);
    manifests.action("acme", "none", &built_guest("sandbox-probe"), "");
    manifests
}

#[tokio::test]
async fn outbound_http_goes_only_where_granted_within_its_limits() {
    let remote = Remote::start().await;
    let allowed = format!("http://127.0.0.1:{}", remote.port);
    let manifests = probe_manifests(&[allowed], "[limits]\ntimeout-ms = 2000\n");
    let server = Server::start_with(manifests.path(), &["acme"], &["--allow-private-outbound"]);
    for action in ["cmd", "comp"] {
        let hello = format!("&url={}", encode(&remote.url("/hello")));
        let (status, body) = probe(&server, action, &hello).await;
        assert_eq!(status, 200, "{action}: {body}");
        assert_eq!(
            body["message"], "status 200 body hello from remote",
            "{action}"
        );

        // Not on the list: another name for the same server.
        let off_list = format!("http://localhost:{}/hello", remote.port);
        let (status, body) = probe(&server, action, &format!("&url={}", encode(&off_list))).await;
        assert_eq!(status, 500, "{action}: {body}");
        assert!(
            error(&body)
                .contains("localhost is not in the action's [capabilities] allowed-outbound-hosts")
                && error(&body).contains(&format!("\"http://localhost:{}\"", remote.port)),
            "{action}: {body}"
        );

        let failures = [
            (
                format!("{hello}&repeat=11"),
                "already made 10 requests, the limit per invocation",
            ),
            (
                format!("&url={}", encode(&remote.url("/big"))),
                "is larger than 1024 KiB, the limit per response",
            ),
            (
                format!("&url={}", encode(&remote.url("/slow"))),
                "stopped at its time limit (timeout-ms = 2000)",
            ),
        ];
        for (query, expected) in failures {
            let (status, body) = probe(&server, action, &query).await;
            assert_eq!(status, 500, "{action}: {body}");
            assert!(error(&body).contains(expected), "{action}: {body}");
        }

        // The server keeps serving.
        assert_eq!(probe(&server, action, &hello).await.0, 200, "{action}");
    }

    // A redirect off the list: the command host import follows redirects and
    // checks each hop; a component sees the 3xx and its own next request is checked.
    let elsewhere = format!("http://localhost:{}/hello", remote.port);
    let redirect = remote.url(&format!("/redirect?to={}", encode(&elsewhere)));
    let query = format!("&url={}", encode(&redirect));
    let (status, body) = probe(&server, "cmd", &query).await;
    assert_eq!(status, 500, "{body}");
    assert!(
        error(&body).starts_with(&format!(
            "a redirect to {elsewhere} denied: localhost is not in"
        )),
        "{body}"
    );
    let (status, body) = probe(&server, "comp", &query).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (200, Some("status 307 body ")),
        "{body}"
    );
    // A redirect on the list is followed.
    let inside = remote.url(&format!("/redirect?to={}", encode(&remote.url("/hello"))));
    let (status, body) = probe(&server, "cmd", &format!("&url={}", encode(&inside))).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (200, Some("status 200 body hello from remote"))
    );

    // No grant at all.
    let hello = format!("&url={}", encode(&remote.url("/hello")));
    let (status, body) = probe(&server, "none", &hello).await;
    assert_eq!(status, 500);
    assert!(
        error(&body).contains("grants no [capabilities] allowed-outbound-hosts"),
        "{body}"
    );
    // Denied requests never reached the remote side: only the allowed ones did.
    let hits = remote.hits();
    assert!(
        hits.iter()
            .all(|p| ["/hello", "/big", "/slow", "/redirect"].contains(&p.as_str())),
        "{hits:?}"
    );
    let hellos = hits.iter().filter(|p| *p == "/hello").count();
    // Per ABI: 1 + 10 (the budget) + 1 after the failures; then one followed redirect.
    assert_eq!(hellos, 2 * 12 + 1, "{hits:?}");
}

#[tokio::test]
async fn redirects_drop_credentials_across_origins_and_slow_requests_time_out() {
    let remote = Remote::start().await;
    let hosts = [
        format!("http://127.0.0.1:{}", remote.port),
        format!("http://localhost:{}", remote.port),
    ];
    let manifests = probe_manifests(&hosts, "");
    let server = Server::start_with(
        manifests.path(),
        &["acme"],
        &["--allow-private-outbound", "--outbound-timeout-ms", "500"],
    );
    let same_origin = remote.url(&format!("/redirect?to={}", encode(&remote.url("/headers"))));
    let elsewhere = format!("http://localhost:{}/headers", remote.port);
    let other_origin = remote.url(&format!("/redirect?to={}", encode(&elsewhere)));
    for (url, expected) in [
        (same_origin, "apikey=secret"),
        (other_origin, "apikey=none"),
    ] {
        let query = format!("&url={}&header=apikey:secret", encode(&url));
        let (status, body) = probe(&server, "cmd", &query).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["message"], format!("status 200 body {expected}"));
    }
    for action in ["cmd", "comp"] {
        let query = format!("&url={}", encode(&remote.url("/slow")));
        let (status, body) = probe(&server, action, &query).await;
        assert_eq!(status, 500, "{action}: {body}");
        assert!(
            error(&body).contains("request to 127.0.0.1 timed out after 500 ms"),
            "{action}: {body}"
        );
    }
}

#[tokio::test]
async fn private_destinations_are_refused_after_dns_resolution() {
    let remote = Remote::start().await;
    let by_name = format!("http://localhost:{}", remote.port);
    let by_ip = format!("http://127.0.0.1:{}", remote.port);
    let manifests = probe_manifests(&[by_name.clone(), by_ip.clone()], "");
    // No --allow-private-outbound: the operator default.
    let server = Server::start(manifests.path(), &["acme"]);
    for action in ["cmd", "comp"] {
        for (base, host) in [(&by_name, "localhost"), (&by_ip, "127.0.0.1")] {
            let query = format!("&url={}", encode(&format!("{base}/hello")));
            let (status, body) = probe(&server, action, &query).await;
            assert_eq!(status, 500, "{action} {base}: {body}");
            let expected = format!(
                "outbound request to {host} denied: it resolves to a private, loopback or link-local address"
            );
            assert!(error(&body).contains(&expected), "{action} {base}: {body}");
            // Which address is the operator's business, not the tenant's.
            if host == "localhost" {
                assert!(!error(&body).contains("127.0.0.1"), "{body}");
            }
        }
    }
    assert!(remote.hits().is_empty(), "{:?}", remote.hits());
}

#[tokio::test]
async fn an_action_counts_its_invocations_across_restarts_and_tenants_stay_apart() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::hosted_in(data.path(), &[]);
    let (acme, acme_key) = server.create_tenant("acme", json!({})).await;
    let (globex, globex_key) = server.create_tenant("globex", json!({})).await;
    let manifest = |name: &str, scope: &str| {
        format!("name = \"{name}\"\n[capabilities]\nkey-value = \"{scope}\"\n")
    };
    let deploys = [
        (
            "acme",
            &acme,
            manifest("counter", "tenant"),
            "sandbox-probe",
        ),
        (
            "globex",
            &globex,
            manifest("counter", "tenant"),
            "sandbox-probe",
        ),
        ("acme", &acme, manifest("own", "action"), "http-probe"),
        (
            "acme",
            &acme,
            "name = \"plain\"\n".to_owned(),
            "sandbox-probe",
        ),
    ];
    for (tenant, token, manifest, module) in deploys {
        let deployed = server
            .deploy(tenant, token, &manifest, built_guest(module))
            .await;
        assert_eq!(deployed.0, 201, "{}", deployed.1);
    }
    for n in 1..=3 {
        assert_eq!(
            count(&server, "acme", "counter", &acme_key).await,
            format!("count {n}")
        );
    }
    // A component with its own namespace starts from zero.
    assert_eq!(count(&server, "acme", "own", &acme_key).await, "count 1");
    // Another tenant's identical action cannot see acme's counter.
    assert_eq!(
        count(&server, "globex", "counter", &globex_key).await,
        "count 1"
    );

    // A new version of the action keeps the data; so does a restart.
    let deployed = server
        .deploy(
            "acme",
            &acme,
            &manifest("counter", "tenant"),
            built_guest("sandbox-probe"),
        )
        .await;
    assert_eq!((deployed.0, deployed.1["version"].as_u64()), (201, Some(2)));
    drop(server.crash());
    let server = Server::hosted_in(data.path(), &[]);
    assert_eq!(
        count(&server, "acme", "counter", &acme_key).await,
        "count 4"
    );
    assert_eq!(count(&server, "acme", "own", &acme_key).await, "count 2");
    assert_eq!(
        count(&server, "globex", "counter", &globex_key).await,
        "count 2"
    );

    // Without the grant the store is denied, naming the key to set.
    let path = format!(
        "/t/acme/customAction?name=plain&documentId={DOC}&documentVersionId={VER}&count=visits"
    );
    let (status, body) = server.get(&path, &[("apiKey", &acme_key)]).await;
    assert_eq!(status, 500);
    assert!(error(&body).contains("[capabilities] key-value"), "{body}");
}

#[tokio::test]
async fn manifests_with_bad_grants_are_refused_naming_the_entry() {
    let server = Server::hosted(&[]);
    let (token, _) = server.create_tenant("acme", json!({})).await;
    for (grant, expected) in [
        (
            "allowed-outbound-hosts = [\"api.example.com\"]",
            "capabilities.allowed-outbound-hosts: \"api.example.com\" is not an allowed host (no scheme)",
        ),
        (
            "allowed-outbound-hosts = [\"https://*\"]",
            "\"https://*\" is not an allowed host",
        ),
        (
            "key-value = \"everyone\"",
            "capabilities.key-value = \"everyone\"",
        ),
    ] {
        let manifest = format!("name = \"bad\"\n[capabilities]\n{grant}\n");
        let (status, body) = server
            .deploy("acme", &token, &manifest, built_guest("sandbox-probe"))
            .await;
        assert_eq!(status, 400, "{grant}: {body}");
        assert!(error(&body).contains(expected), "{grant}: {body}");
    }
}

#[tokio::test]
async fn workfront_and_chat_examples_call_their_remote_side() {
    let remote = Remote::start().await;
    let base = format!("http://127.0.0.1:{}", remote.port);
    let data = tempfile::tempdir().unwrap();
    let server = Server::hosted_in(data.path(), &["--allow-private-outbound"]);
    let (token, key) = server.create_tenant("acme", json!({})).await;
    for (name, value) in [
        ("workfront-api-key", "wf-api-key".to_owned()),
        ("chat-webhook-url", remote.url("/chat")),
    ] {
        let path = format!("/tenants/acme/secrets/{name}");
        let (status, _) = server
            .admin("PUT", &path, Some(&token), Some(json!({"value": value})))
            .await;
        assert_eq!(status, 204);
    }
    let tag = format!(
        "name = \"tag\"\n[capabilities]\nallowed-outbound-hosts = [\"{base}\"]\n\
         secrets = [\"workfront-api-key\"]\n[config]\nworkfront-url = \"{base}\"\n"
    );
    let chat = format!(
        "name = \"notify\"\n[capabilities]\nallowed-outbound-hosts = [\"{base}\"]\n\
         secrets = [\"chat-webhook-url\"]\nkey-value = \"action\"\n[config]\nchannel-name = \"#legal\"\n"
    );
    assert_eq!(
        server
            .deploy("acme", &token, &tag, example_action("workfront-tag"))
            .await
            .0,
        201
    );
    assert_eq!(
        server
            .deploy("acme", &token, &chat, example_action("chat-notify"))
            .await
            .0,
        201
    );

    let (status, body) = server.call("acme", "tag", &key).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["message"],
        format!(
            "Tagged version {VER} of document {DOC}: \"Reviewed by jane.doe (Docket action \"tag\")\" (note note-7)"
        )
    );
    let received = remote.received();
    let note: Value = serde_json::from_str(&received[0].2).unwrap();
    assert_eq!(
        (note["noteObjCode"].as_str(), note["objID"].as_str()),
        (Some("DOCV"), Some(VER))
    );

    for n in 1..=2 {
        let path = format!(
            "/t/acme/customAction?name=notify&documentId={DOC}&documentVersionId={VER}&note=%22urgent%22"
        );
        let (status, body) = server
            .get(&path, &[("apiKey", &key), ("username", "jane.doe")])
            .await;
        assert_eq!(status, 200, "{body}");
        let text = format!("jane.doe flagged document {DOC} (version {VER}) \"\"urgent\"\" [#{n}]");
        assert_eq!(body["message"], format!("Posted to #legal: {text}"));
    }
    let posted: Vec<_> = remote
        .received()
        .into_iter()
        .filter(|r| r.0 == "/chat")
        .collect();
    assert_eq!(posted.len(), 2);
    let message: Value = serde_json::from_str(&posted[1].2).unwrap();
    assert!(
        message["text"].as_str().unwrap().ends_with("[#2]"),
        "{message}"
    );

    // The remote side refusing the key is the user's 403.
    let path = "/tenants/acme/secrets/workfront-api-key";
    let put = Some(json!({"value": "revoked"}));
    assert_eq!(server.admin("PUT", path, Some(&token), put).await.0, 204);
    let (status, body) = server.call("acme", "tag", &key).await;
    assert_eq!(
        (status, error(&body)),
        (403, "Workfront refused the API key: Invalid apiKey")
    );
}

/// Runs the example `example` twice with the key-value store and a webhook on
/// the remote side granted (`config` is its `[config]`, without the webhook's
/// `notify-url`): each answer is `message(n)` and is posted to the webhook as
/// `{"text": message}`. Then, with `ungranted_config` and no grants, the
/// action fails with an error naming the missing key.
async fn assert_calls_out(
    example: &str,
    config: &str,
    ungranted_config: &str,
    query: &str,
    message: impl Fn(usize) -> String,
) {
    let remote = Remote::start().await;
    let base = format!("http://127.0.0.1:{}", remote.port);
    let manifests = Manifests::new();
    let grants = format!(
        "[capabilities]\nallowed-outbound-hosts = [\"{base}\"]\nkey-value = \"action\"\n\
         [config]\n{config}notify-url = \"{}\"\n",
        remote.url("/chat")
    );
    manifests.action("acme", "granted", &example_action(example), &grants);
    let ungranted = format!("[config]\n{ungranted_config}");
    manifests.action("acme", "ungranted", &example_action(example), &ungranted);
    let server = Server::start_with(manifests.path(), &["acme"], &["--allow-private-outbound"]);
    for n in 1..=2 {
        let (status, body) = server.custom_action("acme", "granted", query).await;
        assert_eq!(status, 200, "{example}: {body}");
        assert_eq!(body["message"], message(n), "{example}");
        let posted = remote.received();
        assert_eq!(posted.len(), n, "{example}: {posted:?}");
        assert_eq!(posted[n - 1].0, "/chat");
        let text: Value = serde_json::from_str(&posted[n - 1].2).unwrap();
        assert_eq!(text, json!({ "text": message(n) }), "{example}");
    }
    let (status, body) = server.custom_action("acme", "ungranted", query).await;
    assert_eq!(status, 500, "{example}: {body}");
    assert!(
        error(&body).contains("[capabilities] key-value"),
        "{example}: {body}"
    );
}

/// C through `guest-sdk/c/docket.h`: `c-intake` numbers submissions and posts each.
#[tokio::test]
async fn a_c_action_calls_out_through_the_header() {
    let config =
        "submitters = \"jane.doe\"\nqueue = \"Legal \\\"A\\\"\"\ncount-submissions = \"true\"\n";
    let ungranted = "submitters = \"jane.doe\"\ncount-submissions = \"true\"\n";
    assert_calls_out("c-intake", config, ungranted, "", |n| {
        format!(
            "Queued version {VER} of document {DOC} in Legal \"A\" with normal priority for jane.doe (submission #{n})"
        )
    })
    .await;
}

/// AssemblyScript through `guest-sdk/assemblyscript/docket.ts`:
/// `assemblyscript-router` counts routings and posts each.
#[tokio::test]
async fn an_assemblyscript_action_calls_out_through_the_helper() {
    let config = "\"route.legal\" = \"Legal \\\"A\\\" review\"\ncount-key = \"routings\"\n";
    let ungranted = "\"route.legal\" = \"Legal review\"\ncount-key = \"routings\"\n";
    assert_calls_out(
        "assemblyscript-router",
        config,
        ungranted,
        "&stage=legal",
        |n| format!("Routed document {DOC} to Legal \"A\" review for jane.doe (#{n})"),
    )
    .await;
}

/// Zig through `guest-sdk/zig/docket.zig`: `zig-docid` counts validations and posts each.
#[tokio::test]
async fn a_zig_action_calls_out_through_the_helper() {
    let config = "count-key = \"validated\"\n";
    assert_calls_out("zig-docid", config, config, "", |n| {
        format!("document {DOC} version {VER} is valid (checked for jane.doe) (#{n})")
    })
    .await;
}
