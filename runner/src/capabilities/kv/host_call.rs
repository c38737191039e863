//! The `kv.*` operations of `docket::host_call` (command modules): `kv.get`,
//! `kv.set`, `kv.delete`, `kv.increment` and `kv.keys`, whose reply carries
//! `next`, where the following page starts, when the page was full.

use super::{KvBucket, KvError, granted};
use serde::Deserialize;
use serde_json::{Value, json};

/// The operation names this capability answers.
pub const OPERATIONS: &[&str] = &["kv.get", "kv.set", "kv.delete", "kv.increment", "kv.keys"];

/// A key-value operation as a guest writes it.
#[derive(Deserialize)]
#[serde(tag = "op", deny_unknown_fields)]
pub(crate) enum Operation {
    /// `{"value": string | null}`.
    #[serde(rename = "kv.get")]
    Get { key: String },
    /// `{}`.
    #[serde(rename = "kv.set")]
    Set { key: String, value: String },
    /// `{"existed": bool}`.
    #[serde(rename = "kv.delete")]
    Delete { key: String },
    /// `{"value": integer}`, the new value.
    #[serde(rename = "kv.increment")]
    Increment {
        key: String,
        #[serde(default = "one")]
        by: i64,
    },
    /// `{"keys": [string], "next": integer | null}`.
    #[serde(rename = "kv.keys")]
    Keys {
        #[serde(default)]
        prefix: String,
        #[serde(default)]
        offset: usize,
    },
}

fn one() -> i64 {
    1
}

/// Runs `op` on the invocation's namespace, if it has one.
pub(crate) async fn run(bucket: Option<&KvBucket>, op: Operation) -> Result<Value, KvError> {
    let kv = granted(bucket)?;
    let reply = match op {
        Operation::Get { key } => {
            let value = kv.get(&key).await?;
            json!({ "value": value.map(|v| String::from_utf8_lossy(&v).into_owned()) })
        }
        Operation::Set { key, value } => {
            kv.set(&key, value.as_bytes()).await?;
            json!({})
        }
        Operation::Delete { key } => json!({ "existed": kv.delete(&key).await? }),
        Operation::Increment { key, by } => json!({ "value": kv.increment(&key, by).await? }),
        Operation::Keys { prefix, offset } => {
            let page = kv.page(&prefix, offset).await?;
            json!({ "keys": page.keys, "next": page.next })
        }
    };
    Ok(reply)
}
