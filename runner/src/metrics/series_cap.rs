//! The cap on named series: which (tenant, action) pairs get their own
//! labels, within the global cap and each tenant's share.

use super::{OTHER, Series};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The names given their own series: at most `max` (tenant, action) pairs,
/// of which one tenant names at most `per_tenant`, first come, first served.
/// A tenant past its share is counted under `action="_other"` with its own
/// name, so one tenant with many actions never takes every other tenant's
/// series; past the global cap, under `_other` for both. A name keeps its
/// series while its tenant lives; a deleted tenant's are forgotten.
pub(super) struct SeriesCap {
    max: usize,
    per_tenant: usize,
    known: RwLock<Known>,
    pub(super) other: Series,
}

#[derive(Default)]
struct Known {
    /// Tenant → action → labels. Nested so a lookup borrows `&str`s
    /// instead of building an owned key.
    tenants: HashMap<Arc<str>, HashMap<Arc<str>, Series>>,
    pairs: usize,
}

/// What [`SeriesCap::pair`] decides for a name it has not named yet.
enum Named {
    /// A series that exists (the pair's, or what it is counted under).
    Found(Series),
    /// A new series for this action (the given one, or `_other` past the
    /// tenant's share).
    Make(bool),
}

impl Known {
    fn decide(&self, cap: &SeriesCap, tenant: &str, action: &str) -> Named {
        let actions = self.tenants.get(tenant);
        if let Some(series) = actions.and_then(|a| a.get(action)) {
            return Named::Found(series.clone());
        }
        let named = actions.map_or(0, |a| a.len() - usize::from(a.contains_key(OTHER)));
        let past_share = named >= cap.per_tenant;
        if past_share && let Some(series) = actions.and_then(|a| a.get(OTHER)) {
            return Named::Found(series.clone());
        }
        if self.pairs >= cap.max {
            return Named::Found(cap.other.clone());
        }
        Named::Make(past_share)
    }
}

impl SeriesCap {
    pub(super) fn new(max: usize, per_tenant: usize) -> Self {
        let other: Arc<str> = Arc::from(OTHER);
        Self {
            max,
            per_tenant: per_tenant.min(max),
            known: RwLock::default(),
            other: Series {
                tenant: other.clone(),
                action: other,
            },
        }
    }

    pub(super) fn pair(&self, tenant: &str, action: &str) -> Series {
        {
            let known = self.known.read().unwrap_or_else(|e| e.into_inner());
            if let Named::Found(series) = known.decide(self, tenant, action) {
                return series;
            }
        }
        let mut known = self.known.write().unwrap_or_else(|e| e.into_inner());
        let past_share = match known.decide(self, tenant, action) {
            Named::Found(series) => return series,
            Named::Make(past_share) => past_share,
        };
        known.pairs += 1;
        let tenant_name = match known.tenants.get_key_value(tenant) {
            Some((name, _)) => name.clone(),
            None => Arc::from(tenant),
        };
        let series = Series {
            tenant: tenant_name.clone(),
            action: if past_share {
                self.other.action.clone()
            } else {
                Arc::from(action)
            },
        };
        known
            .tenants
            .entry(tenant_name)
            .or_default()
            .insert(series.action.clone(), series.clone());
        series
    }

    /// Forgets a tenant's names; returns the series it had.
    pub(super) fn forget(&self, tenant: &str) -> Vec<Series> {
        let mut known = self.known.write().unwrap_or_else(|e| e.into_inner());
        let Some(actions) = known.tenants.remove(tenant) else {
            return Vec::new();
        };
        known.pairs -= actions.len();
        actions.into_values().collect()
    }
}
