//! OpenTelemetry traces through the real binary: a real OTLP/HTTP receiver
//! in the test decodes what `docket serve --otlp-endpoint` sends, and a real
//! remote records the `traceparent` the actions' outbound requests carry.
//!
//! One request is one span tree: `custom_action` (tenant, action, version,
//! request id, outcome) with `module_load`, `instantiate` and `run` under it
//! and `outbound_http` and `kv` under `run`; the remote sees the trace id and
//! the `outbound_http` span as parent only when the manifest says
//! `propagate-trace = true`; an incoming `traceparent` joins its trace but
//! does not force sampling; the last spans are flushed at shutdown.

mod common;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use common::{DOC, Server, VER, built_guest, message_module};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A span as received, with the `service.name` of its resource.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    span: Span,
}

impl Received {
    fn name(&self) -> &str {
        &self.span.name
    }

    fn trace_id(&self) -> String {
        hex::encode(&self.span.trace_id)
    }

    fn span_id(&self) -> String {
        hex::encode(&self.span.span_id)
    }

    fn parent_id(&self) -> String {
        hex::encode(&self.span.parent_span_id)
    }

    /// An attribute as text (strings as they are, numbers and booleans printed).
    fn attr(&self, key: &str) -> Option<String> {
        let value = self.span.attributes.iter().find(|kv| kv.key == key)?;
        Some(match value.value.as_ref()?.value.as_ref()? {
            Any::StringValue(s) => s.clone(),
            Any::IntValue(n) => n.to_string(),
            Any::BoolValue(b) => b.to_string(),
            Any::DoubleValue(d) => d.to_string(),
            other => format!("{other:?}"),
        })
    }
}

/// An OTLP/HTTP receiver on 127.0.0.1: `POST /v1/traces` with protobuf bodies.
struct Receiver {
    endpoint: String,
    spans: Arc<Mutex<Vec<Received>>>,
    /// Bodies that were not uncompressed OTLP protobuf (there should be none).
    rejected: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    async fn start() -> Self {
        let spans: Arc<Mutex<Vec<Received>>> = Arc::default();
        let rejected: Arc<Mutex<Vec<String>>> = Arc::default();
        let (into, refusals) = (spans.clone(), rejected.clone());
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (into, refusals) = (into.clone(), refusals.clone());
                async move { receive(&headers, &body, &into, &refusals) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            spans,
            rejected,
        }
    }

    fn spans(&self) -> Vec<Received> {
        let rejected = self.rejected.lock().unwrap().clone();
        assert!(rejected.is_empty(), "the receiver refused: {rejected:?}");
        self.spans.lock().unwrap().clone()
    }

    /// Waits (at most 10 s) for the `custom_action` span of `request_id`;
    /// returns every span of its trace. Children end before their parent, so
    /// they are sent no later than the root.
    async fn tree(&self, request_id: &str) -> (Received, Vec<Received>) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let spans = self.spans();
            let roots: Vec<_> = spans
                .iter()
                .filter(|s| {
                    s.name() == "custom_action"
                        && s.attr("request_id").as_deref() == Some(request_id)
                })
                .cloned()
                .collect();
            if let Some(root) = roots.first() {
                assert_eq!(roots.len(), 1, "one root span per request: {roots:#?}");
                let tree = spans
                    .into_iter()
                    .filter(|s| s.trace_id() == root.trace_id())
                    .collect();
                return (root.clone(), tree);
            }
            assert!(
                Instant::now() < deadline,
                "no custom_action span for request {request_id} within 10 s; received {:?}",
                spans.iter().map(Received::name).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn receive(
    headers: &HeaderMap,
    body: &[u8],
    into: &Mutex<Vec<Received>>,
    refusals: &Mutex<Vec<String>>,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    if header("content-type") != "application/x-protobuf" || !header("content-encoding").is_empty()
    {
        refusals.lock().unwrap().push(format!(
            "content-type {:?}, content-encoding {:?}",
            header("content-type"),
            header("content-encoding")
        ));
        return StatusCode::UNSUPPORTED_MEDIA_TYPE;
    }
    let request = match ExportTraceServiceRequest::decode(body) {
        Ok(request) => request,
        Err(e) => {
            refusals
                .lock()
                .unwrap()
                .push(format!("undecodable body: {e}"));
            return StatusCode::BAD_REQUEST;
        }
    };
    let mut spans = into.lock().unwrap();
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                Any::StringValue(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                spans.push(Received {
                    service: service.clone(),
                    span,
                });
            }
        }
    }
    // An empty ExportTraceServiceResponse: full success.
    StatusCode::OK
}

