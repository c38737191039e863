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
    /// Total stored bytes the tenant controls: the distinct modules its versions
    /// keep, each version's manifest and config (with a fixed overhead per
    /// version row), and its secrets (name and ciphertext). Key-value data has
    /// its own quota.
    pub max_storage_bytes: u64,
    /// Versions kept per action, at least 1. A deploy past it prunes the oldest
    /// versions; the new one and the one live before it are always kept.
    #[serde(default = "default_max_versions")]
    pub max_versions: u32,
    /// Guest memory in flight, in MiB: the sum of `memory-mb` over the
    /// tenant's running invocations. Past it invocations wait up to a second,
    /// then get a 429. An operator setting (`--tenant-max-memory-mb`).
    #[serde(default = "default_max_memory_mb")]
    pub max_memory_mb: u64,
    /// Invocation records kept, the newest; older ones are pruned (as are
    /// records past `--invocation-max-age-days`). At least 1. An operator
    /// setting (`--tenant-max-invocation-records`).
    #[serde(default = "default_max_invocation_records")]
    pub max_invocation_records: u32,
}

fn default_max_invocation_records() -> u32 {
    Quotas::default().max_invocation_records
}

fn default_max_memory_mb() -> u64 {
    Quotas::default().max_memory_mb
}

fn default_max_versions() -> u32 {
    Quotas::default().max_versions
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            max_concurrency: 32,
            max_actions: 100,
            max_module_bytes: 32 * 1024 * 1024,
            max_storage_bytes: 512 * 1024 * 1024,
            max_versions: 20,
            max_memory_mb: 1024,
            max_invocation_records: super::records::INVOCATIONS_KEPT as u32,
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
    /// Overrides [`Quotas::max_versions`].
    pub max_versions: Option<u32>,
}

impl QuotaOverrides {
    /// The effective quotas over the operator's defaults.
    pub fn over(&self, defaults: Quotas) -> Quotas {
        Quotas {
            max_concurrency: self.max_concurrency.unwrap_or(defaults.max_concurrency),
            max_actions: self.max_actions.unwrap_or(defaults.max_actions),
            max_module_bytes: self.max_module_bytes.unwrap_or(defaults.max_module_bytes),
            max_storage_bytes: self.max_storage_bytes.unwrap_or(defaults.max_storage_bytes),
            max_versions: self.max_versions.unwrap_or(defaults.max_versions),
            max_memory_mb: defaults.max_memory_mb,
            max_invocation_records: defaults.max_invocation_records,
        }
    }

    /// Refuses overrides no tenant could live with: keeping zero versions would
    /// prune the live one, and a module of zero bytes is no module (to stop a
    /// tenant's deploys, suspend it).
    pub fn check(&self) -> Result<(), String> {
        if self.max_versions == Some(0) {
            return Err("maxVersions must be at least 1 (the live version is always kept)".into());
        }
        if self.max_module_bytes == Some(0) {
            return Err(
                "maxModuleBytes must be at least 1 (to stop a tenant's deploys, suspend it)".into(),
            );
        }
        Ok(())
    }

    /// Applies the fields set in `patch` on top of these overrides.
    pub fn merge(&self, patch: &QuotaOverrides) -> QuotaOverrides {
        QuotaOverrides {
            max_concurrency: patch.max_concurrency.or(self.max_concurrency),
            max_actions: patch.max_actions.or(self.max_actions),
            max_module_bytes: patch.max_module_bytes.or(self.max_module_bytes),
            max_storage_bytes: patch.max_storage_bytes.or(self.max_storage_bytes),
            max_versions: patch.max_versions.or(self.max_versions),
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

    #[test]
    fn max_versions_override_applies_and_merges() {
        let set = QuotaOverrides {
            max_versions: Some(5),
            ..QuotaOverrides::default()
        };
        assert_eq!(set.over(Quotas::default()).max_versions, 5);
        let merged = set.merge(&QuotaOverrides::default());
        assert_eq!(merged.max_versions, Some(5));
    }

    #[test]
    fn zero_versions_kept_is_refused() {
        let zero = QuotaOverrides {
            max_versions: Some(0),
            ..QuotaOverrides::default()
        };
        assert!(zero.check().unwrap_err().contains("maxVersions"));
        assert!(QuotaOverrides::default().check().is_ok());
    }
}
