//! OpenTelemetry traces over OTLP/HTTP (`docket serve --otlp-endpoint URL`).
//!
//! Off unless an endpoint is given. When on, a `tracing-opentelemetry` layer
//! with its own filter (the `docket` crate's spans down to DEBUG, no events)
//! turns the invocation path's spans (`custom_action` and its `module_load`,
//! `instantiate`, `run`, `outbound_http` and `kv` children) into OpenTelemetry
//! spans, batched and sent as protobuf to `{endpoint}/v1/traces`. The log
//! layer and its `DOCKET_LOG` filter are unaffected.
//!
//! Sampling is Docket's own decision per request (`--trace-sample-ratio`),
//! made when the request's span is created, never the caller's: an incoming W3C `traceparent` becomes the parent of the
//! request's span ([`adopt_remote_parent`]) so the trace joins the caller's,
//! but its sampled flag cannot force Docket to record.
//!
//! The exporter runs on the SDK's batch thread and sends with reqwest (0.12,
//! the workspace's) on a one-thread runtime of its own, so exports neither
//! need nor load the server's runtime, and the last batch can be flushed at
//! shutdown ([`shutdown`]) from anywhere.

use anyhow::Context as _;
use axum::http::HeaderMap;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};
use std::sync::OnceLock;
use std::time::Duration;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::registry::LookupSpan;

/// The service name spans carry unless `OTEL_SERVICE_NAME` (or
/// `service.name` in `OTEL_RESOURCE_ATTRIBUTES`) says otherwise.
pub const SERVICE_NAME: &str = "docket";

/// How long one export may take before it is abandoned.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest collector response read (collectors answer with a few bytes).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The tracer provider, once [`layer`] has built one: its presence is what
/// "traces are on" means.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Where and how much to trace.
#[derive(Debug, Clone)]
pub struct TraceSettings {
    /// The OTLP/HTTP base URL (`http://collector:4318`); spans go to `{endpoint}/v1/traces`.
    pub endpoint: String,
    /// The share of requests traced, 0 to 1, decided as each request starts.
    pub sample_ratio: f64,
}

/// Whether traces are on (a tracer provider was built).
pub fn enabled() -> bool {
    PROVIDER.get().is_some()
}

/// Builds the OTLP pipeline and the layer that feeds it, filtered to the
/// `docket` crate's spans at DEBUG and above. Call once, when the subscriber
/// is installed.
pub fn layer<S>(settings: &TraceSettings) -> anyhow::Result<impl Layer<S> + Send + Sync + 'static>
where
    S: Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
{
    let url = traces_url(&settings.endpoint)?;
    if !(0.0..=1.0).contains(&settings.sample_ratio) {
        anyhow::bail!("the trace sample ratio must be from 0 to 1");
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(OtlpClient::new()?)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url.clone())
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .with_context(|| format!("setting up the OTLP exporter to {url}"))?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        // Sampled when the request's span is created (`span_layer`); never
        // parent-based: a caller's sampled flag must not force recording.
        .with_sampler(Sampler::AlwaysOn)
        .with_resource(resource())
        .build();
    let tracer = provider.tracer("docket");
    if PROVIDER.set(provider).is_err() {
        anyhow::bail!("the OTLP pipeline is already set up");
    }
    Ok(span_layer(tracer, settings.sample_ratio))
}

/// The name of the span each webhook request is traced under.
const REQUEST_SPAN: &str = "custom_action";

/// The layer turning the `docket` crate's spans (DEBUG and above, no
/// events) into OpenTelemetry spans of `tracer`, for `sample_ratio` of the
/// requests.
///
/// Sampling happens here, when a request's span is created, not in the
/// SDK's sampler: a request that is not sampled then has no span in this
/// layer, and neither have its children (a child is traced only under a
/// traced span), so the 99% of requests a 1% ratio skips cost the layer
/// nothing. A span a sampler drops would still be built, attributes and all.
fn span_layer<S>(tracer: SdkTracer, sample_ratio: f64) -> impl Layer<S> + Send + Sync + 'static
where
    S: Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
{
    // The docket crate's spans down to DEBUG, decided once per callsite, so
    // every other callsite (hyper's, sqlx's) is never asked about again.
    let docket_span = |meta: &tracing::Metadata<'_>| {
        meta.is_span()
            && *meta.level() <= tracing::Level::DEBUG
            && (meta.target() == "docket" || meta.target().starts_with("docket::"))
    };
    let sampled_request_trees = tracing_subscriber::filter::dynamic_filter_fn(move |meta, cx| {
        if meta.name() == REQUEST_SPAN {
            return sample_ratio >= 1.0 || rand::random::<f64>() < sample_ratio;
        }
        // Under a traced request, as this filter sees spans: a child of an
        // unsampled request, or a span outside any request, is not traced.
        cx.lookup_current().is_some()
    })
    .with_callsite_filter(move |meta| match docket_span(meta) {
        true => tracing::subscriber::Interest::sometimes(),
        false => tracing::subscriber::Interest::never(),
    })
    .with_max_level_hint(LevelFilter::DEBUG);
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        // Lean spans: no code locations, thread ids, targets or busy/idle times.
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        // Parents come from tracing's own span stack, not a thread-local
        // OpenTelemetry context, so nothing is done on each poll, and a
        // span's remote parent can be set until its first child starts.
        .with_context_activation(false)
        .with_filter(sampled_request_trees)
}

