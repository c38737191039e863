//! [`ObservedKv`]: a key-value backend that counts the operations actions
//! make, for the metrics, traces each (a `kv` span with its `op`), and passes
//! everything else to the store.

use super::{KvBackend, KvFuture, Namespace};
use crate::metrics::Metrics;
use std::sync::Arc;
use tracing::Instrument;

/// `future` inside a `kv` span naming the operation.
fn traced<'a, T: 'a>(op: &'static str, future: KvFuture<'a, T>) -> KvFuture<'a, T> {
    Box::pin(future.instrument(tracing::debug_span!("kv", op)))
}

/// Wraps the service's key-value backend (see `App::new`), so every
/// invocation's bucket reports to the service's metrics without the
/// capability knowing where they go.
pub struct ObservedKv {
    inner: Arc<dyn KvBackend>,
    metrics: Arc<Metrics>,
}

impl ObservedKv {
    /// `inner`, counted in `metrics`.
    pub fn new(inner: Arc<dyn KvBackend>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

impl KvBackend for ObservedKv {
    fn get<'a>(&'a self, ns: &'a Namespace, key: &'a str) -> KvFuture<'a, Option<Vec<u8>>> {
        traced("get", self.inner.get(ns, key))
    }

    fn set<'a>(
        &'a self,
        ns: &'a Namespace,
        key: &'a str,
        value: &'a [u8],
        max_tenant_bytes: u64,
    ) -> KvFuture<'a, ()> {
        traced("set", self.inner.set(ns, key, value, max_tenant_bytes))
    }

    fn delete<'a>(&'a self, ns: &'a Namespace, key: &'a str) -> KvFuture<'a, bool> {
        traced("delete", self.inner.delete(ns, key))
    }

    fn increment<'a>(
        &'a self,
        ns: &'a Namespace,
        key: &'a str,
        delta: i64,
        max_tenant_bytes: u64,
    ) -> KvFuture<'a, i64> {
        traced(
            "increment",
            self.inner.increment(ns, key, delta, max_tenant_bytes),
        )
    }

    fn keys<'a>(
        &'a self,
        ns: &'a Namespace,
        prefix: &'a str,
        offset: usize,
        limit: usize,
    ) -> KvFuture<'a, Vec<String>> {
        traced("keys", self.inner.keys(ns, prefix, offset, limit))
    }

    fn observe(&self, op: &'static str, ok: bool) {
        self.metrics.kv(op, ok);
    }
}
