//! The key-value store actions keep state in: one namespace per tenant, or per
//! action when the manifest asks for it, persisted by the registry's database.
//!
//! This module owns the capability end to end: the grant ([`KvScope`]), the
//! operator's limits and per-invocation budget ([`KvBucket`]), the storage seam
//! ([`KvBackend`]), and both doors guests reach it through: `wasi:keyvalue` for
//! components ([`component`]) and the `kv.*` operations of `docket::host_call`
//! for command modules ([`host_call`]).

pub mod component;
pub mod host_call;
mod memory;
mod observed;

pub use memory::MemoryKv;
pub use observed::ObservedKv;

use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// Whose namespace an action's keys live in (`[capabilities] key-value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KvScope {
    /// Shared by all of the tenant's actions that ask for `"tenant"`.
    Tenant,
    /// The action's own, kept across its versions.
    Action,
}

/// Operator limits on key-value data.
#[derive(Debug, Clone, Copy)]
pub struct KvLimits {
    /// Longest key, in bytes.
    pub max_key_bytes: usize,
    /// Largest value, in bytes.
    pub max_value_bytes: usize,
    /// All of a tenant's entries together, in bytes, each counted as its key,
    /// its value and [`ENTRY_OVERHEAD_BYTES`].
    pub max_tenant_bytes: u64,
    /// Operations one invocation may make.
    pub max_ops_per_invocation: u32,
}

impl Default for KvLimits {
    fn default() -> Self {
        Self {
            max_key_bytes: 512,
            max_value_bytes: 64 * 1024,
            max_tenant_bytes: 10 * 1024 * 1024,
            max_ops_per_invocation: 1000,
        }
    }
}

/// What each entry costs against the tenant's quota beyond its key and value
/// (the row, its index entry), so many empty entries cannot fill the disk.
pub const ENTRY_OVERHEAD_BYTES: u64 = 64;

/// A namespace: the tenant, and the action for [`KvScope::Action`] (`""` otherwise).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Namespace {
    /// The tenant the data belongs to.
    pub tenant: String,
    /// The action for an action-scoped namespace, `""` for the tenant's.
    pub scope: String,
}

/// Why a key-value operation failed; the message is what the action sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KvError(pub String);

/// A boxed future, so [`KvBackend`] can be a trait object.
pub type KvFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, KvError>> + Send + 'a>>;

/// Where key-value data lives: the registry's database, or memory for `docket invoke`.
pub trait KvBackend: Send + Sync {
    /// The value of `key`, if set.
    fn get<'a>(&'a self, ns: &'a Namespace, key: &'a str) -> KvFuture<'a, Option<Vec<u8>>>;
    /// Sets `key`, refusing when the tenant's data would exceed `max_tenant_bytes`.
    fn set<'a>(
        &'a self,
        ns: &'a Namespace,
        key: &'a str,
        value: &'a [u8],
        max_tenant_bytes: u64,
    ) -> KvFuture<'a, ()>;
    /// Removes `key`; whether it existed.
    fn delete<'a>(&'a self, ns: &'a Namespace, key: &'a str) -> KvFuture<'a, bool>;
    /// Adds `delta` to the integer stored at `key` (absent counts as 0), atomically.
    fn increment<'a>(
        &'a self,
        ns: &'a Namespace,
        key: &'a str,
        delta: i64,
        max_tenant_bytes: u64,
    ) -> KvFuture<'a, i64>;
    /// Keys starting with `prefix`, sorted, skipping the first `offset`, at most `limit`.
    fn keys<'a>(
        &'a self,
        ns: &'a Namespace,
        prefix: &'a str,
        offset: usize,
        limit: usize,
    ) -> KvFuture<'a, Vec<String>>;

    /// Told of every operation a [`KvBucket`] answered, refused ones too,
    /// with `op` one of `get`, `set`, `delete`, `increment`, `keys`. Storage
    /// ignores it; [`ObservedKv`] counts it for the metrics.
    fn observe(&self, _op: &'static str, _ok: bool) {}
}

/// What an action is told when it uses the key-value store without a grant.
pub const NOT_GRANTED: &str = "the key-value store is denied: the action's manifest does not \
     set [capabilities] key-value = \"tenant\" or \"action\"";

/// The invocation's namespace, or the refusal naming the manifest key.
pub fn granted(bucket: Option<&KvBucket>) -> Result<&KvBucket, KvError> {
    bucket.ok_or_else(|| KvError(NOT_GRANTED.into()))
}

