//! A store's bounds for one invocation: the limiter (memory, tables,
//! instance counts), fuel and the epoch deadline, set before anything of
//! the guest runs, and set again ([`arm`]) for every request an instance
//! kept for reuse answers.

use super::{Engine, LimitHit, limiter};
use crate::limits::Limits;
use std::time::Instant;
use wasmtime::{Store, UpdateDeadline};

impl Engine {
    /// A store with the invocation's limits in place: memory and tables through the
    /// limiter, fuel, and the epoch deadline. Called before instantiation, because
    /// start functions run while instantiating.
    pub(super) fn new_store<T: Send + 'static>(
        &self,
        engine: &wasmtime::Engine,
        state: T,
        limits: &Limits,
        deadline: Instant,
        limiter: fn(&mut T) -> &mut limiter::GuestLimiter,
    ) -> Store<T> {
        let mut store = Store::new(engine, state);
        store.limiter(move |state| limiter(state) as &mut dyn wasmtime::ResourceLimiter);
        arm(&mut store, limits, deadline);
        store
    }
}

/// Gives a store the fuel and the deadline of one invocation. A reused
/// instance's store is armed again for each request, so no request inherits
/// what an earlier one left of its budget or its clock.
pub(super) fn arm<T: Send + 'static>(store: &mut Store<T>, limits: &Limits, deadline: Instant) {
    let fuel = if limits.fuel == 0 {
        u64::MAX
    } else {
        limits.fuel
    };
    // Fuel is enabled engine-wide, so setting it cannot fail.
    let _ = store.set_fuel(fuel);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            Err(wasmtime::Error::new(LimitHit::Timeout))
        } else {
            // Yield to the runtime at every tick so a CPU-bound guest cannot
            // starve other requests of this worker thread; yielding also
            // hands the tenant's CPU turn on (see `cpu`).
            Ok(UpdateDeadline::Yield(1))
        }
    });
}
