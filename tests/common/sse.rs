//! A client of the run log's server-sent event stream.

use serde_json::Value;
use std::time::Duration;

/// What an open stream did next.
#[derive(Debug)]
pub enum Next {
    /// An invocation record arrived: the event's id and the record.
    Event(String, Value),
    /// The server closed the stream.
    Closed,
    /// Nothing within the wait.
    Quiet,
}

/// An open `…/invocations/stream` response.
pub struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    /// Opens `GET {base}/admin/v1/tenants/{tenant}/invocations/stream{query}`
    /// with `token`, resuming after `last` when given; it must answer 200 as
    /// an event stream.
    pub async fn open(
        base: &str,
        tenant: &str,
        token: &str,
        query: &str,
        last: Option<&str>,
    ) -> Self {
        let url = format!("{base}/admin/v1/tenants/{tenant}/invocations/stream{query}");
        let mut request = reqwest::Client::new().get(url).bearer_auth(token);
        if let Some(last) = last {
            request = request.header("Last-Event-ID", last);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert_eq!(content_type, "text/event-stream");
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event, the end of the stream, or quiet after `wait`;
    /// keep-alive comments are skipped.
    pub async fn next_or_end(&mut self, wait: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let value = |name: &str| {
                    block
                        .lines()
                        .find_map(|l| l.strip_prefix(name))
                        .map(|v| v.trim_start().to_owned())
                };
                if let (Some(id), Some(data)) = (value("id:"), value("data:")) {
                    return Next::Event(id, serde_json::from_str(&data).unwrap());
                }
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return Next::Quiet,
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None) | Err(_)) => return Next::Closed,
            }
        }
    }

    /// The next event within `wait` (id and record), or `None`.
    pub async fn next(&mut self, wait: Duration) -> Option<(String, Value)> {
        match self.next_or_end(wait).await {
            Next::Event(id, record) => Some((id, record)),
            Next::Closed | Next::Quiet => None,
        }
    }
}
