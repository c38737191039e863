//! Instance reuse for components, an explicit opt-in per action
//! (`[limits] instance-reuse = N`, default 1 = a fresh instance per request).
//!
//! With N > 1 an instance that answered a request is kept idle and may answer
//! up to N requests in all, but only requests of the same tenant incarnation
//! (its immutable id), the same action and the same version, resolved from
//! the very same tenant snapshot ([`ReuseKey`]): any change of the tenant (a
//! deploy, a rollback, a suspension, its deletion) replaces the snapshot, so
//! no request after it finds an instance from before it. The instance must
//! also come from the same compiled module and run under the same limits.
//!
//! What each request gets afresh on a reused instance is set by
//! `component::Reusable::renew`: the deadline, fuel, the stderr capture, the
//! capabilities (with their per-invocation budgets), the config and the
//! caller. What survives is the guest's own state: its globals, its linear
//! memory, the resource handles it holds.
//!
//! Only an instance whose request answered goes back: a trap, a limit hit, a
//! timeout or any other error drops it, and so does a request that is
//! cancelled (its future, which owns the instance, is dropped).
//!
//! Idle instances are bounded per version, in number and in the linear
//! memory they hold (`EngineSettings::max_idle_*`). Each keeps its pool slot
//! and its permit of `--max-instances`: live and idle instances together never
//! exceed the pool, and a request that finds no free permit evicts the oldest
//! idle instance instead of being refused ([`IdleInstances::evict_oldest`]).

use super::GuestIo;
use super::component::{ActionPre, ComponentState, Reusable};
use super::request::{ActionRequest, InvokeError, Outcome};
use crate::capabilities::Capabilities;
use crate::limits::Limits;
use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;
use tokio::sync::OwnedSemaphorePermit;

/// Which idle instances a request may take. Built by the request path from
/// the tenant snapshot the request was resolved against.
#[derive(Clone)]
pub struct ReuseKey {
    /// The tenant's immutable id, action and version: where idle instances
    /// are shelved.
    shelf: Shelf,
    /// The tenant's name, to find its current snapshot ([`ReuseKey::tenant_name`]).
    tenant_name: Arc<str>,
    /// The snapshot the request was resolved against. Held weakly, so the
    /// allocation cannot be reused by a newer snapshot while a key points to it.
    snapshot: Weak<dyn Any + Send + Sync>,
}

type Shelf = (Arc<str>, Arc<str>, u32);

impl ReuseKey {
    /// The key of a request for `version` of `action` of the tenant whose
    /// immutable id is `tenant_id`, resolved against `snapshot`.
    pub fn new<S: Any + Send + Sync>(
        tenant_id: &str,
        tenant_name: &str,
        action: &str,
        version: u32,
        snapshot: &Arc<S>,
    ) -> Self {
        let weak: Weak<S> = Arc::downgrade(snapshot);
        Self {
            shelf: (tenant_id.into(), action.into(), version),
            tenant_name: tenant_name.into(),
            snapshot: weak,
        }
    }

    /// The tenant's name.
    pub fn tenant_name(&self) -> &str {
        &self.tenant_name
    }

    /// Whether the key was made from `current`, the tenant's snapshot now.
    pub fn is_snapshot<S: Any + Send + Sync>(&self, current: &Arc<S>) -> bool {
        let current: Weak<S> = Arc::downgrade(current);
        let current: Weak<dyn Any + Send + Sync> = current;
        Weak::ptr_eq(&self.snapshot, &current)
    }

    fn same_snapshot(&self, other: &ReuseKey) -> bool {
        self.snapshot.strong_count() > 0 && Weak::ptr_eq(&self.snapshot, &other.snapshot)
    }
}

/// An instance waiting for its next request.
pub(super) struct Idle<I> {
    /// Dropped before `permit` (fields drop in order), so the pool slot is
    /// free before another request may take the permit.
    pub(super) held: I,
    pub(super) permit: OwnedSemaphorePermit,
    /// Requests it answered so far.
    pub(super) served: u32,
    key: ReuseKey,
    /// Linear memory it holds, in bytes.
    memory: usize,
    /// When it was shelved, on the shelves' clock: the oldest is evicted first.
    shelved: u64,
}

