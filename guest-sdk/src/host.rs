//! Capabilities: outbound HTTP and the key-value store, for either ABI.
//!
//! The same functions work in a command module (through Docket's
//! `docket::host_call` import) and in a component (through `wasi:http` and
//! `wasi:keyvalue`). Each works only when the action's manifest grants it;
//! otherwise it returns an error naming the manifest key to set.

use std::collections::BTreeMap;

/// An outbound HTTP request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET`, `POST`, `PUT`, …
    pub method: String,
    /// An absolute URL whose scheme, host and port are in the manifest's
    /// `[capabilities] allowed-outbound-hosts`.
    pub url: String,
    /// Header names and values.
    pub headers: BTreeMap<String, String>,
    /// The body (UTF-8 text, e.g. JSON); empty for none.
    pub body: String,
}

impl HttpRequest {
    /// A `GET` of `url`.
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            method: "GET".into(),
            url: url.into(),
            ..Self::default()
        }
    }

    /// A `POST` of a JSON body to `url`.
    pub fn post_json(url: impl Into<String>, body: &serde_json::Value) -> Self {
        Self {
            method: "POST".into(),
            url: url.into(),
            headers: [("content-type".to_owned(), "application/json".to_owned())].into(),
            body: body.to_string(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }
}

/// An HTTP response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lower-case) and values.
    pub headers: BTreeMap<String, String>,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
}

/// Sends `request` and waits for the whole response. An error is a message
/// for the user: a denied host, a timeout, a refused connection, an oversized
/// response. A 4xx or 5xx status is not an error: check `status`.
pub fn send(request: &HttpRequest) -> Result<HttpResponse, String> {
    imp::send(request)
}

/// The key-value store (`[capabilities] key-value = "tenant"` or `"action"`).
pub mod kv {
    use super::imp;

    /// The value of `key`, if set.
    pub fn get(key: &str) -> Result<Option<String>, String> {
        imp::kv_get(key)
    }

    /// Sets `key` to `value`.
    pub fn set(key: &str, value: &str) -> Result<(), String> {
        imp::kv_set(key, value)
    }

    /// Removes `key`.
    pub fn delete(key: &str) -> Result<(), String> {
        imp::kv_delete(key)
    }

    /// Adds `by` to the integer at `key` (absent counts as 0) atomically and
    /// returns the new value.
    pub fn increment(key: &str, by: i64) -> Result<i64, String> {
        imp::kv_increment(key, by)
    }
}

/// Command modules: one JSON operation through `docket::host_call`.
#[cfg(all(target_arch = "wasm32", not(target_env = "p2")))]
#[allow(unsafe_code)] // the two imports are the ABI; each call's contract is noted
mod imp {
    use super::{HttpRequest, HttpResponse};
    use serde_json::{Value, json};

    #[link(wasm_import_module = "docket")]
    unsafe extern "C" {
        fn host_call(ptr: *const u8, len: usize) -> i32;
        fn host_reply(ptr: *mut u8, len: usize) -> i32;
    }

    fn call(op: Value) -> Result<Value, String> {
        let input = op.to_string();
        // SAFETY: the host reads `len` bytes at `ptr`, which `input` owns.
        let len = unsafe { host_call(input.as_ptr(), input.len()) };
        let mut reply = vec![0u8; usize::try_from(len).unwrap_or(0)];
        // SAFETY: the host writes at most `reply.len()` bytes into `reply`.
        let copied = unsafe { host_reply(reply.as_mut_ptr(), reply.len()) };
        reply.truncate(usize::try_from(copied).unwrap_or(0));
        let reply: Value = serde_json::from_slice(&reply).map_err(|e| e.to_string())?;
        match reply["ok"].as_bool() {
            Some(true) => Ok(reply),
            _ => Err(reply["error"]
                .as_str()
                .unwrap_or("host_call failed")
                .to_owned()),
        }
    }

    pub fn send(request: &HttpRequest) -> Result<HttpResponse, String> {
        let reply = call(json!({
            "op": "http", "method": request.method, "url": request.url,
            "headers": request.headers, "body": request.body,
        }))?;
        Ok(HttpResponse {
            status: reply["status"].as_u64().unwrap_or(0) as u16,
            headers: serde_json::from_value(reply["headers"].clone()).unwrap_or_default(),
            body: reply["body"].as_str().unwrap_or("").to_owned(),
        })
    }

    pub fn kv_get(key: &str) -> Result<Option<String>, String> {
        Ok(call(json!({"op": "kv.get", "key": key}))?["value"]
            .as_str()
            .map(str::to_owned))
    }

    pub fn kv_set(key: &str, value: &str) -> Result<(), String> {
        call(json!({"op": "kv.set", "key": key, "value": value})).map(drop)
    }

    pub fn kv_delete(key: &str) -> Result<(), String> {
        call(json!({"op": "kv.delete", "key": key})).map(drop)
    }

