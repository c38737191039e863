//! Observing Docket through the real binary: `/metrics` (who may read it,
//! exact counts after a mixed workload, the cardinality cap, the internal
//! `--metrics-listen`) and `--log-format json`.

mod common;

use common::{OPERATOR, Server, built_guest, guest, message_module};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// A command module that answers `{"status": "failure", "message": …}` (a 500).
fn failure_module(message: &str) -> Vec<u8> {
    let response = format!(r#"{{"status":"failure","message":"{message}"}}"#);
    let escaped = response.replace('"', "\\\"");
    let wat = format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "{escaped}")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const {len}))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#,
        len = response.len()
    );
    wat::parse_str(wat).unwrap()
}

/// GET `/metrics` on `base` with an optional bearer token: status and body.
async fn scrape_at(base: &str, token: Option<&str>) -> (u16, String, String) {
    let mut request = reqwest::Client::new().get(format!("{base}/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.unwrap())
}

/// The operator's scrape of the main listener, parsed.
async fn scrape(server: &Server) -> Samples {
    let (status, content_type, text) = scrape_at(&server.base, Some(OPERATOR)).await;
    assert_eq!(status, 200, "{text}");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    Samples::parse(&text)
}

/// A scrape: every sample line as (`name{labels}` → value), labels as written.
struct Samples(BTreeMap<String, f64>);

impl Samples {
    fn parse(text: &str) -> Self {
        let mut samples = BTreeMap::new();
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (series, value) = line.rsplit_once(' ').expect(line);
            samples.insert(series.to_owned(), value.parse().expect(line));
        }
        Self(samples)
    }

    /// The value of one sample; 0 when absent (a counter never touched).
    fn get(&self, series: &str) -> f64 {
        self.0.get(series).copied().unwrap_or(0.0)
    }

    /// The samples of metric `name`, by their labels.
    fn of(&self, name: &str) -> BTreeMap<&str, f64> {
        self.0
            .iter()
            .filter_map(|(series, value)| {
                let labels = series.strip_prefix(name)?;
                (labels.is_empty() || labels.starts_with('{')).then_some((labels, *value))
            })
            .collect()
    }
}

fn invocations(tenant: &str, action: &str, outcome: &str) -> String {
    format!(
        "docket_invocations_total{{tenant=\"{tenant}\",action=\"{action}\",outcome=\"{outcome}\"}}"
    )
}

/// Every outcome of a mixed workload is counted exactly once, under the
/// outcome word the invocation log uses; refusals before admission (unknown
/// action) are not invocations; 429s, limits, key-value operations,
/// deploys, rollbacks and compiles are counted too; the duration histogram
/// counts every invocation.
#[tokio::test]
async fn a_mixed_workload_is_counted_exactly() {
    let server = Server::hosted(&[
        "--metrics-max-series",
        "50",
        "--tenant-max-memory-mb",
        "128",
        "--compile-tiers",
        "baseline,optimized",
    ]);
    let (token, key) = server
        .create_tenant("acme", json!({"maxConcurrency": 1}))
        .await;
    let (l, probe) = ("[limits]\n", || built_guest("sandbox-probe"));
    let kv = "[capabilities]\nkey-value = \"tenant\"";
    let outbound = "[capabilities]\nallowed-outbound-hosts = [\"https://example.com\"]";
    let deploys = [
        ("hello", "", message_module("hi")),
        ("nope", "", failure_module("no")),
        ("spin", &format!("{l}timeout-ms = 200"), guest("loop")),
        ("bomb", &format!("{l}memory-mb = 16"), guest("memory_bomb")),
        ("crash", "", guest("trap")),
        ("counter", kv, probe()),
        // The same bytes as counter: already compiled for this tenant.
        ("fetch", outbound, probe()),
        ("nap", &format!("{l}timeout-ms = 1500"), guest("sleep")),
        ("big", &format!("{l}memory-mb = 200"), message_module("big")),
    ];
    for (name, extra, module) in &deploys {
        let manifest = format!("name = \"{name}\"\n{extra}\n");
        let (status, body) = server
            .deploy("acme", &token, &manifest, module.clone())
            .await;
        assert_eq!(status, 201, "{name}: {body}");
    }
    // A second version of hello, then back to the first: its module comes
    // back from the stored artifact, not a compile.
    let (status, body) = server
        .deploy("acme", &token, "name = \"hello\"\n", message_module("hi 2"))
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = server
        .admin(
            "POST",
            "/tenants/acme/actions/hello/rollback",
            Some(&token),
            Some(json!({"version": 1})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    for _ in 0..3 {
        assert_eq!(server.call("acme", "hello", &key).await.0, 200);
    }
    let expect = |action: &'static str, status: u16| {
        let server = &server;
        let key = key.clone();
        async move {
            let (got, body) = server.call("acme", action, &key).await;
            assert_eq!(got, status, "{action}: {body}");
        }
    };
    expect("nope", 500).await;
    expect("spin", 500).await;
    expect("bomb", 500).await;
    expect("crash", 500).await;
    expect("missing", 404).await;
    expect("big", 429).await;
    let path = format!(
        "/t/acme/customAction?name=counter&documentId={}&documentVersionId={}&count=visits",
        common::DOC,
        common::VER
    );
    let (status, body) = server.get(&path, &[("apiKey", key.as_str())]).await;
    assert_eq!((status, body["message"].as_str()), (200, Some("count 1")));
    // An outbound request off the allow-list is denied; the action fails.
    let path = path
        .replace("name=counter", "name=fetch")
        .replace("count=visits", "url=http://127.0.0.1:1/");
    let (status, body) = server.get(&path, &[("apiKey", key.as_str())]).await;
    assert_eq!(status, 500, "{body}");
    // One nap holds the tenant's only slot; a call meanwhile is refused.
    let nap = expect("nap", 500);
    let meanwhile = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        expect("hello", 429).await;
    };
    tokio::join!(nap, meanwhile);

    let samples = scrape(&server);
    let samples = samples.await;
    let counted = samples.of("docket_invocations_total");
    let expected = [
        ("hello", "success", 3.0),
        ("nope", "failure", 1.0),
        ("spin", "limit", 1.0),
        ("bomb", "limit", 1.0),
        ("crash", "trap", 1.0),
        ("counter", "success", 1.0),
        ("fetch", "failure", 1.0),
        ("nap", "limit", 1.0),
    ];
    for (action, outcome, n) in expected {
        assert_eq!(
            samples.get(&invocations("acme", action, outcome)),
            n,
            "{action} {outcome}: {counted:#?}"
        );
    }
    assert_eq!(counted.len(), expected.len(), "{counted:#?}");
    // The histogram counts every invocation, per pair and in all.
    let histogram_counts = samples.of("docket_invocation_duration_seconds_count");
    for (action, _, n) in expected {
        let labels = format!("{{tenant=\"acme\",action=\"{action}\"}}");
        assert_eq!(histogram_counts.get(labels.as_str()), Some(&n), "{action}");
    }
    assert_eq!(histogram_counts.values().sum::<f64>(), 10.0);
    for split in [
        "docket_invocation_queue_seconds_count",
        "docket_invocation_instantiate_seconds_count",
    ] {
        assert_eq!(samples.of(split).values().sum::<f64>(), 10.0, "{split}");
    }
    assert_eq!(samples.get("docket_limit_hits_total{kind=\"time\"}"), 2.0);
    assert_eq!(samples.get("docket_limit_hits_total{kind=\"memory\"}"), 1.0);
    assert_eq!(samples.of("docket_limit_hits_total").len(), 2);
    let refused = samples.of("docket_refused_total");
    assert_eq!(
        refused,
        BTreeMap::from([
            ("{tenant=\"acme\",reason=\"concurrency\"}", 1.0),
            ("{tenant=\"acme\",reason=\"memory\"}", 1.0),
        ])
    );
    assert_eq!(samples.get("docket_in_flight{tenant=\"acme\"}"), 0.0);
    assert_eq!(
        samples.of("docket_kv_operations_total"),
        BTreeMap::from([("{op=\"increment\",result=\"ok\"}", 1.0)])
    );
    assert_eq!(
        samples.get("docket_deployments_total{kind=\"deploy\",outcome=\"ok\"}"),
        10.0
    );
    assert_eq!(
        samples.get("docket_deployments_total{kind=\"rollback\",outcome=\"ok\"}"),
        1.0
    );
    assert_eq!(
        samples.get("docket_modules_loaded_total{source=\"compiled\"}"),
        9.0
    );
    assert_eq!(
        samples.get("docket_modules_loaded_total{source=\"artifact\"}"),
        1.0
    );
    assert_eq!(
        samples.get("docket_modules_loaded_total{source=\"memory\"}"),
        1.0
    );
    assert_eq!(
        samples.of("docket_outbound_requests_total"),
        BTreeMap::from([("{outcome=\"denied\"}", 1.0)])
    );
    assert_eq!(
        samples.get("docket_compile_duration_seconds_count{outcome=\"ok\",tier=\"baseline\"}"),
        9.0
    );
    // Nothing runs now, so the pool is empty.
    assert_eq!(samples.get("docket_pool_instances_in_use"), 0.0);
}

/// A caller that hangs up is counted as `cancelled`, and leaves nothing in
/// flight.
#[tokio::test]
async fn a_cancelled_call_is_counted_and_leaves_nothing_in_flight() {
    let server = Server::hosted(&[]);
    let (token, key) = server.create_tenant("acme", json!({})).await;
    let manifest = "name = \"nap\"\n[limits]\ntimeout-ms = 5000\n";
    let (status, body) = server
        .deploy("acme", &token, manifest, guest("sleep"))
        .await;
    assert_eq!(status, 201, "{body}");
    let url = format!(
        "{}/t/acme/customAction?name=nap&documentId={}&documentVersionId={}",
        server.base,
        common::DOC,
        common::VER
    );
    let hung_up = reqwest::Client::new()
        .get(url)
        .header("apiKey", key.as_str())
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    assert!(hung_up.is_err(), "{hung_up:?}");
    let cancelled = invocations("acme", "nap", "cancelled");
    let in_flight = "docket_in_flight{tenant=\"acme\"}";
    let mut samples = scrape(&server).await;
    for _ in 0..60 {
        // Both are recorded as the handler's future is dropped, one just
        // after the other.
        if samples.get(&cancelled) == 1.0 && samples.get(in_flight) == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        samples = scrape(&server).await;
    }
    assert_eq!(samples.get(&cancelled), 1.0);
    assert_eq!(samples.of("docket_invocations_total").len(), 1);
    assert_eq!(samples.get(in_flight), 0.0);
    assert_eq!(
        samples.get("docket_invocation_duration_seconds_count{tenant=\"acme\",action=\"nap\"}"),
        1.0
    );
}

/// `/metrics` on the main listener is the operator's: 401 without a token,
/// 403 with a tenant's.
#[tokio::test]
async fn only_the_operator_reads_metrics_on_the_main_listener() {
    let server = Server::hosted(&[]);
    let (token, _key) = server.create_tenant("acme", json!({})).await;
    let (status, _, body) = scrape_at(&server.base, None).await;
    assert_eq!(status, 401, "{body}");
    let (status, _, body) = scrape_at(&server.base, Some(&token)).await;
    assert_eq!(status, 403, "{body}");
    let (status, _, body) = scrape_at(&server.base, Some("not-a-token")).await;
    assert_eq!(status, 403, "{body}");
    let (status, _, body) = scrape_at(&server.base, Some(OPERATOR)).await;
    assert_eq!(status, 200, "{body}");
    // Families with no samples yet are left out; the pool gauges always show.
    assert!(
        body.contains("# HELP docket_pool_instances_in_use "),
        "{body}"
    );
}

/// `--no-metrics`: actions run as usual, and `/metrics` says the metrics are off.
#[tokio::test]
async fn metrics_can_be_turned_off() {
    let server = Server::hosted(&["--no-metrics"]);
    let (token, key) = server.create_tenant("acme", json!({})).await;
    let (status, body) = server
        .deploy("acme", &token, "name = \"hello\"\n", message_module("hi"))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(server.call("acme", "hello", &key).await.0, 200);
    let (status, _, body) = scrape_at(&server.base, Some(OPERATOR)).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("metrics are off"), "{body}");
}