/// Sends the spans still queued and stops the exporter (at the end of
/// `docket serve`). Waits for the last export, at most its timeout.
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get()
        && let Err(e) = provider.shutdown()
    {
        tracing::warn!(error = %e, "flushing the last spans to the OTLP endpoint failed");
    }
}

/// Makes the W3C `traceparent` of `headers` the parent of
/// `span`, so the caller's trace (a load balancer's, Workfront's) continues
/// here. A no-op when traces are off or there is no valid `traceparent`. Must
/// be called before `span` has a child (its OpenTelemetry span is then
/// started and its parent fixed). The caller's sampled flag is ignored: Docket
/// samples on its own ratio.
pub fn adopt_remote_parent(span: &tracing::Span, headers: &HeaderMap) {
    if enabled() {
        set_remote_parent(span, headers);
    }
}

fn set_remote_parent(span: &tracing::Span, headers: &HeaderMap) {
    if !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    if parent.span().span_context().is_valid() {
        // Err only when the span is disabled or already started: no parent then.
        let _ = span.set_parent(parent);
    }
}

/// Adds the current span's W3C `traceparent` (and `tracestate`, if any) to
/// `headers`, replacing any there. A no-op when traces are off or the current
/// span has no valid trace context (not recorded by the OpenTelemetry layer).
pub fn inject_traceparent(headers: &mut Vec<(String, String)>) {
    if enabled() {
        inject_current(headers);
    }
}

fn inject_current(headers: &mut Vec<(String, String)>) {
    let context = tracing::Span::current().context();
    if context.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(headers));
    }
}

/// `{endpoint}/v1/traces`, for an http(s) base URL.
fn traces_url(endpoint: &str) -> anyhow::Result<String> {
    let parsed = url::Url::parse(endpoint)
        .with_context(|| format!("--otlp-endpoint {endpoint:?} is not a URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        anyhow::bail!("--otlp-endpoint {endpoint:?} must be an http:// or https:// URL");
    }
    Ok(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
}

/// The SDK's resource (`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME`, the
/// SDK's own attributes), named `docket` unless the environment names it.
fn resource() -> Resource {
    let detected = Resource::builder().build();
    let named = detected
        .get(&opentelemetry::Key::from_static_str("service.name"))
        .is_some_and(|name| !name.as_str().starts_with("unknown_service"));
    let builder = match named {
        true => Resource::builder(),
        false => Resource::builder().with_service_name(SERVICE_NAME),
    };
    builder
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build()
}

/// Reads a request's `traceparent`, and nothing else: a caller's
/// `tracestate` is vendor data Docket has no reason to carry on to the hosts
/// actions call.
struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        if !key.eq_ignore_ascii_case("traceparent") {
            return None;
        }
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent"]
    }
}

/// Writes propagation headers into an outbound request's header list,
/// replacing any of the same name (an empty value only removes them).
struct HeaderInjector<'a>(&'a mut Vec<(String, String)>);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.retain(|(name, _)| !name.eq_ignore_ascii_case(key));
        // An empty `tracestate` is not sent.
        if !value.is_empty() {
            self.0.push((key.to_owned(), value));
        }
    }
}

/// The exporter's HTTP client: reqwest 0.12 on a one-thread runtime of its
/// own. The SDK calls it from its batch thread (outside any runtime); the
/// request runs on this runtime and the batch thread waits for it.
#[derive(Debug)]
struct OtlpClient {
    client: reqwest::Client,
    runtime: Option<tokio::runtime::Runtime>,
}

impl OtlpClient {
    fn new() -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("docket-otlp")
            .enable_all()
            .build()
            .context("starting the OTLP exporter's runtime")?;
        let client = reqwest::Client::builder()
            .timeout(EXPORT_TIMEOUT)
            .user_agent(concat!("docket/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the OTLP exporter's HTTP client")?;
        Ok(Self {
            client,
            runtime: Some(runtime),
        })
    }
}

