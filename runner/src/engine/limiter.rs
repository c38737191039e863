//! Resource limiting for one store, recording which limit a guest hit.
//!
//! wasmtime's [`StoreLimits`] does the accounting (with trap-on-grow-failure, so a
//! guest cannot ignore a refused `memory.grow` and limp on); this wrapper turns a
//! refusal into a typed [`LimitHit`] so the caller can name the limit to the user.

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

/// A limit an invocation ran into. Raised as the trap's error so it can be told
/// apart from guest bugs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LimitHit {
    /// The wall-clock deadline (`limits.timeout-ms`) passed.
    #[error("time limit")]
    Timeout,
    /// A linear memory tried to grow past `limits.memory-mb`.
    #[error("memory limit")]
    Memory,
    /// A table tried to grow past the operator's table-element limit.
    #[error("table limit")]
    Table,
    /// The instruction budget (`limits.fuel`) ran out.
    #[error("fuel limit")]
    Fuel,
    /// The guest wrote more than `limits.max-output-kb` of response.
    #[error("output limit")]
    Output,
    /// The guest recursed past the engine's wasm stack size.
    #[error("stack limit")]
    Stack,
}

/// Limits for one store; see the module docs.
pub struct GuestLimiter {
    inner: StoreLimits,
    /// Linear memory granted so far, all memories together: what an idle
    /// instance kept for reuse holds (see `reuse`).
    memory_granted: usize,
}

impl GuestLimiter {
    /// Memory and table limits for one invocation. Instance, table and memory
    /// counts are bounded per store so a component cannot multiply itself.
    pub fn new(memory_bytes: usize, table_elements: usize) -> Self {
        Self {
            inner: StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                .table_elements(table_elements)
                .instances(64)
                .tables(64)
                .memories(16)
                .trap_on_grow_failure(true)
                .build(),
            memory_granted: 0,
        }
    }

    /// Linear memory granted to the store's memories so far, in bytes.
    pub fn memory_granted(&self) -> usize {
        self.memory_granted
    }
}

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        match self.inner.memory_growing(current, desired, maximum) {
            Ok(true) => {
                self.memory_granted = self
                    .memory_granted
                    .saturating_add(desired.saturating_sub(current));
                Ok(true)
            }
            _ => Err(wasmtime::Error::new(LimitHit::Memory)),
        }
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        match self.inner.table_growing(current, desired, maximum) {
            Ok(true) => Ok(true),
            _ => Err(wasmtime::Error::new(LimitHit::Table)),
        }
    }

    // A growth the limiter allowed can still fail below it (the pool's slot is
    // smaller, the host is out of memory). Trap then too, rather than let
    // `memory.grow` return -1 to a guest that may not check.
    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        Err(wasmtime::Error::new(LimitHit::Memory))
    }

    fn table_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        Err(wasmtime::Error::new(LimitHit::Table))
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_past_the_memory_limit_is_a_typed_error() {
        let mut limiter = GuestLimiter::new(1 << 20, 100);
        assert!(limiter.memory_growing(0, 1 << 20, None).unwrap());
        assert_eq!(limiter.memory_granted(), 1 << 20);
        let err = limiter.memory_growing(1 << 20, 2 << 20, None).unwrap_err();
        assert_eq!(err.downcast_ref::<LimitHit>(), Some(&LimitHit::Memory));
    }

    #[test]
    fn growth_past_the_table_limit_is_a_typed_error() {
        let mut limiter = GuestLimiter::new(1 << 20, 100);
        let err = limiter.table_growing(0, 101, None).unwrap_err();
        assert_eq!(err.downcast_ref::<LimitHit>(), Some(&LimitHit::Table));
    }
}