/// A tenant with more actions than the cap adds no series past it: the
/// pairs after the first three share `_other`.
#[tokio::test]
async fn a_tenant_with_many_actions_stays_within_the_series_cap() {
    let server = Server::hosted(&["--metrics-max-series", "3"]);
    let (token, key) = server.create_tenant("acme", json!({})).await;
    for n in 0..6 {
        let manifest = format!("name = \"a{n}\"\n");
        let module = message_module(&format!("a{n}"));
        assert_eq!(
            server.deploy("acme", &token, &manifest, module).await.0,
            201
        );
        assert_eq!(server.call("acme", &format!("a{n}"), &key).await.0, 200);
    }
    let samples = scrape(&server).await;
    let counted = samples.of("docket_invocations_total");
    assert_eq!(counted.len(), 4, "{counted:#?}");
    for n in 0..3 {
        assert_eq!(
            samples.get(&invocations("acme", &format!("a{n}"), "success")),
            1.0
        );
    }
    assert_eq!(
        samples.get(&invocations("_other", "_other", "success")),
        3.0
    );
    let pairs: BTreeSet<&str> = samples
        .of("docket_invocation_duration_seconds_count")
        .into_keys()
        .collect();
    assert_eq!(pairs.len(), 4, "{pairs:?}");
    let tenants = samples.of("docket_in_flight");
    assert_eq!(tenants.len(), 2, "{tenants:?}");
}

