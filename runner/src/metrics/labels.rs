//! The label sets of Docket's metrics. Tenant and action values are the
//! capped [`Series`] names (shared `Arc<str>`s, so building a label set
//! copies no text); every other value is a `&'static str` from a fixed set.

use prometheus_client::encoding::EncodeLabelSet;
use std::sync::Arc;

/// The tenant and action labels of one (tenant, action) pair, or `_other`
/// for both past the cap. Made by [`super::Metrics::series`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Series {
    pub(super) tenant: Arc<str>,
    pub(super) action: Arc<str>,
}

impl Series {
    /// The tenant label.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The action label.
    pub fn action(&self) -> &str {
        &self.action
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct InvocationLabels {
    tenant: Arc<str>,
    action: Arc<str>,
    outcome: &'static str,
}

impl InvocationLabels {
    pub(super) fn new(series: &Series, outcome: &'static str) -> Self {
        Self {
            tenant: series.tenant.clone(),
            action: series.action.clone(),
            outcome,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct SeriesLabels {
    tenant: Arc<str>,
    action: Arc<str>,
}

impl SeriesLabels {
    pub(super) fn new(series: &Series) -> Self {
        Self {
            tenant: series.tenant.clone(),
            action: series.action.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct TenantLabels {
    tenant: Arc<str>,
}

impl TenantLabels {
    pub(super) fn new(series: &Series) -> Self {
        Self {
            tenant: series.tenant.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct RefusedLabels {
    tenant: Arc<str>,
    reason: &'static str,
}

impl RefusedLabels {
    pub(super) fn new(series: &Series, reason: &'static str) -> Self {
        Self {
            tenant: series.tenant.clone(),
            reason,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct KindLabels {
    pub(super) kind: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct OutcomeLabels {
    pub(super) outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct KvLabels {
    pub(super) op: &'static str,
    pub(super) result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct SourceLabels {
    pub(super) source: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct CompileLabels {
    pub(super) outcome: &'static str,
    pub(super) tier: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct ChangeLabels {
    pub(super) kind: &'static str,
    pub(super) outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub(super) struct TierLabels {
    pub(super) tier: &'static str,
}
