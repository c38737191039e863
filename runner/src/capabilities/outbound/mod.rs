//! Outbound HTTP for actions: one shared client, the allow-list, and the SSRF guard.
//!
//! Every request is checked against the action's `allowed-outbound-hosts` before it
//! leaves, and every redirect hop again. Destinations are checked *after* DNS
//! resolution by the client's own resolver, which hands the connector only the
//! addresses that passed, so a name that resolves (or re-resolves) to a private
//! address cannot be reached. Per invocation there is a request budget, a
//! per-request timeout inside the invocation's deadline, and a response-size cap.
//!
//! This module owns the capability end to end: the grant ([`OutboundGrant`],
//! its allow-list in [`super::hosts`]), the budget, what the run log keeps of
//! each request ([`OutboundCall`]), the SSRF guard (`guard`), the HTTP
//! exchange itself (`send`: redirects, timeouts, size caps, trace context),
//! and both doors guests reach it through: `wasi:http` for components
//! ([`component`]) and the `http` operation of `docket::host_call` for command
//! modules ([`host_call`]).

pub mod component;
mod guard;
pub mod host_call;
mod send;

use super::hosts::{HostPattern, suggestion};
use crate::metrics::{Metrics, OutboundOutcome};
use guard::{GuardedResolver, private_destination};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tracing::Instrument;

pub use guard::is_public;

/// Operator settings for all outbound requests.
#[derive(Debug, Clone, Copy)]
pub struct OutboundSettings {
    /// Let actions reach private, loopback and link-local addresses (off by default).
    pub allow_private: bool,
    /// Requests one invocation may make, redirect hops included.
    pub max_requests: u32,
    /// Longest one request may take, always cut to the invocation's deadline.
    pub request_timeout: Duration,
    /// Largest response body an action may receive.
    pub max_response_bytes: usize,
    /// Largest request body an action may send.
    pub max_request_bytes: usize,
}

impl Default for OutboundSettings {
    fn default() -> Self {
        Self {
            allow_private: false,
            max_requests: 10,
            request_timeout: Duration::from_secs(10),
            max_response_bytes: 1024 * 1024,
            max_request_bytes: 1024 * 1024,
        }
    }
}

/// Outbound calls one invocation's run-log record keeps; refused calls do not
/// use the request budget, so without a cap a guest could grow the list at will.
pub const MAX_RECORDED_CALLS: usize = 32;

/// One outbound request as the run log keeps it: never its URL path, query,
/// headers or bodies, which may carry credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboundCall {
    /// `GET`, `POST`, …, as the action wrote it.
    pub method: String,
    /// The destination host (the first hop's, when redirects were followed).
    pub host: String,
    /// The final response's status; absent when there was none.
    pub status: Option<u16>,
    /// `allowed` (a response came back), `denied` (Docket refused it) or
    /// `error` (it failed on its way), as the metrics count them.
    pub outcome: String,
    /// How long it took, redirects included.
    pub ms: u64,
}

/// The process-wide HTTP client actions' requests go through.
pub struct OutboundClient {
    client: reqwest::Client,
    settings: OutboundSettings,
    /// Where requests are counted, once the service gives it (`App::new`).
    metrics: OnceLock<Arc<Metrics>>,
}

/// A failed request and how it counts: `Denied` when Docket refused it,
/// `Error` when it failed on its way.
type Failed = (OutboundError, OutboundOutcome);

fn denied(err: OutboundError) -> Failed {
    (err, OutboundOutcome::Denied)
}

fn failed(err: OutboundError) -> Failed {
    (err, OutboundOutcome::Error)
}

/// A request an action wants to send.
#[derive(Debug, Clone, Default)]
pub struct OutboundRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// An absolute `http` or `https` URL.
    pub url: String,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body; empty for none.
    pub body: Vec<u8>,
}

/// What came back.
#[derive(Debug, Clone)]
pub struct OutboundResponse {
    /// The HTTP status code.
    pub status: u16,
    /// Header names (lower-case) and values.
    pub headers: Vec<(String, String)>,
    /// The whole body, at most the operator's response cap.
    pub body: Vec<u8>,
}

/// Why a request was refused or failed; the message is what the action sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct OutboundError(pub String);

/// What an action is told when it uses outbound HTTP to `host` without a grant.
pub fn not_granted(host: &str) -> OutboundError {
    OutboundError(format!(
        "outbound HTTP to {host:?} is denied: the action's manifest grants no \
         [capabilities] allowed-outbound-hosts"
    ))
}

/// The invocation's grant, or the refusal naming the manifest key; `host` names
/// the destination for the refusal.
pub fn granted(
    grant: Option<&Arc<OutboundGrant>>,
    host: impl FnOnce() -> String,
) -> Result<&Arc<OutboundGrant>, OutboundError> {
    grant.ok_or_else(|| not_granted(&host()))
}

