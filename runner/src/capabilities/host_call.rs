//! The command ABI's door to capabilities: a module imports
//! `docket::host_call(ptr, len) -> i32` and `docket::host_reply(ptr, len) -> i32`,
//! passes one JSON operation, and reads back one JSON reply. JSON keeps the
//! import usable from any language that can already read its request.
//!
//! Operations (`guest-sdk/CONTRACT.md` documents them for authors):
//! `{"op":"http","method","url","headers":{},"body"}` →
//! `{"ok":true,"status","headers":{},"body"}`; `kv.get` / `kv.set` / `kv.delete` /
//! `kv.increment` / `kv.keys`. Every failure is `{"ok":false,"error":"…"}`.
//!
//! This module only routes: each capability owns its operations
//! ([`outbound::host_call`], [`kv::host_call`]).

use super::{Capabilities, kv, outbound};
use serde::de::{Deserializer, Visitor};
use serde_json::{Value, json};

/// Largest operation a guest may pass, in bytes (a request body plus its JSON).
pub const MAX_CALL_BYTES: usize = 2 * 1024 * 1024;

/// Which capability answers an operation, read from its `op` before the rest
/// is parsed by that capability's own operation type.
enum Door {
    Outbound,
    Kv,
}

#[derive(serde::Deserialize)]
struct Tag {
    #[serde(deserialize_with = "door")]
    op: Door,
}

/// Reads `op` as serde reads an enum's tag, so a guest's mistake reads as it
/// did when one enum held every operation.
fn door<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Door, D::Error> {
    struct OpName;
    impl Visitor<'_> for OpName {
        type Value = Door;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("variant identifier")
        }

        fn visit_str<E: serde::de::Error>(self, op: &str) -> Result<Door, E> {
            if outbound::host_call::OPERATIONS.contains(&op) {
                return Ok(Door::Outbound);
            }
            if kv::host_call::OPERATIONS.contains(&op) {
                return Ok(Door::Kv);
            }
            let known: Vec<String> = outbound::host_call::OPERATIONS
                .iter()
                .chain(kv::host_call::OPERATIONS)
                .map(|name| format!("`{name}`"))
                .collect();
            Err(E::custom(format!(
                "unknown variant `{op}`, expected one of {}",
                known.join(", ")
            )))
        }
    }
    deserializer.deserialize_identifier(OpName)
}

/// Runs one operation for a guest and returns the JSON reply.
pub async fn dispatch(caps: &Capabilities, input: &[u8]) -> Vec<u8> {
    let value = match run(caps, input).await {
        Ok(Value::Object(mut fields)) => {
            fields.insert("ok".into(), Value::Bool(true));
            Value::Object(fields)
        }
        Ok(_) => json!({ "ok": true }),
        Err(error) => json!({ "ok": false, "error": error }),
    };
    serde_json::to_vec(&value).unwrap_or_default()
}

async fn run(caps: &Capabilities, input: &[u8]) -> Result<Value, String> {
    let bad = |e: serde_json::Error| {
        format!(
            "bad host_call operation: {e}; see the contract for the operations and their fields"
        )
    };
    match serde_json::from_slice::<Tag>(input).map_err(bad)?.op {
        Door::Outbound => {
            let op = serde_json::from_slice(input).map_err(bad)?;
            outbound::host_call::run(caps.outbound.as_ref(), op)
                .await
                .map_err(|e| e.0)
        }
        Door::Kv => {
            let op = serde_json::from_slice(input).map_err(bad)?;
            kv::host_call::run(caps.kv.as_ref(), op)
                .await
                .map_err(|e| e.0)
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
            blob: None,
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

    /// A guest's unknown operation is told every operation there is, as when
    /// one enum held them all.
    #[tokio::test]
    async fn an_unknown_operation_lists_every_operation() {
        let reply = call(&Capabilities::default(), r#"{"op":"launch"}"#).await;
        assert_eq!(
            reply["error"],
            "bad host_call operation: unknown variant `launch`, expected one of `http`, \
             `kv.get`, `kv.set`, `kv.delete`, `kv.increment`, `kv.keys` at line 1 column 14; \
             see the contract for the operations and their fields"
        );
    }
}