/// Each request's path and `traceparent`, as the remote saw them.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A remote for the actions' outbound requests: records each request's path
/// and `traceparent`.
struct Remote {
    port: u16,
    seen: Seen,
}

impl Remote {
    async fn start() -> Self {
        let seen: Seen = Arc::default();
        let into = seen.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
            let into = into.clone();
            async move {
                let traceparent = headers
                    .get("traceparent")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                into.lock()
                    .unwrap()
                    .push((uri.path().to_owned(), traceparent));
                "hello from remote"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { port, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The `traceparent` the request to `path` carried (it must have come once).
    fn traceparent(&self, path: &str) -> Option<String> {
        let seen = self.seen.lock().unwrap();
        let matching: Vec<_> = seen.iter().filter(|(p, _)| p == path).collect();
        assert_eq!(matching.len(), 1, "one request to {path}: {seen:?}");
        matching[0].1.clone()
    }
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Calls `action` of `acme` with `extra` appended to the query and `headers`;
/// returns the request id after checking the call succeeded.
async fn call(
    server: &Server,
    key: &str,
    action: &str,
    extra: &str,
    headers: &[(&str, &str)],
) -> String {
    let path = format!(
        "/t/acme/customAction?name={action}&documentId={DOC}&documentVersionId={VER}{extra}"
    );
    let mut all = vec![("apiKey", key), ("username", "jane.doe")];
    all.extend_from_slice(headers);
    let (status, request_id, body) = server.get_with_request_id(&path, &all).await;
    assert_eq!(status, 200, "{action}: {body}");
    request_id.expect("an X-Request-Id")
}

/// A `traceparent` header's (trace id, parent id).
fn parse_traceparent(header: &str) -> (String, String) {
    let parts: Vec<_> = header.split('-').collect();
    assert_eq!(parts.len(), 4, "{header}");
    assert_eq!(parts[0], "00", "{header}");
    (parts[1].to_owned(), parts[2].to_owned())
}

/// The ids of `span`'s ancestors within `tree`, nearest first.
fn ancestors(span: &Received, tree: &[Received]) -> Vec<String> {
    let by_id: HashMap<_, _> = tree.iter().map(|s| (s.span_id(), s)).collect();
    let mut chain = Vec::new();
    let mut parent = span.parent_id();
    while let Some(next) = by_id.get(&parent) {
        chain.push(parent.clone());
        parent = next.parent_id();
        assert!(chain.len() < 64, "a cycle of parents");
    }
    chain
}

/// The single span called `name` in `tree`.
fn only<'a>(tree: &'a [Received], name: &str) -> &'a Received {
    let found: Vec<_> = tree.iter().filter(|s| s.name() == name).collect();
    assert_eq!(
        found.len(),
        1,
        "one {name} span in the tree: {:?}",
        tree.iter().map(Received::name).collect::<Vec<_>>()
    );
    found[0]
}

/// A hosted server sending traces to `receiver`, its batches every 100 ms.
fn traced_server(receiver: &Receiver, extra_args: &[&str], schedule_delay_ms: &str) -> Server {
    let mut args = vec![
        "--allow-private-outbound",
        "--otlp-endpoint",
        &receiver.endpoint,
    ];
    args.extend_from_slice(extra_args);
    Server::hosted_with_env(&args, &[("OTEL_BSP_SCHEDULE_DELAY", schedule_delay_ms)])
}

#[tokio::test]
async fn each_request_is_one_span_tree_whose_trace_reaches_the_remote_when_allowed() {
    let receiver = Receiver::start().await;
    let remote = Remote::start().await;
    let server = traced_server(&receiver, &[], "100");
    let (token, key) = server.create_tenant("acme", serde_json::json!({})).await;
    let hosts = format!(
        "allowed-outbound-hosts = [\"http://127.0.0.1:{}\"]",
        remote.port
    );
    let deploys = [
        format!(
            "name = \"traced\"\n[capabilities]\n{hosts}\npropagate-trace = true\nkey-value = \"tenant\"\n"
        ),
        format!("name = \"plain\"\n[capabilities]\n{hosts}\n"),
    ];
    for manifest in deploys {
        let (status, body) = server
            .deploy("acme", &token, &manifest, built_guest("sandbox-probe"))
            .await;
        assert_eq!(status, 201, "{manifest}: {body}");
    }
    let component =
        format!("name = \"traced-component\"\n[capabilities]\n{hosts}\npropagate-trace = true\n");
    let (status, body) = server
        .deploy("acme", &token, &component, built_guest("http-probe"))
        .await;
    assert_eq!(status, 201, "{body}");

    // An outbound request with propagation on.
    let query = format!("&url={}", encode(&remote.url("/traced")));
    let request_id = call(&server, &key, "traced", &query, &[]).await;
    let (root, tree) = receiver.tree(&request_id).await;
    assert_eq!(root.service, "docket");
    assert!(root.span.parent_span_id.is_empty(), "a root span: {root:?}");
    assert_eq!(root.attr("tenant").as_deref(), Some("acme"), "{root:?}");
    assert_eq!(root.attr("action").as_deref(), Some("traced"), "{root:?}");
    assert_eq!(root.attr("version").as_deref(), Some("1"), "{root:?}");
    assert_eq!(
        root.attr("request_id").as_deref(),
        Some(request_id.as_str())
    );
    assert_eq!(root.attr("outcome").as_deref(), Some("success"), "{root:?}");
    for name in ["module_load", "instantiate", "run"] {
        let child = only(&tree, name);
        assert_eq!(
            child.parent_id(),
            root.span_id(),
            "{name} is a child of custom_action"
        );
        assert_eq!(child.trace_id(), root.trace_id());
    }
    let run = only(&tree, "run");
    let outbound = only(&tree, "outbound_http");
    let chain = ancestors(outbound, &tree);
    assert!(
        chain.contains(&run.span_id()) && chain.last() == Some(&root.span_id()),
        "outbound_http is under run, under custom_action: {tree:#?}"
    );
    assert_eq!(outbound.attr("http.request.method").as_deref(), Some("GET"));
    assert_eq!(
        outbound.attr("server.address").as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(
        outbound.attr("http.response.status_code").as_deref(),
        Some("200")
    );
    let header = remote
        .traceparent("/traced")
        .expect("the remote got a traceparent");
    let (trace_id, parent_id) = parse_traceparent(&header);
    assert_eq!(
        trace_id,
        root.trace_id(),
        "the remote joins the request's trace"
    );
    assert_eq!(
        parent_id,
        outbound.span_id(),
        "the outbound_http span is the remote's parent"
    );

    // A component's request (wasi:http, sent from a task of its own) is
    // traced and carries the trace the same way.
    let query = format!("&url={}", encode(&remote.url("/component")));
    let request_id = call(&server, &key, "traced-component", &query, &[]).await;
    let (root, tree) = receiver.tree(&request_id).await;
    let outbound = only(&tree, "outbound_http");
    assert!(
        ancestors(outbound, &tree).contains(&only(&tree, "run").span_id()),
        "outbound_http is under run: {tree:#?}"
    );
    let header = remote
        .traceparent("/component")
        .expect("the remote got a traceparent from the component");
    assert_eq!(
        parse_traceparent(&header),
        (root.trace_id(), outbound.span_id())
    );

    // A key-value operation is a `kv` span under run.
    let request_id = call(&server, &key, "traced", "&count=visits", &[]).await;
    let (root, tree) = receiver.tree(&request_id).await;
    let kv = only(&tree, "kv");
    assert_eq!(kv.attr("op").as_deref(), Some("increment"), "{kv:?}");
    let chain = ancestors(kv, &tree);
    assert!(
        chain.contains(&only(&tree, "run").span_id()) && chain.last() == Some(&root.span_id()),
        "kv is under run, under custom_action: {tree:#?}"
    );

    // A guest cannot set the trace context itself when propagation is on.
    let forged = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01";
    let query = format!(
        "&url={}&header={}",
        encode(&remote.url("/forged")),
        encode(&format!("traceparent:{forged}"))
    );
    let request_id = call(&server, &key, "traced", &query, &[]).await;
    let (root, tree) = receiver.tree(&request_id).await;
    let header = remote.traceparent("/forged").expect("a traceparent");
    let (trace_id, parent_id) = parse_traceparent(&header);
    assert_eq!(
        trace_id,
        root.trace_id(),
        "Docket's trace, not the guest's: {header}"
    );
    assert_eq!(parent_id, only(&tree, "outbound_http").span_id());

    // Without propagate-trace the remote gets no traceparent.
    let query = format!("&url={}", encode(&remote.url("/plain")));
    let request_id = call(&server, &key, "plain", &query, &[]).await;
    receiver.tree(&request_id).await;
    assert_eq!(remote.traceparent("/plain"), None);

    // An incoming traceparent becomes the root's parent, even unsampled (-00):
    // Docket's own ratio (1 here) decides.
    let given_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let given_parent = "00f067aa0ba902b7";
    let incoming = format!("00-{given_trace}-{given_parent}-00");
    let query = format!("&url={}", encode(&remote.url("/joined")));
    let request_id = call(
        &server,
        &key,
        "traced",
        &query,
        &[("traceparent", &incoming)],
    )
    .await;
    let (root, tree) = receiver.tree(&request_id).await;
    assert_eq!(root.trace_id(), given_trace, "the caller's trace continues");
    assert_eq!(root.parent_id(), given_parent, "{root:?}");
    assert_eq!(only(&tree, "run").parent_id(), root.span_id());
    let header = remote.traceparent("/joined").expect("a traceparent");
    assert_eq!(parse_traceparent(&header).0, given_trace);
}

#[tokio::test]
async fn at_sample_ratio_zero_nothing_is_sent_whatever_the_caller_asks() {
    let receiver = Receiver::start().await;
    let mut server = traced_server(&receiver, &["--trace-sample-ratio", "0"], "100");
    let (token, key) = server.create_tenant("acme", serde_json::json!({})).await;
    let (status, body) = server
        .deploy("acme", &token, "name = \"hello\"\n", message_module("hi"))
        .await;
    assert_eq!(status, 201, "{body}");
    let sampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    for _ in 0..4 {
        call(&server, &key, "hello", "", &[]).await;
    }
    // A caller's sampled flag does not force a trace.
    call(&server, &key, "hello", "", &[("traceparent", sampled)]).await;
    // A graceful shutdown flushes whatever is batched.
    server.signal("TERM");
    let exited = server.wait_for_exit(Duration::from_secs(15));
    assert!(
        exited.is_some_and(|s| s.success()),
        "{exited:?}\n{}",
        server.stderr()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let spans = receiver.spans();
    assert!(spans.is_empty(), "no spans at ratio 0: {spans:#?}");
}

#[tokio::test]
async fn the_last_spans_are_flushed_at_shutdown() {
    let receiver = Receiver::start().await;
    // Batches every 10 minutes: only the shutdown sends this one.
    let mut server = traced_server(&receiver, &[], "600000");
    let (token, key) = server.create_tenant("acme", serde_json::json!({})).await;
    let (status, body) = server
        .deploy("acme", &token, "name = \"hello\"\n", message_module("hi"))
        .await;
    assert_eq!(status, 201, "{body}");
    let request_id = call(&server, &key, "hello", "", &[]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        receiver.spans().is_empty(),
        "nothing sent before the batch is due"
    );
    server.signal("TERM");
    let exited = server.wait_for_exit(Duration::from_secs(15));
    assert!(
        exited.is_some_and(|s| s.success()),
        "{exited:?}\n{}",
        server.stderr()
    );
    let (root, tree) = receiver.tree(&request_id).await;
    assert_eq!(root.attr("action").as_deref(), Some("hello"));
    assert_eq!(only(&tree, "run").parent_id(), root.span_id());
}