/// One page of keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPage {
    /// At most [`MAX_KEYS_LISTED`] keys, sorted.
    pub keys: Vec<String>,
    /// Where the next page starts, when this one was full.
    pub next: Option<usize>,
}

/// One invocation's handle on its namespace, enforcing the operator's limits.
#[derive(Clone)]
pub struct KvBucket {
    backend: Arc<dyn KvBackend>,
    ns: Namespace,
    limits: KvLimits,
    ops: Arc<AtomicU32>,
}

/// Most keys one `keys` call returns.
pub const MAX_KEYS_LISTED: usize = 1000;

impl KvBucket {
    /// The namespace of `action` of `tenant` under `scope`.
    pub fn new(
        backend: Arc<dyn KvBackend>,
        tenant: &str,
        action: &str,
        scope: KvScope,
        limits: KvLimits,
    ) -> Self {
        let scope = match scope {
            KvScope::Tenant => String::new(),
            KvScope::Action => action.to_owned(),
        };
        Self {
            backend,
            ns: Namespace {
                tenant: tenant.to_owned(),
                scope,
            },
            limits,
            ops: Arc::default(),
        }
    }

    /// Counts one operation against the invocation's budget and checks `key`.
    fn check_key(&self, key: &str) -> Result<(), KvError> {
        self.count_op()?;
        if key.is_empty() || key.len() > self.limits.max_key_bytes || key.contains('\0') {
            return Err(KvError(format!(
                "key-value keys must be 1 to {} bytes long, without NUL characters",
                self.limits.max_key_bytes
            )));
        }
        Ok(())
    }

    fn count_op(&self) -> Result<(), KvError> {
        let limit = self.limits.max_ops_per_invocation;
        self.ops
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < limit).then_some(n + 1)
            })
            .map(drop)
            .map_err(|_| {
                KvError(format!(
                    "the action already made {limit} key-value operations, the limit per invocation"
                ))
            })
    }

    /// The value of `key`, if set.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let result = match self.check_key(key) {
            Ok(()) => self.backend.get(&self.ns, key).await,
            Err(refused) => Err(refused),
        };
        self.observed("get", result)
    }

    fn observed<T>(&self, op: &'static str, result: Result<T, KvError>) -> Result<T, KvError> {
        self.backend.observe(op, result.is_ok());
        result
    }

    /// Sets `key` to `value`.
    pub async fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        let result = self.set_checked(key, value).await;
        self.observed("set", result)
    }

    async fn set_checked(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.check_key(key)?;
        if value.len() > self.limits.max_value_bytes {
            return Err(KvError(format!(
                "value for {key:?} is {} bytes, over the limit of {} bytes",
                value.len(),
                self.limits.max_value_bytes
            )));
        }
        self.backend
            .set(&self.ns, key, value, self.limits.max_tenant_bytes)
            .await
    }

    /// Removes `key`; whether it existed.
    pub async fn delete(&self, key: &str) -> Result<bool, KvError> {
        let result = match self.check_key(key) {
            Ok(()) => self.backend.delete(&self.ns, key).await,
            Err(refused) => Err(refused),
        };
        self.observed("delete", result)
    }

    /// Adds `delta` to the integer at `key` and returns the new value.
    pub async fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        let result = match self.check_key(key) {
            Ok(()) => {
                self.backend
                    .increment(&self.ns, key, delta, self.limits.max_tenant_bytes)
                    .await
            }
            Err(refused) => Err(refused),
        };
        self.observed("increment", result)
    }

    /// Keys starting with `prefix`, sorted, skipping the first `offset`, at most
    /// [`MAX_KEYS_LISTED`].
    pub async fn keys(&self, prefix: &str, offset: usize) -> Result<Vec<String>, KvError> {
        let result = match self.count_op() {
            Ok(()) => {
                self.backend
                    .keys(&self.ns, prefix, offset, MAX_KEYS_LISTED)
                    .await
            }
            Err(refused) => Err(refused),
        };
        self.observed("keys", result)
    }

    /// The page of keys starting with `prefix` that begins at `offset`, and
    /// where the next one begins.
    pub async fn page(&self, prefix: &str, offset: usize) -> Result<KeyPage, KvError> {
        let keys = self.keys(prefix, offset).await?;
        let next = (keys.len() == MAX_KEYS_LISTED).then_some(offset + keys.len());
        Ok(KeyPage { keys, next })
    }
}

