//! What a tenant's storage quota counts, and which versions a deploy prunes:
//! pure arithmetic, the same for every backend.

use super::{ModuleDigest, StoreError, Tenant};
use crate::names::ActionName;
use std::collections::HashMap;

/// Bytes each stored version is charged on top of its manifest and config: its
/// fixed columns, keys and index entries, so even tiny versions are not free.
pub const VERSION_ROW_OVERHEAD_BYTES: u64 = 64;

/// The text columns of a version row, serialized once for both counting and
/// writing, so the quota counts exactly what is stored.
pub(crate) struct VersionRow<'a> {
    /// The action's display name.
    pub(crate) display_name: &'a str,
    /// The manifest as uploaded.
    pub(crate) manifest: &'a str,
    /// `[limits]`, as JSON.
    pub(crate) limits: String,
    /// `[config]`, as JSON.
    pub(crate) config: String,
    /// The granted secret names, as JSON.
    pub(crate) secrets: String,
    /// The capability grants, as JSON.
    pub(crate) grants: String,
}

impl VersionRow<'_> {
    /// The bytes this row is charged, overhead included.
    pub(crate) fn stored_bytes(&self) -> u64 {
        [
            self.display_name,
            self.manifest,
            &self.limits,
            &self.config,
            &self.secrets,
            &self.grants,
        ]
        .iter()
        .map(|text| text.len() as u64)
        .sum::<u64>()
            + VERSION_ROW_OVERHEAD_BYTES
    }
}

/// One stored version, as the storage quota sees it.
pub(crate) struct StoredVersion {
    /// The action it belongs to.
    pub(crate) action: String,
    /// Its version number.
    pub(crate) version: u32,
    /// Its module's digest.
    pub(crate) module: String,
    /// Its module's size in bytes.
    pub(crate) module_size: u64,
    /// Its row's bytes, overhead included.
    pub(crate) row_bytes: u64,
}

/// The bytes `versions` keep: each distinct module once (identical bytes are
/// stored once), every row; `extra` is a module about to be added.
pub(crate) fn stored_bytes<'a>(
    versions: impl Iterator<Item = &'a StoredVersion>,
    extra: Option<(&'a str, u64)>,
) -> u64 {
    let mut modules: HashMap<&str, u64> = HashMap::new();
    let mut rows = 0;
    for v in versions {
        modules.insert(&v.module, v.module_size);
        rows += v.row_bytes;
    }
    if let Some((digest, size)) = extra {
        modules.insert(digest, size);
    }
    modules.values().sum::<u64>() + rows
}

/// Every tenant's storage use, as [`stored_bytes`] plus its secrets count
/// it, from three grouped reads: `(tenant, module size)` once per distinct
/// module a tenant keeps, `(tenant, row bytes before overhead, rows)` and
/// `(tenant, secret bytes)`. Tenants with nothing stored are absent.
pub(crate) fn usage_by_tenant(
    modules: Vec<(String, i64)>,
    rows: Vec<(String, i64, i64)>,
    secrets: Vec<(String, i64)>,
) -> HashMap<String, u64> {
    let mut usage: HashMap<String, u64> = HashMap::new();
    let positive = |n: i64| u64::try_from(n).unwrap_or(0);
    for (tenant, size) in modules {
        *usage.entry(tenant).or_default() += positive(size);
    }
    for (tenant, bytes, count) in rows {
        *usage.entry(tenant).or_default() +=
            positive(bytes) + positive(count) * VERSION_ROW_OVERHEAD_BYTES;
    }
    for (tenant, bytes) in secrets {
        *usage.entry(tenant).or_default() += positive(bytes);
    }
    usage
}

/// The versions of an action to delete so that, with the one being deployed,
/// at most `keep` remain. The version live before the deploy is first in line
/// to stay (it is what a bad deploy rolls back to), then the newest; so with
/// `keep` ≥ 2 neither the new version nor the previous live one is pruned.
pub(crate) fn versions_to_prune(existing: &[u32], live: Option<u32>, keep: u32) -> Vec<u32> {
    let room = keep.saturating_sub(1) as usize; // the new version takes one place
    let mut by_priority: Vec<u32> = live.filter(|l| existing.contains(l)).into_iter().collect();
    let mut others: Vec<u32> = existing
        .iter()
        .copied()
        .filter(|v| Some(*v) != live)
        .collect();
    others.sort_unstable_by(|a, b| b.cmp(a));
    by_priority.extend(others);
    by_priority.split_off(room.min(by_priority.len()))
}

