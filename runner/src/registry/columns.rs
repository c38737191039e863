//! Rows as both SQL backends store them, decoded the same way: the derive
//! works over any sqlx row whose columns decode to these types, so SQLite and
//! PostgreSQL share the step from stored text to Docket's records.

use super::{ActionVersion, ModuleDigest, QuotaOverrides, StoreError};
use crate::names::ActionName;

/// A version row's columns (`action` named so, as the queries select it).
#[derive(sqlx::FromRow)]
pub(crate) struct VersionColumns {
    action: String,
    version: i64,
    module: String,
    display_name: String,
    limits: String,
    config: String,
    secrets: String,
    grants: String,
}

impl VersionColumns {
    /// The version, its JSON columns parsed.
    pub(crate) fn into_version(self) -> Result<ActionVersion, StoreError> {
        let corrupt = |what: &str| StoreError::Database(format!("stored {what} is unreadable"));
        Ok(ActionVersion {
            name: ActionName::new(self.action).map_err(|_| corrupt("action name"))?,
            display_name: self.display_name,
            version: self.version as u32,
            module: ModuleDigest::from_stored(self.module),
            limits: serde_json::from_str(&self.limits).map_err(|_| corrupt("limits"))?,
            config: serde_json::from_str(&self.config).map_err(|_| corrupt("config"))?,
            secrets: serde_json::from_str(&self.secrets).map_err(|_| corrupt("secrets"))?,
            grants: serde_json::from_str(&self.grants).map_err(|_| corrupt("grants"))?,
        })
    }
}

/// A tenant row's quota override columns; NULL keeps the operator's default.
#[derive(sqlx::FromRow)]
pub(crate) struct OverrideColumns {
    max_concurrency: Option<i64>,
    max_actions: Option<i64>,
    max_module_bytes: Option<i64>,
    max_storage_bytes: Option<i64>,
    max_versions: Option<i64>,
}

impl From<OverrideColumns> for QuotaOverrides {
    fn from(row: OverrideColumns) -> Self {
        QuotaOverrides {
            max_concurrency: row.max_concurrency.map(|v| v as u32),
            max_actions: row.max_actions.map(|v| v as u32),
            max_module_bytes: row.max_module_bytes.map(|v| v as u64),
            max_storage_bytes: row.max_storage_bytes.map(|v| v as u64),
            max_versions: row.max_versions.map(|v| v as u32),
        }
    }
}

/// The columns a quota override writes, in the order the queries bind them:
/// concurrency, actions, module bytes, storage bytes, versions.
pub(crate) fn override_values(o: &QuotaOverrides) -> [Option<i64>; 5] {
    [
        o.max_concurrency.map(i64::from),
        o.max_actions.map(i64::from),
        o.max_module_bytes.map(|v| v as i64),
        o.max_storage_bytes.map(|v| v as i64),
        o.max_versions.map(i64::from),
    ]
}