/// `--metrics-listen` serves the same metrics without a token, and
/// `--log-format json` writes one JSON object per line, the invocation's
/// carrying the request id the caller got.
#[tokio::test]
async fn the_internal_listener_and_json_logs() {
    let server = Server::hosted(&["--metrics-listen", "127.0.0.1:0", "--log-format", "json"]);
    let (token, key) = server.create_tenant("acme", json!({})).await;
    let (status, _) = server
        .deploy("acme", &token, "name = \"hello\"\n", message_module("hi"))
        .await;
    assert_eq!(status, 201);
    let path = format!(
        "/t/acme/customAction?name=hello&documentId={}&documentVersionId={}",
        common::DOC,
        common::VER
    );
    let (status, request_id, _) = server
        .get_with_request_id(&path, &[("apiKey", key.as_str())])
        .await;
    assert_eq!(status, 200);
    let request_id = request_id.expect("x-request-id");

    // The invocation's line is written after the answer: wait for it.
    let mut lines: Vec<Value> = Vec::new();
    for _ in 0..100 {
        let stderr = server.stderr();
        lines = stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        if lines.iter().any(|l| l["message"] == "invocation") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let invocation = lines
        .iter()
        .find(|l| l["message"] == "invocation")
        .unwrap_or_else(|| panic!("no invocation line in {lines:#?}"));
    assert_eq!(
        invocation["request_id"],
        request_id.as_str(),
        "{invocation}"
    );
    assert_eq!(
        invocation["span"]["request_id"],
        request_id.as_str(),
        "{invocation}"
    );
    assert_eq!(invocation["span"]["tenant"], "acme", "{invocation}");
    assert_eq!(invocation["outcome"], "success", "{invocation}");

    let addr = lines
        .iter()
        .find_map(|l| {
            let message = l["message"].as_str()?;
            message
                .starts_with("metrics listening")
                .then(|| l["addr"].as_str())?
        })
        .expect("the metrics listener's address in the log")
        .to_owned();
    let (status, content_type, internal) = scrape_at(&format!("http://{addr}"), None).await;
    assert_eq!(status, 200, "{internal}");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let internal = Samples::parse(&internal);
    assert_eq!(internal.get(&invocations("acme", "hello", "success")), 1.0);
    let main = scrape(&server).await;
    assert_eq!(
        main.of("docket_invocations_total"),
        internal.of("docket_invocations_total")
    );
}
