//! Per-tenant quotas: operator defaults, with per-tenant overrides.

use serde::{Deserialize, Serialize};

/// What one tenant may use. Every quota has a default (see [`Quotas::default`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quotas {
    /// Invocations of the tenant's actions running at once; more get a 429.
    pub max_concurrency: u32,
    /// Actions the tenant may have.
    pub max_actions: u32,
    /// Largest module the tenant may deploy, in bytes.
    pub max_module_bytes: u64,
    /// Total size of the distinct modules the tenant's versions keep, in bytes.
    pub max_storage_bytes: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            max_concurrency: 32,
            max_actions: 100,
            max_module_bytes: 32 * 1024 * 1024,
            max_storage_bytes: 512 * 1024 * 1024,
        }
    }
}

/// Per-tenant overrides; `None` keeps the operator's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuotaOverrides {
    /// Overrides [`Quotas::max_concurrency`].
    pub max_concurrency: Option<u32>,
    /// Overrides [`Quotas::max_actions`].
    pub max_actions: Option<u32>,
    /// Overrides [`Quotas::max_module_bytes`].
    pub max_module_bytes: Option<u64>,
    /// Overrides [`Quotas::max_storage_bytes`].
    pub max_storage_bytes: Option<u64>,
}

impl QuotaOverrides {
    /// The effective quotas over the operator's defaults.
    pub fn over(&self, defaults: Quotas) -> Quotas {
        Quotas {
            max_concurrency: self.max_concurrency.unwrap_or(defaults.max_concurrency),
            max_actions: self.max_actions.unwrap_or(defaults.max_actions),
            max_module_bytes: self.max_module_bytes.unwrap_or(defaults.max_module_bytes),
            max_storage_bytes: self.max_storage_bytes.unwrap_or(defaults.max_storage_bytes),
        }
    }

    /// Applies the fields set in `patch` on top of these overrides.
    pub fn merge(&self, patch: &QuotaOverrides) -> QuotaOverrides {
        QuotaOverrides {
            max_concurrency: patch.max_concurrency.or(self.max_concurrency),
            max_actions: patch.max_actions.or(self.max_actions),
            max_module_bytes: patch.max_module_bytes.or(self.max_module_bytes),
            max_storage_bytes: patch.max_storage_bytes.or(self.max_storage_bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_only_what_they_set() {
        let overrides = QuotaOverrides {
            max_actions: Some(3),
            ..QuotaOverrides::default()
        };
        let quotas = overrides.over(Quotas::default());
        assert_eq!(quotas.max_actions, 3);
        assert_eq!(quotas.max_concurrency, Quotas::default().max_concurrency);
    }
}
