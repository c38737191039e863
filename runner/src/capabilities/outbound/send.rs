//! The HTTP exchange of one outbound request: redirects followed hop by hop
//! (each hop admitted again, credentials dropped across origins), the
//! request's own timeout cut to the invocation's deadline, the W3C trace
//! context when the manifest asks for it, and the response read within its
//! size cap. Errors are worded for the action ([`describe`]).

use super::guard::ResolveRefused;
use super::{
    Failed, OutboundError, OutboundGrant, OutboundRequest, OutboundResponse, denied, failed,
    parse_url,
};
use std::time::{Duration, Instant};

/// How long past the invocation's deadline a request's own timeout is set, so
/// the deadline always fires first.
const DEADLINE_GRACE: Duration = Duration::from_millis(250);

/// Redirect hops followed for one request before giving up.
const MAX_REDIRECTS: usize = 5;

/// Request headers kept when a redirect leads to another origin.
const SAFE_ACROSS_ORIGINS: [&str; 4] = ["accept", "accept-language", "content-type", "user-agent"];

impl OutboundGrant {
    /// Sends `request`, following redirects when `follow_redirects`, each hop
    /// admitted (the first only unless `admitted`); the failure says how it
    /// counts.
    pub(super) async fn send_following(
        &self,
        request: OutboundRequest,
        follow_redirects: bool,
        admitted: bool,
    ) -> Result<OutboundResponse, Failed> {
        let settings = self.client.settings;
        if request.body.len() > settings.max_request_bytes {
            return Err(denied(OutboundError(format!(
                "request body is {} bytes, over the limit of {} bytes",
                request.body.len(),
                settings.max_request_bytes
            ))));
        }
        let mut method = reqwest::Method::from_bytes(
            request.method.to_ascii_uppercase().as_bytes(),
        )
        .map_err(|_| {
            failed(OutboundError(format!(
                "{:?} is not an HTTP method",
                request.method
            )))
        })?;
        let mut url = parse_url(&request.url).map_err(failed)?;
        let origin = url.origin();
        let mut body = request.body;
        let mut headers = request.headers;
        for hop in 0..=MAX_REDIRECTS {
            if hop > 0 || !admitted {
                self.admit_hop(&url, hop > 0).map_err(denied)?;
            }
            if url.origin() != origin {
                // Credentials (Authorization, an API key header, cookies) were
                // meant for the first host, not wherever it redirects to.
                headers.retain(|(name, _)| {
                    SAFE_ACROSS_ORIGINS.contains(&name.to_ascii_lowercase().as_str())
                });
            }
            let (response, timeout) = self.send_once(&method, &url, &headers, &body).await?;
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok());
            let redirect = follow_redirects && response.status().is_redirection();
            match (redirect, location) {
                (true, Some(location)) => {
                    let next = url.join(location).map_err(|e| {
                        failed(OutboundError(format!(
                            "{url} redirected to a bad location {location:?}: {e}"
                        )))
                    })?;
                    let status = response.status().as_u16();
                    if status == 303
                        || (matches!(status, 301 | 302) && method == reqwest::Method::POST)
                    {
                        method = reqwest::Method::GET;
                        body.clear();
                        headers.retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
                    }
                    url = next;
                }
                _ => {
                    return self
                        .read(url.host_str().unwrap_or(""), response, timeout)
                        .await
                        .map_err(failed);
                }
            }
        }
        Err(failed(OutboundError(format!(
            "request to {} was redirected more than {MAX_REDIRECTS} times",
            request.url
        ))))
    }

    async fn send_once(
        &self,
        method: &reqwest::Method,
        url: &reqwest::Url,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(reqwest::Response, Duration), Failed> {
        let settings = self.client.settings;
        let host = url.host_str().unwrap_or("");
        // When the invocation's deadline comes first, let it stop the whole
        // action (a clear "time limit" failure) rather than race it here.
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let timeout = match settings.request_timeout < remaining {
            true => settings.request_timeout,
            false => remaining + DEADLINE_GRACE,
        };
        let mut builder = self
            .client
            .client
            .request(method.clone(), url.clone())
            .timeout(timeout);
        // With `propagate-trace`, the request carries this span's W3C trace
        // context (when traces are on) and never one the guest set: a guest
        // cannot pose as another trace. Otherwise the guest's headers go as set.
        let traced;
        let headers = match self.propagates_trace() {
            true => {
                let mut own: Vec<(String, String)> = headers
                    .iter()
                    .filter(|(name, _)| {
                        !name.eq_ignore_ascii_case("traceparent")
                            && !name.eq_ignore_ascii_case("tracestate")
                    })
                    .cloned()
                    .collect();
                crate::telemetry::inject_traceparent(&mut own);
                traced = own;
                traced.as_slice()
            }
            false => headers,
        };
        for (name, value) in headers {
            // The URL names the destination; a guest-chosen Host header could
            // reach another virtual host behind an allowed address.
            if !name.eq_ignore_ascii_case("host") {
                builder = builder.header(name, value);
            }
        }
        if !body.is_empty() {
            builder = builder.body(body.to_vec());
        }
        builder
            .send()
            .await
            .map_err(|e| describe(host, timeout, &e))
            .map(|response| (response, timeout))
    }

    async fn read(
        &self,
        host: &str,
        mut response: reqwest::Response,
        timeout: Duration,
    ) -> Result<OutboundResponse, OutboundError> {
        let limit = self.client.settings.max_response_bytes;
        let too_large = || {
            OutboundError(format!(
                "response from {host} is larger than {} KiB, the limit per response",
                limit / 1024
            ))
        };
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| describe(host, timeout, &e).0)?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(OutboundResponse {
            status,
            headers,
            body,
        })
    }
}

/// Turns a client error into what the action is told, finding the resolver's
/// own refusal (a denial: a name resolving to a private address) among the causes.
fn describe(host: &str, timeout: Duration, err: &reqwest::Error) -> Failed {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<ResolveRefused>() {
            return denied(refused.0.clone());
        }
        source = cause.source();
    }
    if err.is_timeout() {
        return failed(OutboundError(format!(
            "request to {host} timed out after {} ms",
            timeout.as_millis()
        )));
    }
    let mut message = format!("request to {host} failed: {err}");
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    failed(OutboundError(message))
}