    pub fn kv_increment(key: &str, by: i64) -> Result<i64, String> {
        call(json!({"op": "kv.increment", "key": key, "by": by}))?["value"]
            .as_i64()
            .ok_or_else(|| "kv.increment gave no value".to_owned())
    }
}

/// Components: `wasi:http/outgoing-handler` and `wasi:keyvalue`.
#[cfg(all(target_arch = "wasm32", target_env = "p2"))]
mod imp {
    use super::{HttpRequest, HttpResponse};
    use crate::__component::wasi::keyvalue::{atomics, store};
    use wasi::http::outgoing_handler;
    use wasi::http::types::{Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme};

    pub fn send(request: &HttpRequest) -> Result<HttpResponse, String> {
        let url = request.url.as_str();
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("{url:?} is not an absolute URL"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let headers = Fields::new();
        for (name, value) in &request.headers {
            headers
                .append(name, value.as_bytes())
                .map_err(|e| format!("header {name:?}: {e:?}"))?;
        }
        let outgoing = OutgoingRequest::new(headers);
        let method = match request.method.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "HEAD" => Method::Head,
            other => Method::Other(other.to_owned()),
        };
        let bad = |what: &str| format!("bad {what} in {url:?}");
        outgoing.set_method(&method).map_err(|()| bad("method"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => Scheme::Other(other.to_owned()),
        };
        outgoing
            .set_scheme(Some(&scheme))
            .map_err(|()| bad("scheme"))?;
        outgoing
            .set_authority(Some(authority))
            .map_err(|()| bad("host"))?;
        outgoing
            .set_path_with_query(Some(path))
            .map_err(|()| bad("path"))?;
        let body = outgoing.body().map_err(|()| "request body".to_owned())?;
        // Send first: the host reads the body while it is written.
        let future = outgoing_handler::handle(outgoing, None).map_err(|code| describe(&code))?;
        if !request.body.is_empty() {
            let stream = body
                .write()
                .map_err(|()| "request body stream".to_owned())?;
            for chunk in request.body.as_bytes().chunks(4096) {
                stream
                    .blocking_write_and_flush(chunk)
                    .map_err(|e| format!("writing the request body: {e:?}"))?;
            }
            drop(stream);
        }
        OutgoingBody::finish(body, None).map_err(|code| describe(&code))?;
        future.subscribe().block();
        let response = match future.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(describe(&code)),
            other => return Err(format!("no response: {other:?}")),
        };
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
            .collect();
        let status = response.status();
        let incoming = response
            .consume()
            .map_err(|()| "response body".to_owned())?;
        let stream = incoming
            .stream()
            .map_err(|()| "response body stream".to_owned())?;
        let mut bytes = Vec::new();
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(wasi::io::streams::StreamError::Closed) => break,
                Err(e) => return Err(format!("reading the response: {e:?}")),
            }
        }
        drop(stream);
        let _ = IncomingBody::finish(incoming);
        Ok(HttpResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }

    /// Docket puts its message in `internal-error`; show just that.
    fn describe(code: &wasi::http::types::ErrorCode) -> String {
        match code {
            wasi::http::types::ErrorCode::InternalError(Some(message)) => message.clone(),
            other => format!("{other:?}"),
        }
    }

    fn bucket() -> Result<store::Bucket, String> {
        store::open("default").map_err(describe_kv)
    }

    fn describe_kv(err: store::Error) -> String {
        match err {
            store::Error::Other(message) => message,
            other => format!("{other:?}"),
        }
    }

    pub fn kv_get(key: &str) -> Result<Option<String>, String> {
        let value = bucket()?.get(key).map_err(describe_kv)?;
        Ok(value.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    pub fn kv_set(key: &str, value: &str) -> Result<(), String> {
        bucket()?.set(key, value.as_bytes()).map_err(describe_kv)
    }

    pub fn kv_delete(key: &str) -> Result<(), String> {
        bucket()?.delete(key).map_err(describe_kv)
    }

    pub fn kv_increment(key: &str, by: i64) -> Result<i64, String> {
        let by = u64::try_from(by)
            .map_err(|_| "a component can only increment by a positive amount".to_owned())?;
        let value = atomics::increment(&bucket()?, key, by).map_err(describe_kv)?;
        i64::try_from(value).map_err(|e| e.to_string())
    }
}

/// Outside WebAssembly (unit tests of an action): nothing to call.
#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{HttpRequest, HttpResponse};

    const OUTSIDE: &str = "capabilities are only available inside Docket";

    pub fn send(_: &HttpRequest) -> Result<HttpResponse, String> {
        Err(OUTSIDE.into())
    }
    pub fn kv_get(_: &str) -> Result<Option<String>, String> {
        Err(OUTSIDE.into())
    }
    pub fn kv_set(_: &str, _: &str) -> Result<(), String> {
        Err(OUTSIDE.into())
    }
    pub fn kv_delete(_: &str) -> Result<(), String> {
        Err(OUTSIDE.into())
    }
    pub fn kv_increment(_: &str, _: i64) -> Result<i64, String> {
        Err(OUTSIDE.into())
    }
}
