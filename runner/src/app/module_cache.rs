//! The loaded modules: prepared modules by tenant and content digest, bounded
//! by the bytes their compiled images take (`--max-loaded-modules-mb`), the
//! least recently used evicted first.
//!
//! A lookup (the request path) takes the read lock and notes the time of use
//! in the entry's own atomic, written only when the millisecond changed, so
//! calls of one module never write a shared line more than a thousand times
//! a second and never wait for each other. Only an insert, which is a load,
//! takes the write lock; when it puts the cache over its bound it evicts the
//! least recently used entries (never the one it inserts) until the cache is
//! [`SLACK`] under its bound, so the sort that finds them is paid once per
//! many loads rather than at each one.
//!
//! An evicted module stays usable by the invocations that cloned it; its
//! next call loads it again from its compiled artifact.

use crate::engine::{PreparedModule, Tier};
use crate::names::TenantName;
use crate::registry::ModuleDigest;
use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A module of a tenant: never shared between tenants.
pub(super) type Key = (TenantName, ModuleDigest);

/// An eviction frees the bound's 1/`SLACK` more than it must.
const SLACK: u64 = 16;

struct Entry {
    module: PreparedModule,
    bytes: u64,
    /// When it was last used, in the cache's ticks (milliseconds).
    used: AtomicU64,
}

#[derive(Default)]
struct Entries {
    map: HashMap<Key, Entry>,
    bytes: u64,
}

/// How the cache stands after a change, for the gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Usage {
    /// Modules loaded.
    pub modules: usize,
    /// Bytes their images take.
    pub bytes: u64,
    /// Modules this change evicted.
    pub evicted: usize,
}

/// The bounded cache of loaded modules.
pub(super) struct ModuleCache {
    entries: RwLock<Entries>,
    max_bytes: u64,
    started: Instant,
}

impl ModuleCache {
    /// An empty cache holding at most `max_bytes` of compiled images (but
    /// always the module loaded last, however large).
    pub(super) fn new(max_bytes: u64) -> Self {
        Self {
            entries: RwLock::default(),
            max_bytes,
            started: Instant::now(),
        }
    }

    fn now(&self) -> u64 {
        // Starts at 1, so a tick never equals a fresh entry's 0.
        self.started.elapsed().as_millis() as u64 + 1
    }

    /// The module, noted as used now.
    pub(super) fn get(&self, key: &Key) -> Option<PreparedModule> {
        self.get_at(key, self.now())
    }