/// One invocation's outbound grant: its allow-list and what it has used.
pub struct OutboundGrant {
    client: Arc<OutboundClient>,
    /// `tenant/action`, for the log.
    who: String,
    hosts: Arc<[HostPattern]>,
    used: AtomicU32,
    deadline: Instant,
    /// Whether requests carry the invocation's `traceparent`.
    propagate_trace: bool,
    /// What the run log keeps of each request, at most [`MAX_RECORDED_CALLS`].
    calls: Mutex<Vec<OutboundCall>>,
}

impl OutboundClient {
    /// Builds the client. It follows no redirects itself (each hop is checked
    /// here) and reads no proxy settings from the environment.
    pub fn new(settings: OutboundSettings) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver {
                allow_private: settings.allow_private,
            }))
            .connect_timeout(settings.request_timeout)
            .user_agent(concat!("docket/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("building the outbound HTTP client: {e}"))?;
        Ok(Self {
            client,
            settings,
            metrics: OnceLock::new(),
        })
    }

    /// Counts every request from now on in `metrics` (once; later calls are
    /// ignored). Requests of actions with no outbound grant at all never
    /// reach the client and are not counted.
    pub fn observe(&self, metrics: Arc<Metrics>) {
        let _ = self.metrics.set(metrics);
    }

    fn count(&self, outcome: OutboundOutcome) {
        if let Some(metrics) = self.metrics.get() {
            metrics.outbound(outcome);
        }
    }

    /// The settings the client enforces.
    pub fn settings(&self) -> &OutboundSettings {
        &self.settings
    }

    /// The guarded client itself, for Docket's own requests to servers a
    /// tenant names (OAuth2 mode's identity provider): names resolve through
    /// the SSRF guard, no redirect is followed, no proxy is read. The caller
    /// checks IP-literal URLs with [`OutboundClient::destination_allowed`]
    /// and bounds each request's time.
    pub fn guarded(&self) -> &reqwest::Client {
        &self.client
    }

    /// Whether a URL may be requested for a tenant: `https`, or `http` only
    /// where private destinations are allowed (a test or lab set-up), and
    /// never an IP literal the SSRF guard would refuse.
    pub fn destination_allowed(&self, url: &url::Url) -> Result<(), String> {
        destination_allowed(self.settings.allow_private, url)
    }
}

/// [`OutboundClient::destination_allowed`] for a client with these settings.
pub fn destination_allowed(allow_private: bool, url: &url::Url) -> Result<(), String> {
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        other => {
            return Err(format!(
                "{url} must use https (not {other}); http is allowed only with --allow-private-outbound"
            ));
        }
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
        Some(url::Host::Domain(_)) => None,
        None => return Err(format!("{url} has no host")),
    };
    match ip {
        Some(ip) if !allow_private && !is_public(ip) => Err(format!(
            "{url} is a private address; Docket does not call those unless the operator allows it (--allow-private-outbound)"
        )),
        _ => Ok(()),
    }
}

impl OutboundGrant {
    /// A grant for one invocation of `who` (`tenant/action`) ending at `deadline`.
    pub fn new(
        client: Arc<OutboundClient>,
        who: String,
        hosts: Arc<[HostPattern]>,
        deadline: Instant,
    ) -> Self {
        Self {
            client,
            who,
            hosts,
            used: AtomicU32::new(0),
            deadline,
            propagate_trace: false,
            calls: Mutex::default(),
        }
    }

    /// The requests made so far, oldest first, for the run log.
    pub fn calls(&self) -> Vec<OutboundCall> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Keeps `call` for the run log, unless [`MAX_RECORDED_CALLS`] are kept.
    fn keep(&self, call: OutboundCall) {
        let Ok(mut calls) = self.calls.lock() else {
            return;
        };
        if calls.len() < MAX_RECORDED_CALLS {
            calls.push(call);
        }
    }

    /// Sends the invocation's W3C trace context with each request when `on`
    /// (the manifest's `propagate-trace`).
    pub fn with_trace_propagation(mut self, on: bool) -> Self {
        self.propagate_trace = on;
        self
    }

    /// Whether requests carry the invocation's `traceparent`.
    pub fn propagates_trace(&self) -> bool {
        self.propagate_trace
    }

    /// Largest request body this grant sends.
    pub fn max_request_bytes(&self) -> usize {
        self.client.settings.max_request_bytes
    }

    /// Checks that a request to `url` may leave — it is on the allow-list, not
    /// a private IP literal, and within the request budget — and counts it.
    /// [`OutboundGrant::send`] does this itself; a caller that must read a
    /// request body first calls it before reading, then passes `admitted`.
    pub fn admit(&self, url: &str) -> Result<(), OutboundError> {
        let admitted = parse_url(url)
            .map_err(failed)
            .and_then(|parsed| self.admit_hop(&parsed, false).map_err(denied));
        admitted.map_err(|(err, outcome)| {
            self.client.count(outcome);
            self.keep(OutboundCall {
                method: String::new(),
                host: host_of(url),
                status: None,
                outcome: outcome.as_str().to_owned(),
                ms: 0,
            });
            self.log(&err);
            err
        })
    }

