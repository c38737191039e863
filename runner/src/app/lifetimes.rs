//! Tenant-scoped state over time: the one place long-lived things of a
//! tenant register with and are revoked through
//! (docs/architecture.md#tenant-scoped-state-over-time).
//!
//! A tenant's *incarnation* is its immutable id ([`TenantId`]): deleting a
//! tenant and creating another under the same name makes a new incarnation
//! that shares nothing with the old. Each incarnation has a cancellation
//! token; what outlives a request takes a child of it:
//!
//! * the gates its invocations share (`App::gates`), so a running guest is
//!   stopped when its tenant goes;
//! * [`TenantLease`]s, held by run log streams (and whatever else keeps a
//!   response open for a tenant), which also end when the admin token they
//!   were opened with stops being the tenant's.
//!
//! [`Lifetimes::reconcile`] compares the incarnations it knows with the
//! store's snapshots (every [`RECONCILE_EVERY`], and at once when another
//! replica's change arrives) and cancels every incarnation that was deleted,
//! replaced by another of the same name, or suspended, and every lease whose
//! token was rotated away. It returns the names whose incarnation ended, so
//! the caches still keyed by name (compiled modules, compile turns, metric
//! series) drop what they hold for them.

use crate::names::TenantName;
use crate::registry::keys::KeyHash;
use crate::registry::{Tenant, TenantId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often incarnations are checked against the snapshots when nothing
/// else wakes the check: a deleted tenant's streams end well within a second.
pub(super) const RECONCILE_EVERY: Duration = Duration::from_millis(200);

/// Who opened a lease: the operator, or a holder of one of the tenant's
/// admin tokens (by its hash).
#[derive(Debug, Clone)]
pub enum Holder {
    /// The operator token, which no tenant change revokes.
    Operator,
    /// A tenant admin token: the lease ends when the token is rotated away.
    AdminToken(KeyHash),
}

/// A registered long-lived thing of one tenant incarnation. It is revoked
/// when the tenant is deleted, re-created or suspended, or when its holder's
/// token stops being the tenant's; dropping it unregisters it.
#[derive(Debug)]
pub struct TenantLease {
    token: CancellationToken,
    id: TenantId,
}

impl TenantLease {
    /// Resolves once the lease is revoked.
    pub async fn revoked(&self) {
        self.token.cancelled().await;
    }

    /// Whether the lease was revoked.
    pub fn is_revoked(&self) -> bool {
        self.token.is_cancelled()
    }

    /// The incarnation the lease belongs to.
    pub fn tenant_id(&self) -> &TenantId {
        &self.id
    }
}

impl Drop for TenantLease {
    fn drop(&mut self) {
        // Also marks it for removal from the registered leases.
        self.token.cancel();
    }
}

/// One registered lease, as the reconcile sees it.
struct Registered {
    name: TenantName,
    holder: Holder,
    token: CancellationToken,
}

/// Every known incarnation and lease.
#[derive(Default)]
pub(super) struct Lifetimes {
    inner: Mutex<Known>,
}

#[derive(Default)]
struct Known {
    /// Each tenant name's incarnation as last seen, and its token.
    incarnations: HashMap<TenantName, (TenantId, CancellationToken)>,
    /// Leases not yet dropped or revoked.
    leases: Vec<Registered>,
    /// Names whose incarnation was found replaced outside a reconcile (a
    /// tenant deleted and made again between two of them), for the next
    /// reconcile to report.
    ended: Vec<TenantName>,
}

impl Lifetimes {
    /// The token of `tenant`'s incarnation, made on first use. `current` is
    /// the store's snapshot of that name now: a `tenant` snapshot that is no
    /// longer current (deleted, or made again since it was read), or one of
    /// a suspended tenant, gets a token already cancelled, so nothing
    /// long-lived starts for it and it cannot end its successor.
    pub(super) fn token(&self, tenant: &Tenant, current: Option<&Tenant>) -> CancellationToken {
        let mut known = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Self::token_in(&mut known, tenant, current)
    }

    fn token_in(known: &mut Known, tenant: &Tenant, current: Option<&Tenant>) -> CancellationToken {
        let is_current = current.is_some_and(|now| now.id == tenant.id);
        if tenant.suspended || !is_current {
            let revoked = CancellationToken::new();
            revoked.cancel();
            return revoked;
        }
        let entry = known
            .incarnations
            .entry(tenant.name.clone())
            .or_insert_with(|| (tenant.id.clone(), CancellationToken::new()));
        if entry.0 != tenant.id {
            // A predecessor the reconcile has not ended yet: end it now, and
            // have the next reconcile report the name, so the caches keyed
            // by name forget it.
            entry.1.cancel();
            *entry = (tenant.id.clone(), CancellationToken::new());
            known.ended.push(tenant.name.clone());
        } else if entry.1.is_cancelled() {
            // The same tenant, resumed after a suspension.
            *entry = (tenant.id.clone(), CancellationToken::new());
        }
        entry.1.clone()
    }

    /// Registers a lease of `tenant` held by `holder` (`current` as for
    /// [`Lifetimes::token`]).
    pub(super) fn lease(
        &self,
        tenant: &Tenant,
        current: Option<&Tenant>,
        holder: Holder,
    ) -> TenantLease {
        let mut known = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let token = Self::token_in(&mut known, tenant, current).child_token();
        if let Holder::AdminToken(hash) = &holder
            && !tenant.admin_tokens.contains(hash)
        {
            token.cancel();
        }
        known.leases.push(Registered {
            name: tenant.name.clone(),
            holder,
            token: token.clone(),
        });
        TenantLease {
            token,
            id: tenant.id.clone(),
        }
    }

    /// Ends every incarnation no longer current (deleted, re-created or
    /// suspended) and every lease whose holder lost its token; returns the
    /// names whose incarnation was deleted or re-created. `current` finds a
    /// tenant's snapshot by name.
    pub(super) fn reconcile(
        &self,
        current: impl Fn(&TenantName) -> Option<Arc<Tenant>>,
    ) -> Vec<TenantName> {
        let mut known = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut ended = std::mem::take(&mut known.ended);
        known.incarnations.retain(|name, (id, token)| {
            let now = current(name);
            let replaced = now.as_ref().is_none_or(|t| t.id != *id);
            if replaced {
                ended.push(name.clone());
                token.cancel();
            } else if now.is_some_and(|t| t.suspended) {
                // Kept, so a deletion while suspended is still reported.
                token.cancel();
            }
            !replaced
        });
        known.leases.retain(|lease| {
            if lease.token.is_cancelled() {
                return false;
            }
            if let Holder::AdminToken(hash) = &lease.holder {
                let still_held =
                    current(&lease.name).is_some_and(|t| t.admin_tokens.contains(hash));
                if !still_held {
                    lease.token.cancel();
                    return false;
                }
            }
            true
        });
        ended
    }

    /// Leases registered and not yet revoked or dropped (as of the last reconcile).
    #[cfg(test)]
    pub(super) fn leases(&self) -> usize {
        let known = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        known.leases.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Quotas;
    use std::collections::BTreeMap;

    fn tenant(name: &str, admin: &str) -> Arc<Tenant> {
        Arc::new(Tenant {
            id: TenantId::generate(),
            name: TenantName::new(name).unwrap(),
            display_name: None,
            failure_word: "failure".into(),
            suspended: false,
            declarative: false,
            quotas: Quotas::default(),
            webhook_keys: Vec::new(),
            admin_tokens: vec![KeyHash::of(admin)],
            actions: BTreeMap::new(),
            secrets: Default::default(),
        })
    }

    /// A tenant made again under the same name is another incarnation: the
    /// old one's leases and token end, and the name is reported once.
    #[test]
    fn a_recreated_tenant_ends_the_old_incarnation() {
        let lifetimes = Lifetimes::default();
        let old = tenant("alpha", "t1");
        let lease = lifetimes.lease(&old, Some(&old), Holder::Operator);
        let gate = lifetimes.token(&old, Some(&old));
        let new = tenant("alpha", "t1");
        let ended = lifetimes.reconcile(|_| Some(new.clone()));
        assert_eq!(ended, std::slice::from_ref(&old.name));
        assert!(lease.is_revoked() && gate.is_cancelled());
        let fresh = lifetimes.lease(&new, Some(&new), Holder::Operator);
        assert!(!fresh.is_revoked());
        assert!(lifetimes.reconcile(|_| Some(new.clone())).is_empty());
        assert!(!fresh.is_revoked());
    }

    /// Suspending revokes without reporting the name (nothing keyed by it
    /// is stale); resuming starts a new token.
    #[test]
    fn suspension_revokes_and_resumption_starts_afresh() {
        let lifetimes = Lifetimes::default();
        let active = tenant("alpha", "t1");
        let lease = lifetimes.lease(&active, Some(&active), Holder::Operator);
        let mut suspended = (*active).clone();
        suspended.suspended = true;
        let suspended = Arc::new(suspended);
        assert!(lifetimes.reconcile(|_| Some(suspended.clone())).is_empty());
        assert!(lease.is_revoked());
        assert!(lifetimes.token(&suspended, Some(&suspended)).is_cancelled());
        assert!(!lifetimes.token(&active, Some(&active)).is_cancelled());
    }

    /// A lease held with an admin token ends when the token is rotated away;
    /// the operator's does not; a dropped lease is forgotten.
    #[test]
    fn rotating_the_admin_token_revokes_its_leases_only() {
        let lifetimes = Lifetimes::default();
        let before = tenant("alpha", "t1");
        let current = Some(&*before);
        let by_token = lifetimes.lease(&before, current, Holder::AdminToken(KeyHash::of("t1")));
        let by_operator = lifetimes.lease(&before, current, Holder::Operator);
        let dropped = lifetimes.lease(&before, current, Holder::Operator);
        drop(dropped);
        let mut rotated = (*before).clone();
        rotated.admin_tokens = vec![KeyHash::of("t2")];
        let rotated = Arc::new(rotated);
        lifetimes.reconcile(|_| Some(rotated.clone()));
        assert!(by_token.is_revoked());
        assert!(!by_operator.is_revoked());
        assert_eq!(lifetimes.leases(), 1);
        let stale = lifetimes.lease(
            &rotated,
            Some(&rotated),
            Holder::AdminToken(KeyHash::of("t1")),
        );
        assert!(stale.is_revoked(), "a token already gone gets no lease");
    }

    /// A stale snapshot (the tenant was made again since it was read) gets
    /// a revoked token and leaves the successor alone; a successor seen
    /// before the reconcile ends its predecessor, whose name the next
    /// reconcile reports.
    #[test]
    fn stale_snapshots_never_end_a_successor() {
        let lifetimes = Lifetimes::default();
        let old = tenant("alpha", "t1");
        let old_gate = lifetimes.token(&old, Some(&old));
        let new = tenant("alpha", "t1");
        let new_gate = lifetimes.token(&new, Some(&new));
        assert!(old_gate.is_cancelled(), "the predecessor is ended at once");
        let stale = lifetimes.lease(&old, Some(&new), Holder::Operator);
        assert!(stale.is_revoked());
        assert!(!new_gate.is_cancelled(), "a stale snapshot ends nothing");
        assert_eq!(
            lifetimes.reconcile(|_| Some(new.clone())),
            std::slice::from_ref(&old.name)
        );
        assert!(!new_gate.is_cancelled());
    }

    /// A deleted tenant's name is reported and its leases end.
    #[test]
    fn deletion_ends_everything() {
        let lifetimes = Lifetimes::default();
        let gone = tenant("alpha", "t1");
        let lease = lifetimes.lease(&gone, Some(&gone), Holder::Operator);
        assert_eq!(
            lifetimes.reconcile(|_| None),
            std::slice::from_ref(&gone.name)
        );
        assert!(lease.is_revoked());
        assert_eq!(lifetimes.leases(), 0);
    }
}
