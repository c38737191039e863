//! What one tenant's running invocations share, and how each is admitted:
//! the concurrency quota, the CPU share, the tenant's and the server's guest
//! memory budgets, and the revocation token that stops them all when the
//! tenant goes (see `lifetimes.rs`). Keyed by the tenant's immutable id.

use super::App;
use crate::engine::CpuShare;
use crate::registry::Tenant;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// What one tenant's running invocations share, made on first use.
pub(super) struct TenantGates {
    /// Invocations in flight, for the concurrency quota.
    pub(super) in_flight: Arc<AtomicU32>,
    /// Turns on the CPU.
    pub(super) cpu: CpuShare,
    /// The memory budget in MiB: each running invocation holds its `memory-mb`.
    pub(super) memory: Arc<tokio::sync::Semaphore>,
    /// The budget `memory` was made with, to notice a changed quota.
    pub(super) memory_mb: u64,
    /// Cancelled when the tenant is deleted, made again or suspended: its
    /// running guests stop.
    pub(super) revoked: tokio_util::sync::CancellationToken,
}

/// How long an invocation waits for its tenant's memory budget before 429.
const MEMORY_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Why an invocation could not have the memory its limits ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MemoryRefused {
    /// More than the whole budget: it can never run.
    #[error(
        "the action's memory-mb ({need} MiB) is more than the tenant's memory budget ({budget} MiB)"
    )]
    OverBudget {
        /// The action's `memory-mb`.
        need: u64,
        /// The tenant's budget.
        budget: u64,
    },
    /// The budget stayed taken by the tenant's other running invocations.
    #[error(
        "this tenant's running actions are using its memory budget ({budget} MiB); try again shortly"
    )]
    Busy {
        /// The tenant's budget.
        budget: u64,
    },
    /// More than the server's whole budget: it can never run.
    #[error(
        "the action's memory-mb ({need} MiB) is more than the server's guest memory budget ({budget} MiB)"
    )]
    ServerOverBudget {
        /// The action's `memory-mb`.
        need: u64,
        /// The service-wide budget (`--guest-memory-budget-mb`).
        budget: u64,
    },
    /// The server's guest memory budget stayed taken by every tenant's
    /// running invocations together.
    #[error(
        "the server's running actions are using its guest memory budget ({budget} MiB); try again shortly"
    )]
    ServerBusy {
        /// The service-wide budget (`--guest-memory-budget-mb`).
        budget: u64,
    },
}

/// The service-wide guest memory budget, in MiB.
pub(super) struct GuestMemory {
    pub(super) free: Arc<tokio::sync::Semaphore>,
    pub(super) budget_mb: u64,
}

/// Guest memory reserved for one invocation, from its tenant's budget and
/// the service's; given back on drop.
pub struct MemoryReservation {
    _tenant: tokio::sync::OwnedSemaphorePermit,
    _server: tokio::sync::OwnedSemaphorePermit,
}

/// One admitted invocation: its unit of the tenant's concurrency quota
/// (released on drop) and the tenant's gates for what follows.
pub struct Admission {
    _in_flight: InFlight,
    pub(super) gates: Arc<TenantGates>,
    memory: Arc<GuestMemory>,
}

impl Admission {
    /// Reserves `memory_mb` of the tenant's memory budget and of the
    /// server's for this invocation, waiting up to a second in all for
    /// running ones to finish.
    pub async fn reserve_memory(&self, memory_mb: u64) -> Result<MemoryReservation, MemoryRefused> {
        let budget = self.gates.memory_mb;
        let need = u32::try_from(memory_mb).unwrap_or(u32::MAX);
        if memory_mb > budget {
            return Err(MemoryRefused::OverBudget {
                need: memory_mb,
                budget,
            });
        }
        if memory_mb > self.memory.budget_mb {
            return Err(MemoryRefused::ServerOverBudget {
                need: memory_mb,
                budget: self.memory.budget_mb,
            });
        }
        let deadline = tokio::time::Instant::now() + MEMORY_WAIT;
        let waiting = self.gates.memory.clone().acquire_many_owned(need);
        let tenant = match tokio::time::timeout_at(deadline, waiting).await {
            Ok(Ok(permit)) => permit,
            _ => return Err(MemoryRefused::Busy { budget }),
        };
        let server_budget = self.memory.budget_mb;
        let waiting = self.memory.free.clone().acquire_many_owned(need);
        match tokio::time::timeout_at(deadline, waiting).await {
            Ok(Ok(server)) => Ok(MemoryReservation {
                _tenant: tenant,
                _server: server,
            }),
            _ => Err(MemoryRefused::ServerBusy {
                budget: server_budget,
            }),
        }
    }
}

/// Holds one unit of a tenant's concurrency quota; released on drop.
pub struct InFlight(Arc<AtomicU32>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl App {
    /// The tenant's gates, made on first use (and afresh after a
    /// suspension ended them, or when its memory budget changed).
    pub(super) fn gates(&self, tenant: &Tenant) -> Arc<TenantGates> {
        let budget = tenant.quotas.max_memory_mb;
        let mut gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = |in_flight: Arc<AtomicU32>, cpu: CpuShare| {
            Arc::new(TenantGates {
                in_flight,
                cpu,
                memory: Arc::new(tokio::sync::Semaphore::new(budget as usize)),
                memory_mb: budget,
                revoked: self
                    .lifetimes
                    .token(tenant, self.store.tenant(tenant.name.as_str()).as_deref()),
            })
        };
        let entry = gates
            .entry(tenant.id.clone())
            .or_insert_with(|| fresh(Arc::default(), CpuShare::new(self.cpu_share)));
        if entry.revoked.is_cancelled() {
            // Resumed after a suspension that stopped everything it ran.
            *entry = fresh(Arc::default(), CpuShare::new(self.cpu_share));
        } else if entry.memory_mb != budget {
            // A changed budget applies to invocations from now on; running
            // ones release into the old one.
            *entry = fresh(entry.in_flight.clone(), entry.cpu.clone());
        }
        entry.clone()
    }

    /// The tenant's invocations running on this replica now.
    pub fn in_flight(&self, tenant: &Tenant) -> u32 {
        let gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        gates
            .get(&tenant.id)
            .map_or(0, |g| g.in_flight.load(Ordering::Acquire))
    }

    /// Admits one invocation under the tenant's concurrency quota, or `None`
    /// when it is used up. The admission carries the tenant's gates, so the
    /// request path looks them up once.
    pub fn try_enter(&self, tenant: &Tenant) -> Option<Admission> {
        let gates = self.gates(tenant);
        let counter = gates.in_flight.clone();
        // In a cluster, this replica's share of the tenant's quota.
        let limit = self.store.concurrency_share(tenant.quotas.max_concurrency);
        counter
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| Admission {
                _in_flight: InFlight(counter),
                gates,
                memory: self.memory.clone(),
            })
    }
}

impl GuestMemory {
    /// A budget of `budget_mb` MiB, capped at what a semaphore holds
    /// (2^61 MiB: no machine).
    pub(super) fn new(budget_mb: u64) -> Self {
        let budget_mb = budget_mb.min(tokio::sync::Semaphore::MAX_PERMITS as u64);
        Self {
            free: Arc::new(tokio::sync::Semaphore::new(budget_mb as usize)),
            budget_mb,
        }
    }
}
