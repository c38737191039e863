//! A small client of the admin and webhook APIs, for the CLI's dev loop.

use crate::config::ServerArgs;
use anyhow::{Context, bail};
use serde_json::Value;

/// Talks to one Docket server's admin API with one bearer token.
pub struct AdminClient {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl AdminClient {
    /// A client for `server`; fails when no token was given
    /// ([`ServerArgs::bearer_token`]).
    pub fn new(server: &ServerArgs) -> anyhow::Result<Self> {
        Ok(Self {
            base: server.server.trim_end_matches('/').to_owned(),
            token: server.bearer_token()?,
            http: reqwest::Client::new(),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/admin/v1{path}", self.base)
    }

    /// Sends a request and returns the JSON body, or fails with the server's error.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        answer(self.authorized(request).await?).await
    }

    /// Sends a request with the bearer token; fails only when the server
    /// cannot be reached.
    async fn authorized(
        &self,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<reqwest::Response> {
        request
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))
    }

    /// GET a path under `/admin/v1`.
    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(self.url(path))).await
    }

    /// GET a path under `/admin/v1` whose body is bytes (a module).
    pub async fn get_bytes(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        let response = self.authorized(self.http.get(self.url(path))).await?;
        if !response.status().is_success() {
            answer(response).await?;
            bail!("the server refused {path}");
        }
        Ok(response.bytes().await?.to_vec())
    }

    /// POST JSON to a path under `/admin/v1`.
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    /// PUT JSON to a path under `/admin/v1`.
    pub async fn put(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.put(self.url(path)).json(body)).await
    }

    /// PATCH JSON to a path under `/admin/v1`.
    pub async fn patch(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.patch(self.url(path)).json(body)).await
    }

    /// DELETE a path under `/admin/v1`.
    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.delete(self.url(path))).await
    }

    /// Opens a server-sent event stream at a path under `/admin/v1`,
    /// resuming after event `last` if given.
    pub async fn events(&self, path: &str, last: Option<&str>) -> anyhow::Result<Events> {
        let mut request = self.http.get(self.url(path));
        if let Some(last) = last {
            request = request.header("Last-Event-ID", last);
        }
        let response = self.authorized(request).await?;
        if !response.status().is_success() {
            answer(response).await?;
            bail!("the stream was refused");
        }
        Ok(Events {
            response,
            buffer: String::new(),
        })
    }

    /// Deploys a manifest and module to a tenant.
    pub async fn deploy(
        &self,
        tenant: &str,
        manifest: String,
        module: Vec<u8>,
    ) -> anyhow::Result<Value> {
        let form = reqwest::multipart::Form::new()
            .text("manifest", manifest)
            .part(
                "module",
                reqwest::multipart::Part::bytes(module)
                    .file_name("module.wasm")
                    .mime_str("application/wasm")?,
            );
        let url = self.url(&format!("/tenants/{tenant}/actions"));
        self.send(self.http.post(url).multipart(form)).await
    }
}

/// A response's JSON body, or an error with the server's message.
async fn answer(response: reqwest::Response) -> anyhow::Result<Value> {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let body: Value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    if !status.is_success() {
        let message = body
            .get("error")
            .and_then(Value::as_str)
            .map_or_else(|| body.to_string(), str::to_owned);
        bail!("{status}: {message}");
    }
    Ok(body)
}

/// A server-sent event stream: each event's `data` parsed as JSON.
pub struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    /// The next event's data, skipping keep-alive comments; `None` when the
    /// server ends the stream.
    pub async fn next(&mut self) -> anyhow::Result<Option<Value>> {
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let data: Vec<&str> = block
                    .lines()
                    .filter_map(|line| line.strip_prefix("data:"))
                    .map(|d| d.strip_prefix(' ').unwrap_or(d))
                    .collect();
                if !data.is_empty() {
                    let data = data.join("\n");
                    return Ok(Some(
                        serde_json::from_str(&data).context("an event is not JSON")?,
                    ));
                }
            }
            let Some(chunk) = self.response.chunk().await.context("reading the stream")? else {
                return Ok(None);
            };
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

/// What a webhook call got back.
#[derive(Debug)]
pub struct WebhookAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
    /// The `X-Request-Id` header: the id `docket replay` and the run log know
    /// the invocation by (absent on answers given before a run).
    pub request_id: Option<String>,
}

/// Calls a tenant's `customAction` webhook as Workfront would.
pub async fn call_webhook(
    server: &str,
    tenant: &str,
    api_key: &str,
    username: &str,
    query: &[(String, String)],
) -> anyhow::Result<WebhookAnswer> {
    let url = format!("{}/t/{tenant}/customAction", server.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .get(url)
        .query(query)
        .header("apiKey", api_key)
        .header("username", username)
        .send()
        .await
        .with_context(|| format!("cannot reach {server}"))?;
    let status = response.status().as_u16();
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response
        .json()
        .await
        .context("the server's answer is not JSON")?;
    Ok(WebhookAnswer {
        status,
        body,
        request_id,
    })
}