/// A deploy about to be checked against the tenant's quotas.
pub(crate) struct PlannedDeploy<'a> {
    /// The tenant, as current as the backend's write lock makes it.
    pub(crate) tenant: &'a Tenant,
    /// The action being deployed.
    pub(crate) name: &'a ActionName,
    /// The new module's digest.
    pub(crate) digest: &'a ModuleDigest,
    /// The new module's size.
    pub(crate) size: u64,
    /// The new version row's bytes, overhead included.
    pub(crate) row_bytes: u64,
}

impl PlannedDeploy<'_> {
    /// Checks the action-count and storage quotas, counting the versions the
    /// deploy prunes, and returns those versions. `versions` is everything the
    /// tenant stores now; `secret_bytes` what its secrets take.
    pub(crate) fn check(
        &self,
        versions: &[StoredVersion],
        secret_bytes: u64,
    ) -> Result<Vec<u32>, StoreError> {
        let PlannedDeploy {
            tenant,
            name,
            digest,
            size,
            row_bytes,
        } = *self;
        if !tenant.actions.contains_key(name)
            && tenant.actions.len() as u64 >= u64::from(tenant.quotas.max_actions)
        {
            return Err(StoreError::Quota(format!(
                "the tenant has {} actions, its limit (maxActions)",
                tenant.quotas.max_actions
            )));
        }
        let existing: Vec<u32> = versions
            .iter()
            .filter(|v| v.action == name.as_str())
            .map(|v| v.version)
            .collect();
        let live = tenant.actions.get(name).map(|live| live.version);
        let pruned = versions_to_prune(&existing, live, tenant.quotas.max_versions);
        let kept = versions
            .iter()
            .filter(|v| !(v.action == name.as_str() && pruned.contains(&v.version)));
        let total = stored_bytes(kept, Some((digest.as_str(), size))) + row_bytes + secret_bytes;
        let limit = tenant.quotas.max_storage_bytes;
        if total > limit {
            return Err(StoreError::Quota(format!(
                "storing this version (a {size}-byte module, {row_bytes} bytes of manifest and \
                 config) would bring the tenant to {total} stored bytes, over its limit of \
                 {limit} bytes (maxStorageBytes); delete old actions or secrets first"
            )));
        }
        Ok(pruned)
    }
}

/// Checks that a secret of `secret_bytes` (name and ciphertext) fits the
/// tenant's storage quota beside what it stores now (`other_bytes`: versions
/// and its other secrets; a replaced secret's old bytes are not counted).
pub(crate) fn check_secret_fits(
    tenant: &Tenant,
    other_bytes: u64,
    secret_bytes: u64,
) -> Result<(), StoreError> {
    let total = other_bytes + secret_bytes;
    let limit = tenant.quotas.max_storage_bytes;
    if total > limit {
        return Err(StoreError::Quota(format!(
            "storing this secret would bring the tenant to {total} stored bytes, over its \
             limit of {limit} bytes (maxStorageBytes); delete old actions or secrets first"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_keeps_the_newest_up_to_the_quota() {
        // v1..v3 stored, v3 live, keep 3: the new version and v3, v2 stay.
        assert_eq!(versions_to_prune(&[1, 2, 3], Some(3), 3), [1]);
    }

    #[test]
    fn pruning_keeps_the_version_live_before_the_deploy() {
        // Rolled back to v1: a deploy keeps v1 (the way back) over newer v2..v4.
        let mut pruned = versions_to_prune(&[1, 2, 3, 4], Some(1), 3);
        pruned.sort_unstable();
        assert_eq!(pruned, [2, 3]);
    }

    #[test]
    fn pruning_under_the_quota_prunes_nothing() {
        assert!(versions_to_prune(&[1, 2], Some(2), 20).is_empty());
        assert!(versions_to_prune(&[], None, 1).is_empty());
    }

    #[test]
    fn keeping_one_version_keeps_only_the_new_one() {
        assert_eq!(versions_to_prune(&[1, 2], Some(2), 1), [2, 1]);
    }

    #[test]
    fn shared_modules_are_counted_once() {
        let version = |module: &str, row_bytes| StoredVersion {
            action: "a".into(),
            version: 1,
            module: module.into(),
            module_size: 1000,
            row_bytes,
        };
        let versions = [version("m1", 10), version("m1", 20), version("m2", 30)];
        assert_eq!(stored_bytes(versions.iter(), None), 2060);
        assert_eq!(stored_bytes(versions.iter(), Some(("m1", 1000))), 2060);
        assert_eq!(stored_bytes(versions.iter(), Some(("m3", 5))), 2065);
    }
}
