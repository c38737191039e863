//! The command ABI's door to capabilities: a module imports
//! `docket::host_call(ptr, len) -> i32` and `docket::host_reply(ptr, len) -> i32`,
//! passes one JSON operation, and reads back one JSON reply. JSON keeps the
//! import usable from any language that can already read its request.
//!
//! Operations (`guest-sdk/CONTRACT.md` documents them for authors):
//! `{"op":"http","method","url","headers":{},"body"}` →
//! `{"ok":true,"status","headers":{},"body"}`; `kv.get` / `kv.set` / `kv.delete` /
//! `kv.increment` / `kv.keys`. Every failure is `{"ok":false,"error":"…"}`.

use super::kv::MAX_KEYS_LISTED;
use super::outbound::OutboundRequest;
use super::{Capabilities, KV_NOT_GRANTED, outbound_not_granted};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Largest operation a guest may pass, in bytes (a request body plus its JSON).
pub const MAX_CALL_BYTES: usize = 2 * 1024 * 1024;

#[derive(Deserialize)]
#[serde(tag = "op", deny_unknown_fields)]
enum Operation {
    #[serde(rename = "http")]
    Http {
        #[serde(default = "get")]
        method: String,
        url: String,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        #[serde(default)]
        body: String,
        #[serde(default = "yes", rename = "followRedirects")]
        follow_redirects: bool,
    },
    #[serde(rename = "kv.get")]
    KvGet { key: String },
    #[serde(rename = "kv.set")]
    KvSet { key: String, value: String },
    #[serde(rename = "kv.delete")]
    KvDelete { key: String },
    #[serde(rename = "kv.increment")]
    KvIncrement {
        key: String,
        #[serde(default = "one")]
        by: i64,
    },
    #[serde(rename = "kv.keys")]
    KvKeys {
        #[serde(default)]
        prefix: String,
        #[serde(default)]
        offset: usize,
    },
}

fn get() -> String {
    "GET".into()
}
fn yes() -> bool {
    true
}
fn one() -> i64 {
    1
}

/// Runs one operation for a guest and returns the JSON reply.
pub async fn dispatch(caps: &Capabilities, input: &[u8]) -> Vec<u8> {
    let reply = match serde_json::from_slice::<Operation>(input) {
        Ok(op) => run(caps, op).await,
        Err(e) => Err(format!(
            "bad host_call operation: {e}; see the contract for the operations and their fields"
        )),
    };
    let value = match reply {
        Ok(Value::Object(mut fields)) => {
            fields.insert("ok".into(), Value::Bool(true));
            Value::Object(fields)
        }
        Ok(_) => json!({ "ok": true }),
        Err(error) => json!({ "ok": false, "error": error }),
    };
    serde_json::to_vec(&value).unwrap_or_default()
}

async fn run(caps: &Capabilities, op: Operation) -> Result<Value, String> {
    let kv = || caps.kv.as_ref().ok_or_else(|| KV_NOT_GRANTED.to_owned());
    match op {
        Operation::Http {
            method,
            url,
            headers,
            body,
            follow_redirects,
        } => {
            let grant = caps.outbound.as_ref().ok_or_else(|| {
                let host = reqwest::Url::parse(&url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .unwrap_or(url.clone());
                outbound_not_granted(&host)
            })?;
            let request = OutboundRequest {
                method,
                url,
                headers: headers.into_iter().collect(),
                body: body.into_bytes(),
            };
            let response = grant
                .send(request, follow_redirects, false)
                .await
                .map_err(|e| e.0)?;
            let headers: BTreeMap<String, String> = response.headers.into_iter().collect();
            Ok(json!({
                "status": response.status,
                "headers": headers,
                "body": String::from_utf8_lossy(&response.body),
            }))
        }
        Operation::KvGet { key } => {
            let value = kv()?.get(&key).await.map_err(|e| e.0)?;
            Ok(json!({ "value": value.map(|v| String::from_utf8_lossy(&v).into_owned()) }))
        }
        Operation::KvSet { key, value } => {
            kv()?.set(&key, value.as_bytes()).await.map_err(|e| e.0)?;
            Ok(json!({}))
        }
        Operation::KvDelete { key } => {
            let existed = kv()?.delete(&key).await.map_err(|e| e.0)?;
            Ok(json!({ "existed": existed }))
        }
        Operation::KvIncrement { key, by } => {
            let value = kv()?.increment(&key, by).await.map_err(|e| e.0)?;
            Ok(json!({ "value": value }))
        }
        Operation::KvKeys { prefix, offset } => {
            let keys = kv()?.keys(&prefix, offset).await.map_err(|e| e.0)?;
            // Where the next page starts, when this one was full.
            let next = (keys.len() == MAX_KEYS_LISTED).then_some(offset + keys.len());
            Ok(json!({ "keys": keys, "next": next }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::kv::{KvBucket, KvLimits, KvScope, MemoryKv};
    use std::sync::Arc;

    async fn call(caps: &Capabilities, op: &str) -> Value {
        serde_json::from_slice(&dispatch(caps, op.as_bytes()).await).unwrap()
    }

    #[tokio::test]
    async fn ungranted_capabilities_name_the_manifest_key() {
        let caps = Capabilities::default();
        let reply = call(&caps, r#"{"op":"http","url":"https://example.com/x"}"#).await;
        assert_eq!(reply["ok"], false);
        assert!(
            reply["error"]
                .as_str()
                .unwrap()
                .contains("allowed-outbound-hosts")
        );
        assert!(reply["error"].as_str().unwrap().contains("example.com"));
        let reply = call(&caps, r#"{"op":"kv.get","key":"k"}"#).await;
        assert!(reply["error"].as_str().unwrap().contains("key-value"));
    }

    #[tokio::test]
    async fn kv_operations_round_trip_and_bad_operations_are_named() {
        let backend = Arc::new(MemoryKv::default());
        let bucket = KvBucket::new(backend, "acme", "a", KvScope::Tenant, KvLimits::default());
        let caps = Capabilities {
            outbound: None,
            kv: Some(bucket),
        };
        assert_eq!(
            call(&caps, r#"{"op":"kv.get","key":"k"}"#).await,
            json!({"ok":true,"value":null})
        );
        assert_eq!(
            call(&caps, r#"{"op":"kv.set","key":"k","value":"v\"1"}"#).await,
            json!({"ok":true})
        );
        assert_eq!(
            call(&caps, r#"{"op":"kv.get","key":"k"}"#).await["value"],
            "v\"1"
        );
        assert_eq!(
            call(&caps, r#"{"op":"kv.increment","key":"n","by":5}"#).await["value"],
            5
        );
        assert_eq!(
            call(&caps, r#"{"op":"kv.keys"}"#).await["keys"],
            json!(["k", "n"])
        );
        assert_eq!(
            call(&caps, r#"{"op":"kv.delete","key":"k"}"#).await["existed"],
            true
        );
        let reply = call(&caps, r#"{"op":"launch"}"#).await;
        assert!(
            reply["error"]
                .as_str()
                .unwrap()
                .contains("bad host_call operation"),
            "{reply}"
        );
        let reply = call(&caps, "not json").await;
        assert_eq!(reply["ok"], false);
    }
}
