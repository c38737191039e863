//! Rows as both SQL backends store them, decoded the same way: the derive
//! works over any sqlx row whose columns decode to these types, so SQLite and
//! PostgreSQL share the step from stored text to Docket's records.

use super::records::{
    ActionInfo, CredentialInfo, InvocationQuery, InvocationRecord, NewInvocation, SecretInfo,
    VersionInfo, rfc3339,
};
use super::storage_quota::{StoredVersion, VERSION_ROW_OVERHEAD_BYTES};
use super::{ActionVersion, ModuleDigest, QuotaOverrides, StoreError};
use crate::names::ActionName;
use std::collections::BTreeMap;

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

/// A webhook key's listed columns.
#[derive(sqlx::FromRow)]
pub(crate) struct CredentialColumns {
    id: String,
    hint: String,
    created_ms: i64,
}

impl From<CredentialColumns> for CredentialInfo {
    fn from(row: CredentialColumns) -> Self {
        CredentialInfo {
            id: row.id,
            hint: row.hint,
            created_at: rfc3339(row.created_ms),
        }
    }
}

/// A secret's listed columns (never its value).
#[derive(sqlx::FromRow)]
pub(crate) struct SecretColumns {
    name: String,
    updated_ms: i64,
}

impl From<SecretColumns> for SecretInfo {
    fn from(row: SecretColumns) -> Self {
        SecretInfo {
            name: row.name,
            updated_at: rfc3339(row.updated_ms),
        }
    }
}

/// An action's listed columns: `n` is its number of versions.
#[derive(sqlx::FromRow)]
pub(crate) struct ActionColumns {
    name: String,
    display_name: String,
    live_version: i64,
    n: i64,
}

impl From<ActionColumns> for ActionInfo {
    fn from(row: ActionColumns) -> Self {
        ActionInfo {
            name: row.name,
            display_name: row.display_name,
            live_version: row.live_version as u32,
            versions: row.n as u32,
        }
    }
}

/// A version's listed columns, with its module's size and ABI.
#[derive(sqlx::FromRow)]
pub(crate) struct VersionListColumns {
    version: i64,
    module: String,
    created_ms: i64,
    size: i64,
    abi: String,
}

impl VersionListColumns {
    /// The listing, marked live when it is the `live` version.
    pub(crate) fn into_info(self, live: u32) -> VersionInfo {
        let version = self.version as u32;
        VersionInfo {
            version,
            hash: self.module,
            size: self.size as u64,
            abi: self.abi,
            created_at: rfc3339(self.created_ms),
            live: version == live,
        }
    }
}

/// A stored version as the storage quota counts it; `row_bytes` without
/// the per-row overhead.
#[derive(sqlx::FromRow)]
pub(crate) struct StoredVersionColumns {
    action: String,
    version: i64,
    module: String,
    size: i64,
    row_bytes: i64,
}

impl From<StoredVersionColumns> for StoredVersion {
    fn from(row: StoredVersionColumns) -> Self {
        StoredVersion {
            action: row.action,
            version: row.version as u32,
            module: row.module,
            module_size: row.size as u64,
            row_bytes: row.row_bytes as u64 + VERSION_ROW_OVERHEAD_BYTES,
        }
    }
}

/// An invocation record's columns.
#[derive(sqlx::FromRow)]
pub(crate) struct InvocationColumns {
    id: i64,
    action: String,
    version: i64,
    request_id: String,
    at_ms: i64,
    outcome: String,
    duration_ms: i64,
    limit_hit: Option<String>,
    stderr: Option<String>,
    detail: Option<String>,
}

impl From<InvocationColumns> for InvocationRecord {
    fn from(row: InvocationColumns) -> Self {
        InvocationRecord {
            id: row.id,
            time: rfc3339(row.at_ms),
            action: row.action,
            version: row.version as u32,
            outcome: row.outcome,
            ms: row.duration_ms as u64,
            limit_hit: row.limit_hit,
            request_id: row.request_id,
            stderr: row.stderr,
            // Records written before the detail existed, or unreadable, have none.
            detail: row
                .detail
                .and_then(|json| serde_json::from_str(&json).ok())
                .unwrap_or_default(),
        }
    }
}