    fn get_at(&self, key: &Key, now: u64) -> Option<PreparedModule> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let entry = entries.map.get(key)?;
        // A load and a compare; the store only once per tick.
        if entry.used.load(Ordering::Relaxed) < now {
            entry.used.store(now, Ordering::Relaxed);
        }
        Some(entry.module.clone())
    }

    /// The module, without counting it as a use (background work).
    pub(super) fn peek(&self, key: &Key) -> Option<PreparedModule> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.map.get(key).map(|e| e.module.clone())
    }

    /// Whether the module is loaded (not a use).
    pub(super) fn contains(&self, key: &Key) -> bool {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.map.contains_key(key)
    }

    /// Puts a module in, used now, but never baseline code over optimized
    /// code of the same bytes; evicts past the bound.
    pub(super) fn insert(&self, key: Key, module: PreparedModule) -> Usage {
        let bytes = module.code_bytes();
        let now = self.now();
        self.insert_at(key, module, bytes, now)
    }

    fn insert_at(&self, key: Key, module: PreparedModule, bytes: u64, now: u64) -> Usage {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let optimized_already = entries
            .map
            .get(&key)
            .is_some_and(|cached| cached.module.tier() == Tier::Optimized);
        if optimized_already && module.tier() == Tier::Baseline {
            if let Some(entry) = entries.map.get(&key) {
                entry.used.store(now, Ordering::Relaxed);
            }
            return usage(&entries, 0);
        }
        let entry = Entry {
            module,
            bytes,
            used: AtomicU64::new(now),
        };
        if let Some(old) = entries.map.insert(key.clone(), entry) {
            entries.bytes -= old.bytes;
        }
        entries.bytes += bytes;
        let evicted = self.evict(&mut entries, &key);
        usage(&entries, evicted)
    }

    /// Evicts the least recently used entries other than `keep` while the
    /// cache is over its bound, down to [`SLACK`] under it.
    fn evict(&self, entries: &mut Entries, keep: &Key) -> usize {
        if entries.bytes <= self.max_bytes {
            return 0;
        }
        let target = self.max_bytes - self.max_bytes / SLACK;
        let mut by_use: Vec<(u64, Key)> = entries
            .map
            .iter()
            .filter(|(key, _)| *key != keep)
            .map(|(key, e)| (e.used.load(Ordering::Relaxed), key.clone()))
            .collect();
        by_use.sort_unstable_by_key(|(used, _)| *used);
        let mut evicted = 0;
        for (_, key) in by_use {
            if entries.bytes <= target {
                break;
            }
            if let Some(gone) = entries.map.remove(&key) {
                entries.bytes -= gone.bytes;
                evicted += 1;
            }
        }
        evicted
    }

    /// Puts optimized code in place of the baseline code of a loaded module;
    /// false when it is not loaded (evicted, or no longer live) or optimized
    /// already.
    pub(super) fn replace_baseline(&self, key: &Key, optimized: PreparedModule) -> (bool, Usage) {
        let bytes = optimized.code_bytes();
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let replaced = match entries.map.get_mut(key) {
            Some(cached) if cached.module.tier() == Tier::Baseline => {
                let old = std::mem::replace(&mut cached.bytes, bytes);
                cached.module = optimized;
                entries.bytes = entries.bytes - old + bytes;
                true
            }
            _ => false,
        };
        let evicted = if replaced {
            self.evict(&mut entries, key)
        } else {
            0
        };
        (replaced, usage(&entries, evicted))
    }

    /// Keeps only the modules `keep` says yes to.
    pub(super) fn retain(&self, mut keep: impl FnMut(&Key) -> bool) -> Usage {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let mut freed = 0;
        entries.map.retain(|key, entry| {
            let kept = keep(key);
            if !kept {
                freed += entry.bytes;
            }
            kept
        });
        entries.bytes -= freed;
        usage(&entries, 0)
    }

    /// How many loaded modules run baseline code and how many optimized code.
    pub(super) fn by_tier(&self) -> (usize, usize) {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let baseline = entries
            .map
            .values()
            .filter(|e| e.module.tier() == Tier::Baseline)
            .count();
        (baseline, entries.map.len() - baseline)
    }

    /// Whether the cache holds as much as an eviction leaves: loading more
    /// would evict something.
    pub(super) fn full(&self) -> bool {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.bytes >= self.max_bytes - self.max_bytes / SLACK
    }
}

