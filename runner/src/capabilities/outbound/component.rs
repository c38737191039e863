//! `wasi:http/outgoing-handler` for components, served from the invocation's
//! outbound grant.
//!
//! `wasi:http` is linked so toolchains that import it by default load; requests
//! go out only through the grant (allow-list, SSRF guard, budget), and without
//! one fail naming the manifest key. Redirects are not followed here: the guest
//! sees the 3xx, and a request to the new location is checked like any other.

use super::{OutboundGrant, OutboundRequest, granted};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use std::sync::Arc;
use tracing::Instrument;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi_http::{WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

/// A component's outbound HTTP: the `wasi:http` context and the hooks that
/// send its requests through the grant.
pub struct OutboundHttp {
    ctx: WasiHttpCtx,
    hooks: OutboundHooks,
}

impl OutboundHttp {
    /// Outbound HTTP through `grant`; `None` denies every request.
    pub fn new(grant: Option<Arc<OutboundGrant>>) -> Self {
        Self {
            ctx: WasiHttpCtx::new(),
            hooks: OutboundHooks { grant },
        }
    }

    /// The view `wasi:http` works on, with the store's resource `table`.
    pub fn view<'a>(&'a mut self, table: &'a mut ResourceTable) -> WasiHttpCtxView<'a> {
        WasiHttpCtxView {
            ctx: &mut self.ctx,
            table,
            hooks: &mut self.hooks,
        }
    }
}

/// Adds `wasi:http` (types and the outgoing handler, no server side) to a
/// component linker whose state gives its view with [`OutboundHttp::view`].
pub fn add_to_linker<T: WasiHttpView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)
}

struct OutboundHooks {
    grant: Option<Arc<OutboundGrant>>,
}

type SendDone = Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>;

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: SendDone,
    ) -> Box<
        dyn Future<Output = wasmtime_wasi_http::Result<(http::Response<WasiBody>, SendDone)>>
            + Send,
    > {
        let grant = self.grant.clone();
        // wasi:http runs this future on a task of its own: it stays in the
        // guest's `run` span (traces, the trace context sent on).
        let span = tracing::Span::current();
        Box::new(
            async move {
                let denied =
                    |message: String| wasmtime_wasi_http::Error::InternalError(Some(message));
                let grant = granted(grant.as_ref(), || {
                    request.uri().host().unwrap_or("").to_owned()
                })
                .map_err(|e| denied(e.0))?;
                // Check the destination and take a slot of the request budget
                // before buffering any body: a component cannot make the host hold
                // more bodies than its budget allows.
                grant
                    .admit(&request.uri().to_string())
                    .map_err(|e| denied(e.0))?;
                let (parts, body) = request.into_parts();
                let limit = grant.max_request_bytes();
                let body = Limited::new(body, limit)
                    .collect()
                    .await
                    .map_err(|e| {
                        grant.refused_after_admit();
                        denied(format!(
                            "reading the request body: {e} (limit {limit} bytes)"
                        ))
                    })?
                    .to_bytes();
                let outbound = OutboundRequest {
                    method: parts.method.to_string(),
                    url: parts.uri.to_string(),
                    headers: parts
                        .headers
                        .iter()
                        .filter_map(|(k, v)| {
                            Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned()))
                        })
                        .collect(),
                    body: body.to_vec(),
                };
                let answer = grant
                    .send(outbound, false, true)
                    .await
                    .map_err(|e| denied(e.0))?;
                let mut response = http::Response::builder().status(answer.status);
                for (name, value) in &answer.headers {
                    response = response.header(name, value);
                }
                let body = Full::new(Bytes::from(answer.body))
                    .map_err(|never| match never {})
                    .boxed_unsync();
                let response = response
                    .body(body)
                    .map_err(|e| denied(format!("bad response: {e}")))?;
                let done: SendDone = Box::new(async { Ok(()) });
                Ok((response, done))
            }
            .instrument(span),
        )
    }
}