/// The message for a tenant whose key-value data is full.
pub fn quota_exceeded(max_tenant_bytes: u64) -> KvError {
    KvError(format!(
        "the tenant's key-value data would exceed {} KiB, its quota; delete keys first",
        max_tenant_bytes / 1024
    ))
}

/// The message for incrementing a value that is not an integer.
pub fn not_an_integer(key: &str) -> KvError {
    KvError(format!("the value of {key:?} is not an integer"))
}

/// The message for an increment past the 64-bit range.
pub fn would_overflow(key: &str) -> KvError {
    KvError(format!(
        "incrementing {key:?} would overflow a 64-bit integer"
    ))
}

/// The integer a stored value holds, if it is written the one way Docket writes
/// integers (`-12`, not `+12`, `012` or ` 12`): both backends agree on this.
pub fn stored_integer(value: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(value).ok()?;
    let n = text.parse::<i64>().ok()?;
    (n.to_string() == text).then_some(n)
}

/// What an entry costs against the tenant's quota.
pub fn entry_bytes(key: &str, value_len: usize) -> u64 {
    (key.len() + value_len) as u64 + ENTRY_OVERHEAD_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(backend: Arc<dyn KvBackend>, tenant: &str, action: &str, scope: KvScope) -> KvBucket {
        let limits = KvLimits {
            max_key_bytes: 16,
            max_value_bytes: 8,
            max_tenant_bytes: 35 + 5 * ENTRY_OVERHEAD_BYTES,
            max_ops_per_invocation: 30,
        };
        KvBucket::new(backend, tenant, action, scope, limits)
    }

    #[tokio::test]
    async fn namespaces_are_separate_and_limits_hold() {
        let backend: Arc<dyn KvBackend> = Arc::new(MemoryKv::default());
        let a = bucket(backend.clone(), "acme", "count", KvScope::Action);
        let shared = bucket(backend.clone(), "acme", "count", KvScope::Tenant);
        let other = bucket(backend.clone(), "globex", "count", KvScope::Action);
        assert_eq!(a.increment("n", 1).await, Ok(1));
        assert_eq!(a.increment("n", 2).await, Ok(3));
        assert_eq!(shared.get("n").await, Ok(None));
        assert_eq!(other.get("n").await, Ok(None));
        assert!(
            a.set("big", b"123456789")
                .await
                .unwrap_err()
                .0
                .contains("over the limit")
        );
        assert!(a.set("", b"x").await.is_err());
        a.set("word", b"abc").await.unwrap();
        assert!(
            a.increment("word", 1)
                .await
                .unwrap_err()
                .0
                .contains("not an integer")
        );
        // 1+1 + 4+3 = 9 bytes used, then 10 per key, plus the overhead of each.
        shared.set("k1", b"12345678").await.unwrap();
        shared.set("k2", b"12345678").await.unwrap();
        assert!(
            shared
                .set("k3", b"12345678")
                .await
                .unwrap_err()
                .0
                .contains("quota")
        );
        other.set("k3", b"12345678").await.unwrap();
        assert_eq!(a.keys("", 0).await.unwrap(), vec!["n", "word"]);
        assert_eq!(a.keys("", 1).await.unwrap(), vec!["word"]);
        assert_eq!(a.delete("n").await, Ok(true));
        assert_eq!(a.delete("n").await, Ok(false));
        assert!(a.get("a\0b").await.unwrap_err().0.contains("NUL"));
        let ints = KvBucket::new(
            backend,
            "initech",
            "count",
            KvScope::Action,
            KvLimits::default(),
        );
        ints.set("max", i64::MAX.to_string().as_bytes())
            .await
            .unwrap();
        let err = ints.increment("max", 1).await.unwrap_err().0;
        assert!(err.contains("overflow"), "{err}");
        ints.set("padded", b"05").await.unwrap();
        let err = ints.increment("padded", 1).await.unwrap_err().0;
        assert!(err.contains("not an integer"), "{err}");
    }

    #[tokio::test]
    async fn an_invocation_has_an_operation_budget() {
        let backend: Arc<dyn KvBackend> = Arc::new(MemoryKv::default());
        let a = bucket(backend.clone(), "acme", "count", KvScope::Action);
        for _ in 0..30 {
            a.get("k").await.unwrap();
        }
        let err = a.get("k").await.unwrap_err().0;
        assert!(
            err.contains("already made 30 key-value operations"),
            "{err}"
        );
        // The next invocation has its own budget.
        let b = bucket(backend, "acme", "count", KvScope::Action);
        assert_eq!(b.get("k").await, Ok(None));
    }
}