/// The idle instances of every action that opted in.
pub(super) struct IdleInstances<I> {
    shelves: Mutex<Shelves<I>>,
    max_total: usize,
    max_per_version: usize,
    max_memory: usize,
}

struct Shelves<I> {
    by_version: HashMap<Shelf, Vec<Idle<I>>>,
    count: usize,
    memory: usize,
    clock: u64,
}

impl<I> Shelves<I> {
    fn remove(&mut self, shelf: &Shelf, index: usize) -> Idle<I> {
        let idle = match self.by_version.get_mut(shelf) {
            Some(list) => list.remove(index),
            None => unreachable!("removing from a shelf that is not there"),
        };
        if self.by_version.get(shelf).is_some_and(Vec::is_empty) {
            self.by_version.remove(shelf);
        }
        self.count -= 1;
        self.memory -= idle.memory;
        idle
    }

    fn oldest(&self) -> Option<(Shelf, usize)> {
        self.by_version
            .iter()
            .flat_map(|(shelf, list)| {
                list.iter()
                    .enumerate()
                    .map(move |(i, idle)| (shelf, i, idle))
            })
            .min_by_key(|(_, _, idle)| idle.shelved)
            .map(|(shelf, i, _)| (shelf.clone(), i))
    }
}

impl<I> IdleInstances<I> {
    /// Shelves bounded to `max_total` instances, `max_per_version` of one
    /// action version, and `max_memory` bytes of linear memory in all.
    pub(super) fn new(max_total: usize, max_per_version: usize, max_memory: usize) -> Self {
        Self {
            shelves: Mutex::new(Shelves {
                by_version: HashMap::new(),
                count: 0,
                memory: 0,
                clock: 0,
            }),
            max_total,
            max_per_version,
            max_memory,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shelves<I>> {
        self.shelves.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The most recently shelved instance for `key` that `fits` (same
    /// module, same limits). Instances of the key's shelf whose snapshot is
    /// gone, or that do not fit, are dropped on the way.
    pub(super) fn take(&self, key: &ReuseKey, fits: impl Fn(&I) -> bool) -> Option<Idle<I>> {
        let mut stale = Vec::new();
        let found = {
            let mut shelves = self.lock();
            let list = shelves.by_version.get(&key.shelf)?;
            // Newest first; indices to drop are gathered in descending order,
            // so removing them one by one leaves the others' indices intact.
            let mut drop_at = Vec::new();
            let mut found_at = None;
            for (index, idle) in list.iter().enumerate().rev() {
                if idle.key.snapshot.strong_count() == 0 {
                    drop_at.push(index);
                } else if idle.key.same_snapshot(key) {
                    if fits(&idle.held) {
                        found_at = Some(index);
                        break;
                    }
                    drop_at.push(index);
                }
                // Another live snapshot: an older request's or a newer
                // one's; the sweep (`Engine::retain_idle`) decides.
            }
            for index in drop_at {
                stale.push(shelves.remove(&key.shelf, index));
            }
            found_at.map(|index| shelves.remove(&key.shelf, index))
        };
        // Dropping a store resets its pool slot: not under the lock.
        drop(stale);
        found
    }

    /// Shelves an instance that answered `served` requests for `key`,
    /// holding `memory` bytes, evicting the oldest idle ones to stay within
    /// the bounds; drops it instead when its version's shelf is full or it
    /// alone is over the memory bound.
    pub(super) fn put(
        &self,
        key: ReuseKey,
        held: I,
        permit: OwnedSemaphorePermit,
        served: u32,
        memory: usize,
    ) {
        let mut evicted = Vec::new();
        let mut shelves = self.lock();
        let on_shelf = shelves.by_version.get(&key.shelf).map_or(0, Vec::len);
        if on_shelf >= self.max_per_version || memory > self.max_memory || self.max_total == 0 {
            drop(shelves);
            drop(held);
            return;
        }
        while shelves.count >= self.max_total || shelves.memory + memory > self.max_memory {
            let Some((shelf, index)) = shelves.oldest() else {
                break;
            };
            evicted.push(shelves.remove(&shelf, index));
        }
        shelves.clock += 1;
        let shelved = shelves.clock;
        shelves.count += 1;
        shelves.memory += memory;
        shelves
            .by_version
            .entry(key.shelf.clone())
            .or_default()
            .push(Idle {
                held,
                permit,
                served,
                key,
                memory,
                shelved,
            });
        drop(shelves);
        drop(evicted);
    }

    /// Drops the oldest idle instance and hands over its permit: for a
    /// request that found every permit taken.
    pub(super) fn evict_oldest(&self) -> Option<OwnedSemaphorePermit> {
        let idle = {
            let mut shelves = self.lock();
            let (shelf, index) = shelves.oldest()?;
            shelves.remove(&shelf, index)
        };
        let Idle { held, permit, .. } = idle;
        drop(held);
        Some(permit)
    }

    /// Drops every idle instance whose key `keep` refuses.
    pub(super) fn retain(&self, keep: impl Fn(&ReuseKey) -> bool) {
        let mut dropped = Vec::new();
        {
            let mut shelves = self.lock();
            let shelves = &mut *shelves;
            for list in shelves.by_version.values_mut() {
                let (kept, gone): (Vec<_>, Vec<_>) = list.drain(..).partition(|i| keep(&i.key));
                *list = kept;
                dropped.extend(gone);
            }
            shelves.by_version.retain(|_, list| !list.is_empty());
            shelves.count -= dropped.len();
            shelves.memory -= dropped.iter().map(|i| i.memory).sum::<usize>();
        }
        drop(dropped);
    }

    /// How many instances are idle now.
    pub(super) fn count(&self) -> usize {
        self.lock().count
    }
}

impl super::Engine {
    /// Answers one request of an action that reuses its instances: on an
    /// idle instance of `key` when one fits, renewed for this request, else
    /// on a new one; shelves it again when the request answered and it has
    /// requests left.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn run_reusing(
        &self,
        pre: &Arc<ActionPre<ComponentState>>,
        key: &ReuseKey,
        limits: &Limits,
        request: &ActionRequest,
        caps: &Capabilities,
        io: &GuestIo,
        deadline: Instant,
    ) -> Result<Outcome, InvokeError> {
        let taken = self.idle.take(key, |held| held.fits(pre, limits));
        let (mut held, permit, served) = match taken {
            Some(Idle {
                mut held,
                permit,
                served,
                ..
            }) => {
                held.renew(request, caps, io, deadline);
                (held, permit, served)
            }
            None => {
                let permit = self.slot()?;
                let held =
                    Reusable::instantiate(self, pre, limits, request, caps, io, deadline).await?;
                (held, permit, 0)
            }
        };
        io.mark_instantiated();
        let answered = held.answer(request).await;
        let served = served.saturating_add(1);
        // Only an answer puts it back: after a trap, a limit hit or any
        // error the guest's state is not to be trusted (and a trapped
        // component instance refuses to be entered again).
        if answered.is_ok() && served < limits.instance_reuse {
            let memory = held.memory_granted();
            self.idle.put(key.clone(), held, permit, served, memory);
        }
        answered
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::Semaphore;

    /// A stand-in for a tenant snapshot.
    struct Snapshot;

    fn key(tenant: &str, action: &str, version: u32, snapshot: &Arc<Snapshot>) -> ReuseKey {
        ReuseKey::new(tenant, tenant, action, version, snapshot)
    }

    /// Shelves `held` under `key` with a permit of `permits`.
    fn put(
        idle: &IdleInstances<u32>,
        permits: &Arc<Semaphore>,
        key: &ReuseKey,
        held: u32,
        memory: usize,
    ) {
        let permit = permits.clone().try_acquire_owned().unwrap();
        idle.put(key.clone(), held, permit, 1, memory);
    }

    #[test]
    fn an_instance_is_taken_only_under_the_snapshot_it_was_shelved_with() {
        let (idle, permits) = (
            IdleInstances::new(8, 8, 1 << 30),
            Arc::new(Semaphore::new(8)),
        );
        let (old, new) = (Arc::new(Snapshot), Arc::new(Snapshot));
        put(&idle, &permits, &key("t1", "a", 1, &old), 7, 0);
        assert!(idle.take(&key("t1", "a", 1, &new), |_| true).is_none());
        for other in [
            key("t2", "a", 1, &old),
            key("t1", "b", 1, &old),
            key("t1", "a", 2, &old),
        ] {
            assert!(idle.take(&other, |_| true).is_none());
        }
        let taken = idle.take(&key("t1", "a", 1, &old), |_| true).unwrap();
        assert_eq!((taken.held, taken.served), (7, 1));
        assert_eq!(idle.count(), 0);
    }

    #[test]
    fn instances_of_a_dropped_snapshot_or_another_module_are_dropped_with_their_permits() {
        let (idle, permits) = (
            IdleInstances::new(8, 8, 1 << 30),
            Arc::new(Semaphore::new(8)),
        );
        let old = Arc::new(Snapshot);
        put(&idle, &permits, &key("t1", "a", 1, &old), 1, 0);
        drop(old);
        let now = Arc::new(Snapshot);
        assert!(idle.take(&key("t1", "a", 1, &now), |_| true).is_none());
        assert_eq!((idle.count(), permits.available_permits()), (0, 8));

        put(&idle, &permits, &key("t1", "a", 1, &now), 2, 0);
        assert!(idle.take(&key("t1", "a", 1, &now), |_| false).is_none());
        assert_eq!((idle.count(), permits.available_permits()), (0, 8));
    }

    #[test]
    fn the_bounds_per_version_in_total_and_in_memory_hold() {
        let permits = Arc::new(Semaphore::new(16));
        let snapshot = Arc::new(Snapshot);
        let per_version = IdleInstances::new(8, 2, 1 << 30);
        for held in 0..3 {
            put(
                &per_version,
                &permits,
                &key("t", "a", 1, &snapshot),
                held,
                0,
            );
        }
        assert_eq!((per_version.count(), permits.available_permits()), (2, 14));
        drop(per_version);

        let total = IdleInstances::new(2, 8, 1 << 30);
        for action in ["a", "b", "c"] {
            put(&total, &permits, &key("t", action, 1, &snapshot), 0, 0);
        }
        assert_eq!(total.count(), 2);
        assert!(
            total.take(&key("t", "a", 1, &snapshot), |_| true).is_none(),
            "the oldest went"
        );
        assert!(total.take(&key("t", "c", 1, &snapshot), |_| true).is_some());
        drop(total);

        let memory = IdleInstances::new(8, 8, 100);
        put(&memory, &permits, &key("t", "a", 1, &snapshot), 0, 60);
        put(&memory, &permits, &key("t", "b", 1, &snapshot), 0, 60);
        assert!(
            memory
                .take(&key("t", "a", 1, &snapshot), |_| true)
                .is_none()
        );
        put(&memory, &permits, &key("t", "c", 1, &snapshot), 0, 101);
        assert_eq!(memory.count(), 1, "one alone over the bound is not kept");
        drop(memory);
        assert_eq!(permits.available_permits(), 16);
    }

    #[test]
    fn retain_and_evict_oldest_give_the_permits_back() {
        let (idle, permits) = (
            IdleInstances::new(8, 8, 1 << 30),
            Arc::new(Semaphore::new(3)),
        );
        let (kept, gone) = (Arc::new(Snapshot), Arc::new(Snapshot));
        put(&idle, &permits, &key("t", "a", 1, &gone), 0, 0);
        put(&idle, &permits, &key("t", "a", 1, &kept), 1, 0);
        put(&idle, &permits, &key("t", "b", 1, &kept), 2, 0);
        assert_eq!(permits.available_permits(), 0);
        idle.retain(|key| key.is_snapshot(&kept));
        assert_eq!((idle.count(), permits.available_permits()), (2, 1));
        let permit = idle.evict_oldest().unwrap();
        assert_eq!(idle.count(), 1);
        assert!(
            idle.take(&key("t", "a", 1, &kept), |_| true).is_none(),
            "a was the oldest"
        );
        drop(permit);
        assert_eq!(permits.available_permits(), 2);
    }
}
