//! The shared storage suite's key-value case.

use super::tenant;
use crate::capabilities::kv::{ENTRY_OVERHEAD_BYTES, KvBackend, KvBucket, KvLimits, KvScope};
use crate::registry::{QuotaOverrides, Storage};
use std::sync::Arc;

fn bucket(backend: &Arc<dyn KvBackend>, action: &str, quota: u64) -> KvBucket {
    let limits = KvLimits {
        max_tenant_bytes: quota,
        ..KvLimits::default()
    };
    KvBucket::new(backend.clone(), "acme", action, KvScope::Action, limits)
}

/// Key-value data: quota in bytes (not characters), replacements not double
/// counted, literal prefixes, and integers exact to the 64-bit edge. Takes
/// the store as a key-value backend, since that is how buckets hold it.
pub(in crate::registry::conformance) async fn kv_counts_bytes_and_keeps_integers_exact(
    store: Arc<dyn Storage>,
) {
    store
        .create_tenant(&tenant("acme"), None, QuotaOverrides::default())
        .await
        .unwrap();
    let backend: Arc<dyn KvBackend> = store;
    let kv = bucket(&backend, "a", 3 * (ENTRY_OVERHEAD_BYTES + 10));
    kv.set("k1", "ééééé".as_bytes()).await.unwrap(); // 2 + 10 bytes
    assert_eq!(kv.get("k1").await.unwrap().unwrap(), "ééééé".as_bytes());
    kv.set("k1", b"12345678").await.unwrap(); // replacing is not double-counted
    kv.set("k2", b"12345678").await.unwrap();
    kv.set("k3", b"12345678").await.unwrap();
    let err = kv.set("k4", b"1").await.unwrap_err().0;
    assert!(err.contains("quota"), "{err}");
    // Multi-byte keys count their bytes, not their characters.
    let other = bucket(&backend, "b", 0);
    assert!(other.set("é", b"").await.unwrap_err().0.contains("quota"));
    assert_eq!(kv.keys("k", 1).await.unwrap(), vec!["k2", "k3"]);
    assert_eq!(kv.keys("%", 0).await.unwrap(), Vec::<String>::new());

    let roomy = bucket(&backend, "c", 1 << 20);
    assert_eq!(roomy.increment("n", 5).await, Ok(5));
    assert_eq!(roomy.increment("n", -7).await, Ok(-2));
    roomy
        .set("max", i64::MAX.to_string().as_bytes())
        .await
        .unwrap();
    let err = roomy.increment("max", 1).await.unwrap_err().0;
    assert!(err.contains("overflow"), "{err}");
    assert_eq!(
        roomy.get("max").await.unwrap().unwrap(),
        i64::MAX.to_string().as_bytes()
    );
    for bad in [&b"05"[..], b"+5", b" 5", b"five", b"1.5"] {
        roomy.set("bad", bad).await.unwrap();
        let err = roomy.increment("bad", 1).await.unwrap_err().0;
        assert!(err.contains("not an integer"), "{bad:?}: {err}");
    }
}