impl Drop for OtlpClient {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside another runtime.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for OtlpClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or("the OTLP client is shut down")?;
        let client = self.client.clone();
        let request = reqwest::Request::try_from(request)?;
        let sent = runtime.spawn(async move {
            let mut response = client.execute(request).await?;
            let status = response.status();
            let headers = std::mem::take(response.headers_mut());
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            let mut answer = Response::builder().status(status).body(Bytes::from(body))?;
            *answer.headers_mut() = headers;
            Ok::<_, HttpError>(answer)
        });
        sent.await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_sdk::trace::{SpanData, SpanExporter};
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn the_traces_path_is_appended_to_the_endpoint() {
        assert_eq!(
            traces_url("http://127.0.0.1:4318").unwrap(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_url("https://collector.example/otlp/").unwrap(),
            "https://collector.example/otlp/v1/traces"
        );
        assert!(traces_url("collector:4318").is_err());
        assert!(traces_url("ftp://collector").is_err());
    }

    /// Keeps what it is given, for the test below.
    #[derive(Debug, Clone, Default)]
    struct Kept(Arc<Mutex<Vec<SpanData>>>);

    impl SpanExporter for Kept {
        async fn export(&self, batch: Vec<SpanData>) -> opentelemetry_sdk::error::OTelSdkResult {
            self.0.lock().unwrap().extend(batch);
            Ok(())
        }
    }

    #[test]
    fn a_remote_parent_is_adopted_and_the_current_span_injected() {
        let kept = Kept::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(kept.clone())
            .with_sampler(Sampler::TraceIdRatioBased(1.0))
            .build();
        let subscriber =
            tracing_subscriber::registry().with(span_layer(provider.tracer("test"), 1.0));
        let mut incoming = HeaderMap::new();
        let remote = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
        incoming.insert("traceparent", remote.parse().unwrap());
        let mut outgoing = vec![("traceparent".to_owned(), "guest".to_owned())];
        tracing::subscriber::with_default(subscriber, || {
            let root = tracing::info_span!("custom_action");
            set_remote_parent(&root, &incoming);
            let _root = root.enter();
            let child = tracing::debug_span!("outbound_http");
            let _child = child.enter();
            inject_current(&mut outgoing);
            // Not the docket crate's: not traced.
            let other = tracing::info_span!(target: "hyper", "elsewhere");
            assert!(!other.context().span().span_context().is_valid());
        });
        let spans = kept.0.lock().unwrap().clone();
        let names: Vec<_> = spans.iter().map(|s| s.name.as_ref()).collect();
        assert_eq!(names, ["outbound_http", "custom_action"]);
        let (child, root) = (&spans[0], &spans[1]);
        let trace_id = root.span_context.trace_id().to_string();
        assert_eq!(trace_id, "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(root.parent_span_id.to_string(), "b7ad6b7169203331");
        assert!(root.parent_span_is_remote);
        assert_eq!(child.parent_span_id, root.span_context.span_id());
        let expected = format!("00-{trace_id}-{}-01", child.span_context.span_id());
        assert_eq!(outgoing, [("traceparent".to_owned(), expected)]);
    }

    /// An unsampled request leaves no span, children included; nor does a
    /// span outside any request.
    #[test]
    fn only_sampled_requests_and_their_children_are_traced() {
        let kept = Kept::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(kept.clone())
            .build();
        let never = tracing_subscriber::registry().with(span_layer(provider.tracer("test"), 0.0));
        tracing::subscriber::with_default(never, || {
            let root = tracing::info_span!("custom_action");
            let _root = root.enter();
            let child = tracing::debug_span!("instantiate");
            assert!(!child.context().span().span_context().is_valid());
        });
        let always = tracing_subscriber::registry().with(span_layer(provider.tracer("test"), 1.0));
        tracing::subscriber::with_default(always, || {
            let outside = tracing::debug_span!("compile");
            assert!(!outside.context().span().span_context().is_valid());
            let root = tracing::info_span!("custom_action");
            let _root = root.enter();
            let _child = tracing::debug_span!("instantiate").entered();
        });
        let spans = kept.0.lock().unwrap().clone();
        let names: Vec<_> = spans.iter().map(|s| s.name.as_ref()).collect();
        assert_eq!(names, ["instantiate", "custom_action"]);
    }

    #[test]
    fn off_by_default_the_helpers_do_nothing() {
        let mut headers = vec![("traceparent".to_owned(), "guest".to_owned())];
        inject_traceparent(&mut headers);
        assert_eq!(headers, [("traceparent".to_owned(), "guest".to_owned())]);
        let mut incoming = HeaderMap::new();
        incoming.insert(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
                .parse()
                .unwrap(),
        );
        adopt_remote_parent(&tracing::Span::none(), &incoming);
    }
}