    /// Sends `request`, following redirects (each hop checked) when
    /// `follow_redirects`. `admitted` says [`OutboundGrant::admit`] already
    /// checked and counted the first hop. Failures are also logged: some guest
    /// HTTP clients (JavaScript's `fetch`) hide the reason from the action.
    pub async fn send(
        &self,
        request: OutboundRequest,
        follow_redirects: bool,
        admitted: bool,
    ) -> Result<OutboundResponse, OutboundError> {
        let kept = OutboundCall {
            method: request.method.chars().take(MAX_METHOD_CHARS).collect(),
            host: host_of(&request.url),
            status: None,
            // What it stays if the invocation ends while it is in flight.
            outcome: OutboundOutcome::Error.as_str().to_owned(),
            ms: 0,
        };
        let span = tracing::debug_span!(
            "outbound_http",
            http.request.method = %kept.method,
            server.address = %kept.host,
            http.response.status_code = tracing::field::Empty,
        );
        let mut call = CallInFlight {
            grant: self,
            started: Instant::now(),
            call: Some(kept),
        };
        let result = self
            .send_following(request, follow_redirects, admitted)
            .instrument(span.clone())
            .await;
        match result {
            Ok(response) => {
                span.record("http.response.status_code", response.status);
                self.client.count(OutboundOutcome::Allowed);
                call.finish(Some(response.status), OutboundOutcome::Allowed);
                Ok(response)
            }
            Err((err, outcome)) => {
                self.client.count(outcome);
                call.finish(None, outcome);
                self.log(&err);
                Err(err)
            }
        }
    }

    /// Counts a request refused after [`OutboundGrant::admit`] let it
    /// through but before [`OutboundGrant::send`] (its body was too large).
    pub fn refused_after_admit(&self) {
        self.client.count(OutboundOutcome::Denied);
    }

    fn log(&self, err: &OutboundError) {
        tracing::info!(action = %self.who, error = %err, "outbound request failed");
    }

    fn admit_hop(&self, url: &reqwest::Url, is_redirect: bool) -> Result<(), OutboundError> {
        let settings = self.client.settings;
        let scheme = url.scheme();
        let host = url.host_str().unwrap_or("");
        let port = url.port_or_known_default().unwrap_or(0);
        if !self.hosts.iter().any(|p| p.allows(scheme, host, port)) {
            let what = match is_redirect {
                true => format!("a redirect to {url}"),
                false => format!("outbound request to {url}"),
            };
            return Err(OutboundError(format!(
                "{what} denied: {host} is not in the action's [capabilities] \
                 allowed-outbound-hosts; add \"{}\" to allow it",
                suggestion(scheme, host, port)
            )));
        }
        if let Some(ip) = ip_literal(url)
            && !settings.allow_private
            && !is_public(ip)
        {
            return Err(private_destination(host, ip));
        }
        let limit = settings.max_requests;
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < limit).then_some(n + 1)
            })
            .map_err(|used| {
                OutboundError(format!(
                    "outbound request to {host} denied: the action already made {used} requests, \
                     the limit per invocation"
                ))
            })?;
        Ok(())
    }
}

/// The longest host name DNS allows; longer ones are cut to it in the run log.
const MAX_HOST_CHARS: usize = 253;

/// Method names longer than this are cut in the run log.
const MAX_METHOD_CHARS: usize = 16;

/// The host of `url`, at most [`MAX_HOST_CHARS`], or `?` for a URL that does
/// not parse (its text is not kept: it may carry credentials).
fn host_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| h.chars().take(MAX_HOST_CHARS).collect())
        })
        .unwrap_or_else(|| "?".into())
}

/// One request on its way: kept for the run log when it ends, or, if the
/// invocation ends first (its deadline, a cancelled caller) and drops it, as
/// an `error` with the time it had taken.
struct CallInFlight<'a> {
    grant: &'a OutboundGrant,
    started: Instant,
    call: Option<OutboundCall>,
}

impl CallInFlight<'_> {
    /// The request ended with `status` (if a response came back), counted as `outcome`.
    fn finish(&mut self, status: Option<u16>, outcome: OutboundOutcome) {
        if let Some(call) = &mut self.call {
            call.status = status;
            call.outcome = outcome.as_str().to_owned();
        }
    }
}

impl Drop for CallInFlight<'_> {
    fn drop(&mut self) {
        if let Some(mut call) = self.call.take() {
            call.ms = self.started.elapsed().as_millis() as u64;
            self.grant.keep(call);
        }
    }
}

fn parse_url(url: &str) -> Result<reqwest::Url, OutboundError> {
    reqwest::Url::parse(url)
        .map_err(|e| OutboundError(format!("{url:?} is not an absolute URL: {e}")))
}

fn ip_literal(url: &reqwest::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

#[cfg(test)]
mod tests;
