//! Key-value data in memory, for `docket invoke` (and tests): the same
//! semantics as the registry's backends, lost when the process ends.

use super::{
    KvBackend, KvError, KvFuture, Namespace, entry_bytes, not_an_integer, quota_exceeded,
    stored_integer, would_overflow,
};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Key-value data in memory, for `docket invoke`: lost when the process ends.
#[derive(Default)]
pub struct MemoryKv {
    data: Mutex<BTreeMap<(Namespace, String), Vec<u8>>>,
}

impl MemoryKv {
    fn tenant_bytes(
        data: &BTreeMap<(Namespace, String), Vec<u8>>,
        ns: &Namespace,
        except: &str,
    ) -> u64 {
        data.iter()
            .filter(|((n, k), _)| n.tenant == ns.tenant && !(n == ns && k == except))
            .map(|((_, k), v)| entry_bytes(k, v.len()))
            .sum()
    }

    fn put(
        &self,
        ns: &Namespace,
        key: &str,
        value: Vec<u8>,
        max_tenant_bytes: u64,
    ) -> Result<(), KvError> {
        let mut data = self.data.lock().unwrap_or_else(|e| e.into_inner());
        let total = Self::tenant_bytes(&data, ns, key) + entry_bytes(key, value.len());
        if total > max_tenant_bytes {
            return Err(quota_exceeded(max_tenant_bytes));
        }
        data.insert((ns.clone(), key.to_owned()), value);
        Ok(())
    }
}

impl KvBackend for MemoryKv {
    fn get<'a>(&'a self, ns: &'a Namespace, key: &'a str) -> KvFuture<'a, Option<Vec<u8>>> {
        let data = self.data.lock().unwrap_or_else(|e| e.into_inner());
        let value = data.get(&(ns.clone(), key.to_owned())).cloned();
        Box::pin(async move { Ok(value) })
    }

    fn set<'a>(
        &'a self,
        ns: &'a Namespace,
        key: &'a str,
        value: &'a [u8],
        max_tenant_bytes: u64,
    ) -> KvFuture<'a, ()> {
        let result = self.put(ns, key, value.to_vec(), max_tenant_bytes);
        Box::pin(async move { result })
    }

    fn delete<'a>(&'a self, ns: &'a Namespace, key: &'a str) -> KvFuture<'a, bool> {
        let mut data = self.data.lock().unwrap_or_else(|e| e.into_inner());
        let existed = data.remove(&(ns.clone(), key.to_owned())).is_some();
        Box::pin(async move { Ok(existed) })
    }

    fn increment<'a>(
        &'a self,
        ns: &'a Namespace,
        key: &'a str,
        delta: i64,
        max_tenant_bytes: u64,
    ) -> KvFuture<'a, i64> {
        let result = (|| {
            let current = {
                let data = self.data.lock().unwrap_or_else(|e| e.into_inner());
                data.get(&(ns.clone(), key.to_owned())).cloned()
            };
            let current = match current {
                None => 0,
                Some(bytes) => stored_integer(&bytes).ok_or_else(|| not_an_integer(key))?,
            };
            let next = current
                .checked_add(delta)
                .ok_or_else(|| would_overflow(key))?;
            self.put(ns, key, next.to_string().into_bytes(), max_tenant_bytes)?;
            Ok(next)
        })();
        Box::pin(async move { result })
    }

    fn keys<'a>(
        &'a self,
        ns: &'a Namespace,
        prefix: &'a str,
        offset: usize,
        limit: usize,
    ) -> KvFuture<'a, Vec<String>> {
        let data = self.data.lock().unwrap_or_else(|e| e.into_inner());
        let keys = data
            .keys()
            .filter(|(n, k)| n == ns && k.starts_with(prefix))
            .map(|(_, k)| k.clone())
            .skip(offset)
            .take(limit)
            .collect();
        Box::pin(async move { Ok(keys) })
    }
}
