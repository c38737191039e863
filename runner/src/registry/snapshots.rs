//! Loading tenants' snapshots, the same for both SQL backends: one query per
//! table (tenants, credentials, live versions, secrets), for one tenant or
//! for every tenant at once, and the rows grouped into [`Tenant`]s here.
//!
//! A start loads every tenant with the four set-based queries rather than
//! four queries per tenant: at 10,000 tenants that is 4 round trips instead
//! of 40,000, the difference between a start in milliseconds and one in
//! seconds. A write reloads only its tenant with the same queries filtered
//! by name (each filtered query uses the table's index on `tenant`). The
//! queries are written once here with `?` placeholders, numbered for
//! PostgreSQL by [`Dialect::sql`](super::shared_sql::Dialect::sql), and run by
//! [`snapshot_loading!`], which expands to the same method in both backends.

use super::columns::{OverrideColumns, VersionColumns};
use super::keys::KeyHash;
use super::secrets::SecretBox;
use super::{Quotas, SecretValues, StoreError, Tenant, TenantId};
use crate::names::TenantName;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The tenant columns a snapshot needs, as a literal for `concat!` (the
/// PostgreSQL backend adds its `generation`).
macro_rules! tenant_columns {
    () => {
        "name, uid, display_name, failure_word, suspended, declarative, max_concurrency, \
         max_actions, max_module_bytes, max_storage_bytes, max_versions"
    };
}

pub(crate) use tenant_columns;

/// One query in its two forms: over every tenant, and over the one bound.
pub(crate) struct SnapshotQuery {
    /// Every tenant's rows (no placeholder).
    pub(crate) all: &'static str,
    /// One tenant's rows (one placeholder, the tenant's name).
    pub(crate) one: &'static str,
}

/// Webhook keys and admin tokens (hashes only).
pub(crate) const CREDENTIALS: SnapshotQuery = SnapshotQuery {
    all: "SELECT tenant, kind, hash FROM credentials",
    one: "SELECT tenant, kind, hash FROM credentials WHERE tenant = ?",
};

/// Each action's live version.
///
/// `CROSS JOIN` with the condition in `WHERE` is an inner join to both
/// databases, but SQLite takes its tables in the order written: every
/// action, then its live version by the versions' primary key. Left to
/// choose, SQLite scanned every version instead (all of them, not only the
/// live ones), and at 100,000 actions that query was most of the start's
/// second and a half.
pub(crate) const LIVE_VERSIONS: SnapshotQuery = SnapshotQuery {
    all: "SELECT v.tenant, v.action, v.version, v.module, v.display_name, v.limits, v.config, \
          v.secrets, v.grants FROM actions a CROSS JOIN versions v \
          WHERE v.tenant = a.tenant AND v.action = a.name AND v.version = a.live_version",
    one: "SELECT v.tenant, v.action, v.version, v.module, v.display_name, v.limits, v.config, \
          v.secrets, v.grants FROM actions a CROSS JOIN versions v \
          WHERE v.tenant = a.tenant AND v.action = a.name AND v.version = a.live_version \
          AND a.tenant = ?",
};

/// Sealed secrets, opened while grouping.
pub(crate) const SECRETS: SnapshotQuery = SnapshotQuery {
    all: "SELECT tenant, name, nonce, ciphertext FROM secrets",
    one: "SELECT tenant, name, nonce, ciphertext FROM secrets WHERE tenant = ?",
};

/// A tenant row's columns.
#[derive(sqlx::FromRow)]
pub(crate) struct TenantColumns {
    name: String,
    uid: String,
    display_name: Option<String>,
    failure_word: String,
    // INTEGER in SQLite, BOOLEAN in PostgreSQL: both decode to `bool`.
    suspended: bool,
    declarative: bool,
    #[sqlx(flatten)]
    overrides: OverrideColumns,
    /// PostgreSQL's change counter; SQLite has none and selects `0`
    /// (selected rather than defaulted, so a missing column is an error).
    generation: i64,
}

/// A credential row's columns.
#[derive(sqlx::FromRow)]
pub(crate) struct CredentialColumns {
    tenant: String,
    kind: String,
    hash: String,
}

/// A live version row's columns, with its tenant.
#[derive(sqlx::FromRow)]
pub(crate) struct LiveVersionColumns {
    tenant: String,
    #[sqlx(flatten)]
    version: VersionColumns,
}

/// A sealed secret row's columns.
#[derive(sqlx::FromRow)]
pub(crate) struct SecretColumns {
    tenant: String,
    name: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

/// A loaded snapshot and the generation it was loaded at (0 on SQLite).
pub(crate) struct LoadedTenant {
    /// The tenant row's generation.
    pub(crate) generation: i64,
    /// The snapshot.
    pub(crate) tenant: Tenant,
}

/// Groups the four queries' rows into snapshots, by tenant name.
pub(crate) struct Grouping<'a> {
    secrets: &'a SecretBox,
    tenants: HashMap<String, LoadedTenant>,
}

impl<'a> Grouping<'a> {
    /// Starts from the tenant rows; rows with a name no longer valid are
    /// skipped, as they cannot be addressed.
    pub(crate) fn new(defaults: Quotas, secrets: &'a SecretBox, rows: Vec<TenantColumns>) -> Self {
        let mut tenants = HashMap::with_capacity(rows.len());
        for row in rows {
            let Ok(name) = TenantName::new(row.name.clone()) else {
                continue;
            };
            let tenant = Tenant {
                id: TenantId::from_stored(row.uid),
                name,
                display_name: row.display_name,
                failure_word: row.failure_word,
                suspended: row.suspended,
                declarative: row.declarative,
                quotas: super::QuotaOverrides::from(row.overrides).over(defaults),
                webhook_keys: Vec::new(),
                admin_tokens: Vec::new(),
                actions: BTreeMap::new(),
                secrets: SecretValues::default(),
            };
            tenants.insert(
                row.name,
                LoadedTenant {
                    generation: row.generation,
                    tenant,
                },
            );
        }
        Self { secrets, tenants }
    }

    /// Adds credential rows to their tenants.
    pub(crate) fn credentials(&mut self, rows: Vec<CredentialColumns>) {
        for row in rows {
            let Some(loaded) = self.tenants.get_mut(&row.tenant) else {
                continue;
            };
            let Some(hash) = KeyHash::from_hex(&row.hash) else {
                continue;
            };
            match row.kind.as_str() {
                "admin" => loaded.tenant.admin_tokens.push(hash),
                _ => loaded.tenant.webhook_keys.push(hash),
            }
        }
    }

    /// Adds live versions to their tenants.
    pub(crate) fn versions(&mut self, rows: Vec<LiveVersionColumns>) -> Result<(), StoreError> {
        for row in rows {
            let Some(loaded) = self.tenants.get_mut(&row.tenant) else {
                continue;
            };
            let version = row.version.into_version()?;
            loaded
                .tenant
                .actions
                .insert(version.name.clone(), Arc::new(version));
        }
        Ok(())
    }

    /// Opens secrets into their tenants; one that does not open with the
    /// current key is left out (and logged), as before.
    pub(crate) fn secrets(&mut self, rows: Vec<SecretColumns>) {
        for row in rows {
            let Some(loaded) = self.tenants.get_mut(&row.tenant) else {
                continue;
            };
            match self
                .secrets
                .open(&row.tenant, &row.name, &row.nonce, &row.ciphertext)
            {
                Some(value) => {
                    let value = String::from_utf8_lossy(&value).into_owned();
                    loaded.tenant.secrets.0.insert(row.name, value);
                }
                None => {
                    tracing::warn!(tenant = %row.tenant, secret = row.name, "secret cannot be decrypted with the current key")
                }
            }
        }
    }

    /// The snapshots.
    pub(crate) fn finish(self) -> Vec<LoadedTenant> {
        self.tenants.into_values().collect()
    }
}

/// Times the queries of a load of every tenant's snapshot, one `info` line
/// per query, for the start's log; a load of one tenant is not timed.
pub(crate) struct Laps {
    since: Option<std::time::Instant>,
}

impl Laps {
    /// Timing when `on`.
    pub(crate) fn new(on: bool) -> Self {
        Self {
            since: on.then(std::time::Instant::now),
        }
    }

    /// Reports the time since the last lap as `what`'s (fetched and grouped).
    pub(crate) fn lap(&mut self, what: &'static str) {
        // Off stays off: a one-tenant load (every write's) logs nothing.
        if let Some(since) = self.since.as_mut() {
            let ms = since.elapsed().as_millis() as u64;
            *since = std::time::Instant::now();
            tracing::info!(query = what, ms, "snapshots loaded");
        }
    }
}

/// `load_snapshots(conn, only)`: every tenant's snapshot (`only` `None`) or
/// one tenant's, in four queries on `conn`. The arguments: the backend's
/// connection type and its tenant query over all tenants and over one.
macro_rules! snapshot_loading {
    ($connection:ty, $tenants_all:expr, $tenants_one:expr) => {
        /// Loads snapshots: every tenant's (`only` is `None`) or one
        /// tenant's, in four queries (see `registry/snapshots.rs`).
        async fn load_snapshots(
            &self,
            conn: &mut $connection,
            only: Option<&$crate::names::TenantName>,
        ) -> Result<Vec<$crate::registry::snapshots::LoadedTenant>, $crate::registry::StoreError> {
            use $crate::registry::shared_sql::Dialect;
            use $crate::registry::snapshots as s;
            let pick = |query: &s::SnapshotQuery| match only {
                Some(_) => Self::sql(query.one),
                None => Self::sql(query.all),
            };
            let tenants_sql = match only {
                Some(_) => Self::sql($tenants_one),
                None => Self::sql($tenants_all),
            };
            let name = only.map($crate::names::TenantName::as_str);
            // Each query's time, reported for a start's load of everything.
            let mut lap = $crate::registry::snapshots::Laps::new(only.is_none());
            let mut tenants = sqlx::query_as::<_, s::TenantColumns>(&tenants_sql);
            if let Some(name) = name {
                tenants = tenants.bind(name);
            }
            let rows = tenants.fetch_all(&mut *conn).await?;
            let mut grouping = s::Grouping::new(self.defaults, &self.secrets, rows);
            lap.lap("tenants");

            let text = pick(&s::CREDENTIALS);
            let mut query = sqlx::query_as::<_, s::CredentialColumns>(&text);
            if let Some(name) = name {
                query = query.bind(name);
            }
            grouping.credentials(query.fetch_all(&mut *conn).await?);
            lap.lap("credentials");

            let text = pick(&s::LIVE_VERSIONS);
            let mut query = sqlx::query_as::<_, s::LiveVersionColumns>(&text);
            if let Some(name) = name {
                query = query.bind(name);
            }
            grouping.versions(query.fetch_all(&mut *conn).await?)?;
            lap.lap("live versions");

            let text = pick(&s::SECRETS);
            let mut query = sqlx::query_as::<_, s::SecretColumns>(&text);
            if let Some(name) = name {
                query = query.bind(name);
            }
            grouping.secrets(query.fetch_all(&mut *conn).await?);
            lap.lap("secrets");
            Ok(grouping.finish())
        }
    };
}

pub(crate) use snapshot_loading;

#[cfg(test)]
mod tests {
    use super::Laps;

    /// A one-tenant load (every write makes one) is never timed, however
    /// many queries it runs; a load of every tenant times each.
    #[test]
    fn laps_stay_off_for_one_tenant() {
        let mut off = Laps::new(false);
        off.lap("tenants");
        off.lap("credentials");
        assert!(off.since.is_none());
        let mut on = Laps::new(true);
        on.lap("tenants");
        assert!(on.since.is_some());
    }
}