fn usage(entries: &Entries, evicted: usize) -> Usage {
    Usage {
        modules: entries.map.len(),
        bytes: entries.bytes,
        evicted,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, EngineSettings};
    use std::sync::{Arc, OnceLock};

    /// One small prepared module per tier; what the cache holds does not
    /// depend on which module it is.
    fn module(tier: Tier) -> PreparedModule {
        static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
        let engine =
            ENGINE.get_or_init(|| Arc::new(Engine::new(EngineSettings::default()).unwrap()));
        let bytes =
            wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "_start")))"#)
                .unwrap();
        let abi = engine.check(&bytes).unwrap();
        engine.compile_checked(&bytes, abi, tier).unwrap()
    }

    fn key(tenant: &str, digest: &str) -> Key {
        (
            TenantName::new(tenant).unwrap(),
            ModuleDigest::from_stored(digest.to_owned()),
        )
    }

    fn loaded(cache: &ModuleCache) -> Vec<String> {
        let entries = cache.entries.read().unwrap();
        let mut keys: Vec<String> = entries
            .map
            .keys()
            .map(|(t, d)| format!("{t}/{d}"))
            .collect();
        keys.sort();
        keys
    }

    /// Past the bound the least recently used go first, a use counts as
    /// much as a load, and the bytes follow.
    #[test]
    fn the_least_recently_used_are_evicted_past_the_bound() {
        let cache = ModuleCache::new(100);
        let m = module(Tier::Optimized);
        for (n, name) in ["a", "b", "c"].into_iter().enumerate() {
            let usage = cache.insert_at(key("t", name), m.clone(), 30, n as u64 + 1);
            assert_eq!(usage.evicted, 0);
        }
        // `a` is used again: `b` is now the least recently used.
        assert!(cache.get_at(&key("t", "a"), 10).is_some());
        let usage = cache.insert_at(key("t", "d"), m.clone(), 30, 11);
        assert_eq!(
            usage,
            Usage {
                modules: 3,
                bytes: 90,
                evicted: 1
            }
        );
        assert_eq!(loaded(&cache), ["t/a", "t/c", "t/d"]);
        // Past the bound again, eviction goes down to the slack under it:
        // 100 - 100/16 = 94, so one 30-byte module is enough.
        let usage = cache.insert_at(key("t", "e"), m.clone(), 30, 12);
        assert_eq!((usage.evicted, usage.bytes), (1, 90));
        assert_eq!(loaded(&cache), ["t/a", "t/d", "t/e"]);
    }

    /// A module larger than the whole bound still loads (alone), evicting
    /// everything else; the next load evicts it in turn.
    #[test]
    fn a_module_over_the_bound_is_kept_alone() {
        let cache = ModuleCache::new(100);
        let m = module(Tier::Optimized);
        cache.insert_at(key("t", "a"), m.clone(), 40, 1);
        cache.insert_at(key("t", "b"), m.clone(), 40, 2);
        let usage = cache.insert_at(key("t", "huge"), m.clone(), 500, 3);
        assert_eq!((usage.modules, usage.bytes, usage.evicted), (1, 500, 2));
        assert!(cache.get_at(&key("t", "huge"), 4).is_some());
        let usage = cache.insert_at(key("t", "c"), m.clone(), 40, 5);
        assert_eq!((usage.modules, usage.bytes, usage.evicted), (1, 40, 1));
    }

    /// Tenants never share an entry: the same digest is one module per tenant.
    #[test]
    fn the_same_digest_is_one_entry_per_tenant() {
        let cache = ModuleCache::new(1000);
        let m = module(Tier::Optimized);
        cache.insert_at(key("acme", "d"), m.clone(), 10, 1);
        assert!(cache.get_at(&key("globex", "d"), 2).is_none());
        let usage = cache.insert_at(key("globex", "d"), m.clone(), 10, 3);
        assert_eq!((usage.modules, usage.bytes), (2, 20));
        let usage = cache.retain(|(tenant, _)| tenant.as_str() != "acme");
        assert_eq!((usage.modules, usage.bytes), (1, 10));
        assert_eq!(loaded(&cache), ["globex/d"]);
    }

    /// Baseline code never replaces optimized code of the same module, and
    /// optimized code replaces baseline code only while it is loaded.
    #[test]
    fn tiers_only_move_up_and_only_while_loaded() {
        let cache = ModuleCache::new(1000);
        let (baseline, optimized) = (module(Tier::Baseline), module(Tier::Optimized));
        let k = key("t", "m");
        assert!(
            !cache.replace_baseline(&k, optimized.clone()).0,
            "not loaded"
        );
        cache.insert_at(k.clone(), baseline.clone(), 10, 1);
        assert_eq!(cache.by_tier(), (1, 0));
        assert!(cache.replace_baseline(&k, optimized.clone()).0);
        assert_eq!(cache.by_tier(), (0, 1));
        assert!(
            !cache.replace_baseline(&k, optimized).0,
            "optimized already"
        );
        cache.insert_at(k.clone(), baseline, 10, 2);
        assert_eq!(cache.peek(&k).unwrap().tier(), Tier::Optimized);
    }

    /// A lookup notes its use at most once per tick, and `peek` not at all.
    #[test]
    fn uses_are_noted_by_lookups_not_peeks() {
        let cache = ModuleCache::new(1000);
        let m = module(Tier::Optimized);
        let k = key("t", "m");
        cache.insert_at(k.clone(), m, 10, 5);
        let used = |cache: &ModuleCache| {
            cache.entries.read().unwrap().map[&k]
                .used
                .load(Ordering::Relaxed)
        };
        cache.peek(&k);
        assert_eq!(used(&cache), 5);
        cache.get_at(&k, 9);
        assert_eq!(used(&cache), 9);
        cache.get_at(&k, 7);
        assert_eq!(used(&cache), 9, "never back in time");
    }
}