/// The columns [`InvocationColumns`] decodes, as the queries select them: a
/// record's id is its number within its tenant (`seq`), never the table's
/// row id, which counts every tenant's records.
pub(crate) const INVOCATION_COLUMNS: &str = "seq AS id, action, version, request_id, at_ms, \
     outcome, duration_ms, limit_hit, stderr, detail";

/// How many records of each tenant (name and id) a batch holds, ordered by
/// name: each backend reserves that many numbers per tenant, in this order,
/// so two replicas writing batches lock tenants in the same order.
pub(crate) fn batch_tenants(batch: &[NewInvocation]) -> Vec<(&str, &str, i64)> {
    let mut counts: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for record in batch {
        *counts
            .entry((record.tenant.as_str(), record.tenant_id.as_str()))
            .or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((name, id), n)| (name, id, n))
        .collect()
}

/// The batch's records with their numbers within their tenant, in batch
/// order, given the first number reserved for each (tenant name, id);
/// records of tenants without a reservation (deleted, or deleted and made
/// again) are left out.
pub(crate) fn number_records<'a>(
    batch: &'a [NewInvocation],
    mut first: BTreeMap<(&'a str, &'a str), i64>,
) -> Vec<(&'a NewInvocation, i64)> {
    batch
        .iter()
        .filter_map(|record| {
            let next = first.get_mut(&(record.tenant.as_str(), record.tenant_id.as_str()))?;
            let seq = *next;
            *next += 1;
            Some((record, seq))
        })
        .collect()
}

/// Reserves `count` numbers for a tenant's records, if the tenant of that
/// name still has that id: the statement's result is the last number
/// reserved (the same SQL for both backends).
pub(crate) fn reserve_numbers<'a, DB>(
    sql: &mut sqlx::QueryBuilder<'a, DB>,
    name: &'a str,
    id: &'a str,
    count: i64,
) where
    DB: sqlx::Database,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    sql.push("UPDATE tenants SET invocation_seq = invocation_seq + ")
        .push_bind(count)
        .push(" WHERE name = ")
        .push_bind(name)
        .push(" AND uid = ")
        .push_bind(id)
        .push(" RETURNING invocation_seq");
}

/// Appends `SELECT … FROM invocations WHERE …` for one tenant's records
/// matching `query`, ordered and limited, to an empty query builder: the same
/// SQL for both backends, placeholders being the builder's concern.
pub(crate) fn select_invocations<'a, DB>(
    sql: &mut sqlx::QueryBuilder<'a, DB>,
    tenant: &'a str,
    query: &'a InvocationQuery,
) where
    DB: sqlx::Database,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    sql.push(format_args!(
        "SELECT {INVOCATION_COLUMNS} FROM invocations WHERE tenant = "
    ))
    .push_bind(tenant);
    if let Some(id) = &query.tenant_id {
        sql.push(" AND tenant IN (SELECT name FROM tenants WHERE uid = ")
            .push_bind(id.as_str())
            .push(")");
    }
    let texts = [
        (" AND action = ", &query.action),
        (" AND outcome = ", &query.outcome),
        (" AND request_id = ", &query.request_id),
    ];
    for (clause, value) in texts {
        if let Some(value) = value {
            sql.push(clause).push_bind(value.as_str());
        }
    }
    let numbers = [
        (" AND at_ms >= ", query.since_ms),
        (" AND at_ms <= ", query.until_ms),
        (" AND seq < ", query.before),
        (" AND seq > ", query.after),
    ];
    for (clause, value) in numbers {
        if let Some(value) = value {
            sql.push(clause).push_bind(value);
        }
    }
    let order = if query.after.is_some() { "ASC" } else { "DESC" };
    sql.push(format_args!(" ORDER BY seq {order} LIMIT "))
        .push_bind(i64::from(query.limit));
}

/// Decoded rows, converted to the records the traits return.
pub(crate) fn records<C, T: From<C>>(rows: Vec<C>) -> Vec<T> {
    rows.into_iter().map(T::from).collect()
}
