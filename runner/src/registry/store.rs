//! The embedded store: SQLite (through sqlx, migrations in `runner/migrations`)
//! for records, and content-addressed files under `--data-dir` for module bytes
//! and compiled artifacts.
//!
//! Crash safety comes from ordering: files are written (atomically, by rename)
//! before the one transaction that makes a version visible, so a crash at any
//! point leaves either the old state or the new, plus at worst an unreferenced
//! file. Writes are serialized by a mutex; reads on the request path use the
//! in-memory snapshots ([`Registry`]), refreshed after every committed write.

use super::keys::{self, KeyHash};
use super::secrets::SecretBox;
use super::{ActionVersion, ModuleDigest, QuotaOverrides, Quotas, Registry, SecretValues, Tenant};
use crate::limits::Limits;
use crate::manifest::ActionManifest;
use crate::names::{ActionName, TenantName};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Why a store operation failed. The first variants are the caller's mistakes
/// (4xx); the last are the store's own (5xx).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A tenant of that name exists.
    #[error("tenant {0:?} already exists")]
    TenantExists(String),
    /// No such tenant.
    #[error("unknown tenant {0:?}")]
    UnknownTenant(String),
    /// No such action.
    #[error("unknown action {0:?}")]
    UnknownAction(String),
    /// No such version of an action.
    #[error("action {action:?} has no version {version}")]
    UnknownVersion {
        /// The action.
        action: String,
        /// The version asked for.
        version: u32,
    },
    /// No such key or token.
    #[error("unknown key {0:?}")]
    UnknownKey(String),
    /// No such secret.
    #[error("unknown secret {0:?}")]
    UnknownSecret(String),
    /// The tenant is managed from manifests, not the admin API (or the reverse).
    #[error("{0}")]
    Declarative(String),
    /// A quota would be exceeded.
    #[error("quota exceeded: {0}")]
    Quota(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A file under the data directory could not be read or written.
    #[error("data directory error: {0}")]
    Io(#[from] std::io::Error),
}

/// The secrets of a new tenant, shown once.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewTenant {
    /// The tenant's name.
    pub name: TenantName,
    /// The tenant admin's bearer token.
    pub admin_token: String,
    /// The first webhook key, for Workfront's `apiKey` header.
    pub api_key: String,
}

/// A tenant as the operator lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantInfo {
    /// The tenant's name.
    pub name: String,
    /// A human-friendly name.
    pub display_name: Option<String>,
    /// Whether the tenant is suspended.
    pub suspended: bool,
    /// Managed from `--manifests`.
    pub declarative: bool,
    /// The status word of failure responses.
    pub failure_word: String,
    /// Effective quotas.
    pub quotas: Quotas,
    /// How many actions it has.
    pub actions: u32,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

/// A key or token as listed: never the secret, only a hint of its start.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialInfo {
    /// The id to revoke it by.
    pub id: String,
    /// The first characters of the secret, to tell keys apart.
    pub hint: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
}

/// An action as its tenant lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionInfo {
    /// The action name.
    pub name: String,
    /// The display name of the live version.
    pub display_name: String,
    /// The live version.
    pub live_version: u32,
    /// How many versions are kept.
    pub versions: u32,
}

/// One version as listed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    /// The version number.
    pub version: u32,
    /// The module's SHA-256.
    pub hash: String,
    /// The module's size in bytes.
    pub size: u64,
    /// `command` or `component`.
    pub abi: String,
    /// When it was deployed (RFC 3339).
    pub created_at: String,
    /// Whether it is the live version.
    pub live: bool,
}

/// An invocation to append to the log.
#[derive(Debug, Clone)]
pub struct NewInvocation {
    /// The tenant.
    pub tenant: String,
    /// The action.
    pub action: String,
    /// The version that ran.
    pub version: u32,
    /// Docket's request id.
    pub request_id: String,
    /// When it started, in milliseconds since the epoch.
    pub at_ms: i64,
    /// See [`InvocationRecord::outcome`].
    pub outcome: &'static str,
    /// Wall-clock duration.
    pub ms: u64,
    /// Which limit was hit, if any.
    pub limit_hit: Option<String>,
    /// The first and last 4 KiB of the action's stderr, kept for invocations
    /// that did not succeed.
    pub stderr: Option<String>,
}

/// One row of the invocation log, as listed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InvocationRecord {
    /// When it started (RFC 3339).
    pub time: String,
    /// The action.
    pub action: String,
    /// The version that ran.
    pub version: u32,
    /// `success`, `failure`, `limit`, `trap`, `bad-response`, `busy`, `host-error`, `cancelled`.
    pub outcome: String,
    /// Wall-clock duration.
    pub ms: u64,
    /// Which limit was hit, if any.
    pub limit_hit: Option<String>,
    /// Docket's request id.
    pub request_id: String,
    /// The first and last 4 KiB of the action's stderr, for invocations that
    /// did not succeed; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
}

/// A secret as listed: its name, never its value.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretInfo {
    /// The secret's name.
    pub name: String,
    /// When it was last set (RFC 3339).
    pub updated_at: String,
}

/// A version to make live.
#[derive(Debug, Clone)]
pub struct NewVersion<'a> {
    /// The tenant deploying.
    pub tenant: &'a TenantName,
    /// The parsed manifest.
    pub manifest: &'a ActionManifest,
    /// The manifest as uploaded, kept for the record.
    pub manifest_text: &'a str,
    /// The module's bytes.
    pub module: &'a [u8],
    /// `command` or `component`.
    pub abi: &'a str,
    /// The compiled artifact and the engine fingerprint it belongs to.
    pub artifact: Option<(&'a [u8], &'a str)>,
}

/// Webhook keys one tenant may have live at once.
pub const MAX_WEBHOOK_KEYS: usize = 20;
/// Secrets one tenant may keep.
pub const MAX_SECRETS: usize = 100;
/// Invocation records kept per tenant; older ones are pruned as new ones arrive.
pub const INVOCATIONS_KEPT: i64 = 10_000;
/// Bytes each stored version is charged on top of its manifest and config: its
/// fixed columns, keys and index entries, so even tiny versions are not free.
pub const VERSION_ROW_OVERHEAD_BYTES: u64 = 64;

/// The bytes of version row `v`'s text columns, as SQL; with
/// [`VERSION_ROW_OVERHEAD_BYTES`] added, what [`VersionRow::stored_bytes`]
/// counts for a row about to be written. Text is cast to BLOB because
/// SQLite's `length` of text counts characters.
const VERSION_ROW_BYTES_SQL: &str = "(length(CAST(v.manifest AS BLOB)) \
     + length(CAST(v.display_name AS BLOB)) + length(CAST(v.limits AS BLOB)) \
     + length(CAST(v.config AS BLOB)) + length(CAST(v.secrets AS BLOB)) \
     + length(CAST(v.grants AS BLOB)))";

/// The text columns of a version row, serialized once for both counting and
/// writing, so the quota counts exactly what is stored.
struct VersionRow<'a> {
    display_name: &'a str,
    manifest: &'a str,
    limits: String,
    config: String,
    secrets: String,
    grants: String,
}

impl VersionRow<'_> {
    fn stored_bytes(&self) -> u64 {
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
struct StoredVersion {
    action: String,
    version: u32,
    module: String,
    module_size: u64,
    row_bytes: u64,
}

/// The bytes `versions` keep: each distinct module once (identical bytes are
/// stored once), every row; `extra` is a module about to be added.
fn stored_bytes<'a>(
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

/// The versions of an action to delete so that, with the one being deployed,
/// at most `keep` remain. The version live before the deploy is first in line
/// to stay (it is what a bad deploy rolls back to), then the newest; so with
/// `keep` ≥ 2 neither the new version nor the previous live one is pruned.
fn versions_to_prune(existing: &[u32], live: Option<u32>, keep: u32) -> Vec<u32> {
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

/// The store. See the module docs.
pub struct Store {
    pub(super) pool: SqlitePool,
    modules_dir: PathBuf,
    artifacts_dir: PathBuf,
    defaults: Quotas,
    secrets: SecretBox,
    snapshots: RwLock<HashMap<TenantName, Arc<Tenant>>>,
    writes: tokio::sync::Mutex<()>,
}

impl Registry for Store {
    fn tenant(&self, name: &str) -> Option<Arc<Tenant>> {
        let snapshots = self.snapshots.read().unwrap_or_else(|e| e.into_inner());
        snapshots.get(name).cloned()
    }
}

/// Formats stored milliseconds as RFC 3339.
pub fn rfc3339(ms: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(time).to_string()
}

fn new_id() -> String {
    hex::encode(rand::random::<[u8; 8]>())
}

impl Store {
    /// Opens (creating if needed) the store under `data_dir` and loads every
    /// tenant's snapshot.
    pub async fn open(
        data_dir: &Path,
        defaults: Quotas,
        secrets: SecretBox,
    ) -> Result<Self, StoreError> {
        let modules_dir = data_dir.join("modules");
        let artifacts_dir = data_dir.join("artifacts");
        std::fs::create_dir_all(&modules_dir)?;
        std::fs::create_dir_all(&artifacts_dir)?;
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join("docket.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        let store = Self {
            pool,
            modules_dir,
            artifacts_dir,
            defaults,
            secrets,
            snapshots: RwLock::new(HashMap::new()),
            writes: tokio::sync::Mutex::new(()),
        };
        store.remove_unreferenced_files().await?;
        let names: Vec<String> = sqlx::query_scalar("SELECT name FROM tenants")
            .fetch_all(&store.pool)
            .await?;
        for name in names {
            if let Ok(name) = TenantName::new(name) {
                store.refresh(&name).await?;
            }
        }
        Ok(store)
    }

    /// Every tenant's snapshot.
    pub fn tenants(&self) -> Vec<Arc<Tenant>> {
        let snapshots = self.snapshots.read().unwrap_or_else(|e| e.into_inner());
        snapshots.values().cloned().collect()
    }

    /// Reloads one tenant's snapshot from the database.
    async fn refresh(&self, name: &TenantName) -> Result<(), StoreError> {
        let snapshot = self.load_snapshot(name).await?;
        let mut snapshots = self.snapshots.write().unwrap_or_else(|e| e.into_inner());
        match snapshot {
            Some(tenant) => snapshots.insert(name.clone(), Arc::new(tenant)),
            None => snapshots.remove(name),
        };
        Ok(())
    }

    async fn load_snapshot(&self, name: &TenantName) -> Result<Option<Tenant>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT display_name, failure_word, suspended, declarative, max_concurrency, \
             max_actions, max_module_bytes, max_storage_bytes, max_versions FROM tenants WHERE name = ?",
        )
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let overrides = overrides_from_row(&row)?;
        let mut webhook_keys = Vec::new();
        let mut admin_tokens = Vec::new();
        let creds = sqlx::query("SELECT kind, hash FROM credentials WHERE tenant = ?")
            .bind(name.as_str())
            .fetch_all(&self.pool)
            .await?;
        for cred in creds {
            let kind: String = cred.try_get("kind")?;
            let Some(hash) = KeyHash::from_hex(&cred.try_get::<String, _>("hash")?) else {
                continue;
            };
            match kind.as_str() {
                "admin" => admin_tokens.push(hash),
                _ => webhook_keys.push(hash),
            }
        }
        let rows = sqlx::query(
            "SELECT v.action, v.version, v.module, v.display_name, v.limits, v.config, v.secrets, v.grants \
             FROM actions a JOIN versions v \
               ON v.tenant = a.tenant AND v.action = a.name AND v.version = a.live_version \
             WHERE a.tenant = ?",
        )
        .bind(name.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut actions = BTreeMap::new();
        for row in rows {
            let version = version_from_row(&row)?;
            actions.insert(version.name.clone(), Arc::new(version));
        }
        let mut secrets = SecretValues::default();
        let sealed = sqlx::query("SELECT name, nonce, ciphertext FROM secrets WHERE tenant = ?")
            .bind(name.as_str())
            .fetch_all(&self.pool)
            .await?;
        for row in sealed {
            let secret: String = row.try_get("name")?;
            let nonce: Vec<u8> = row.try_get("nonce")?;
            let ciphertext: Vec<u8> = row.try_get("ciphertext")?;
            match self
                .secrets
                .open(name.as_str(), &secret, &nonce, &ciphertext)
            {
                Some(value) => {
                    secrets
                        .0
                        .insert(secret, String::from_utf8_lossy(&value).into_owned());
                }
                None => {
                    tracing::warn!(tenant = %name, secret, "secret cannot be decrypted with the current key")
                }
            }
        }
        Ok(Some(Tenant {
            name: name.clone(),
            secrets,
            display_name: row.try_get("display_name")?,
            failure_word: row.try_get("failure_word")?,
            suspended: row.try_get::<i64, _>("suspended")? != 0,
            declarative: row.try_get::<i64, _>("declarative")? != 0,
            quotas: overrides.over(self.defaults),
            webhook_keys,
            admin_tokens,
            actions,
        }))
    }

    // ---- tenants -------------------------------------------------------------

    /// Creates a tenant with an admin token and a first webhook key.
    pub async fn create_tenant(
        &self,
        name: &TenantName,
        display_name: Option<&str>,
        overrides: QuotaOverrides,
    ) -> Result<NewTenant, StoreError> {
        let _write = self.writes.lock().await;
        let admin_token = format!("dka_{}", &keys::generate_key()[keys::KEY_PREFIX.len()..]);
        let api_key = keys::generate_key();
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO tenants (name, display_name, max_concurrency, max_actions, \
             max_module_bytes, max_storage_bytes, max_versions, created_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT(name) DO NOTHING",
        )
        .bind(name.as_str())
        .bind(display_name)
        .bind(overrides.max_concurrency.map(i64::from))
        .bind(overrides.max_actions.map(i64::from))
        .bind(overrides.max_module_bytes.map(|v| v as i64))
        .bind(overrides.max_storage_bytes.map(|v| v as i64))
        .bind(overrides.max_versions.map(i64::from))
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::TenantExists(name.to_string()));
        }
        insert_credential(&mut tx, name, "admin", &new_id(), &admin_token).await?;
        insert_credential(&mut tx, name, "webhook", &new_id(), &api_key).await?;
        tx.commit().await?;
        self.refresh(name).await?;
        Ok(NewTenant {
            name: name.clone(),
            admin_token,
            api_key,
        })
    }

    /// Lists every tenant.
    pub async fn list_tenants(&self) -> Result<Vec<TenantInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT t.name, t.display_name, t.failure_word, t.suspended, t.declarative, \
             t.max_concurrency, t.max_actions, t.max_module_bytes, t.max_storage_bytes, t.max_versions, \
             t.created_ms, \
             (SELECT COUNT(*) FROM actions a WHERE a.tenant = t.name) AS action_count \
             FROM tenants t ORDER BY t.name",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(TenantInfo {
                    name: row.try_get("name")?,
                    display_name: row.try_get("display_name")?,
                    suspended: row.try_get::<i64, _>("suspended")? != 0,
                    declarative: row.try_get::<i64, _>("declarative")? != 0,
                    failure_word: row.try_get("failure_word")?,
                    quotas: overrides_from_row(row)?.over(self.defaults),
                    actions: row.try_get::<i64, _>("action_count")? as u32,
                    created_at: rfc3339(row.try_get("created_ms")?),
                })
            })
            .collect()
    }

    /// Suspends or resumes a tenant, and changes its quota overrides.
    pub async fn update_tenant(
        &self,
        name: &TenantName,
        suspended: Option<bool>,
        quotas: Option<QuotaOverrides>,
    ) -> Result<(), StoreError> {
        let _write = self.writes.lock().await;
        let current = self.require_tenant(name)?;
        let row = sqlx::query(
            "SELECT max_concurrency, max_actions, max_module_bytes, max_storage_bytes, \
             max_versions FROM tenants WHERE name = ?",
        )
        .bind(name.as_str())
        .fetch_one(&self.pool)
        .await?;
        let merged = match quotas {
            Some(patch) => overrides_from_row(&row)?.merge(&patch),
            None => overrides_from_row(&row)?,
        };
        sqlx::query(
            "UPDATE tenants SET suspended = ?, max_concurrency = ?, max_actions = ?, \
             max_module_bytes = ?, max_storage_bytes = ?, max_versions = ? WHERE name = ?",
        )
        .bind(i64::from(suspended.unwrap_or(current.suspended)))
        .bind(merged.max_concurrency.map(i64::from))
        .bind(merged.max_actions.map(i64::from))
        .bind(merged.max_module_bytes.map(|v| v as i64))
        .bind(merged.max_storage_bytes.map(|v| v as i64))
        .bind(merged.max_versions.map(i64::from))
        .bind(name.as_str())
        .execute(&self.pool)
        .await?;
        self.refresh(name).await
    }

    /// Sets a tenant's failure word (already checked by the caller).
    pub async fn set_failure_word(&self, name: &TenantName, word: &str) -> Result<(), StoreError> {
        let _write = self.writes.lock().await;
        self.require_tenant(name)?;
        sqlx::query("UPDATE tenants SET failure_word = ? WHERE name = ?")
            .bind(word)
            .bind(name.as_str())
            .execute(&self.pool)
            .await?;
        self.refresh(name).await
    }

    /// Deletes a tenant with everything it owns. Module files shared by other
    /// tenants stay.
    pub async fn delete_tenant(&self, name: &TenantName) -> Result<(), StoreError> {
        let _write = self.writes.lock().await;
        self.require_tenant(name)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM versions WHERE tenant = ?")
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM tenants WHERE name = ?")
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.refresh(name).await?;
        self.collect_garbage().await
    }

    fn require_tenant(&self, name: &TenantName) -> Result<Arc<Tenant>, StoreError> {
        self.tenant(name.as_str())
            .ok_or_else(|| StoreError::UnknownTenant(name.to_string()))
    }

    // ---- declarative tenants -------------------------------------------------

    /// Creates or updates a tenant managed from `--manifests`, with its one
    /// webhook key hash. Refuses a name taken by an admin-API tenant.
    pub async fn sync_declarative_tenant(
        &self,
        name: &TenantName,
        display_name: Option<&str>,
        failure_word: &str,
        webhook_key: &KeyHash,
    ) -> Result<(), StoreError> {
        let _write = self.writes.lock().await;
        if let Some(existing) = self.tenant(name.as_str())
            && !existing.declarative
        {
            return Err(StoreError::Declarative(format!(
                "tenant {name:?} exists and is managed through the admin API; rename the manifests directory"
            )));
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO tenants (name, display_name, failure_word, declarative, created_ms) \
             VALUES (?, ?, ?, 1, ?) \
             ON CONFLICT(name) DO UPDATE SET display_name = excluded.display_name, \
             failure_word = excluded.failure_word",
        )
        .bind(name.as_str())
        .bind(display_name)
        .bind(failure_word)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM credentials WHERE tenant = ? AND kind = 'webhook'")
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO credentials (id, tenant, kind, hash, hint, created_ms) \
             VALUES (?, ?, 'webhook', ?, 'declarative', ?)",
        )
        .bind(format!("declarative-{name}"))
        .bind(name.as_str())
        .bind(webhook_key.to_hex())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.refresh(name).await
    }

    /// Removes a declarative tenant's actions that are no longer in its manifests.
    pub async fn retain_actions(
        &self,
        name: &TenantName,
        keep: &[ActionName],
    ) -> Result<(), StoreError> {
        let tenant = self.require_tenant(name)?;
        for action in tenant.actions.keys() {
            if !keep.contains(action) {
                self.delete_action(name, action.as_str()).await?;
            }
        }
        Ok(())
    }

    // ---- credentials ---------------------------------------------------------

    /// Creates a webhook key; the plain key is returned once.
    pub async fn create_webhook_key(
        &self,
        tenant: &TenantName,
    ) -> Result<(CredentialInfo, String), StoreError> {
        let _write = self.writes.lock().await;
        let found = self.require_tenant(tenant)?;
        if found.webhook_keys.len() >= MAX_WEBHOOK_KEYS {
            return Err(StoreError::Quota(format!(
                "a tenant may have {MAX_WEBHOOK_KEYS} webhook keys; revoke one first"
            )));
        }
        let key = keys::generate_key();
        let id = new_id();
        let mut tx = self.pool.begin().await?;
        insert_credential(&mut tx, tenant, "webhook", &id, &key).await?;
        tx.commit().await?;
        self.refresh(tenant).await?;
        let info = CredentialInfo {
            id,
            hint: hint(&key),
            created_at: rfc3339(now_ms()),
        };
        Ok((info, key))
    }

    /// Lists a tenant's webhook keys (hints only).
    pub async fn list_webhook_keys(
        &self,
        tenant: &TenantName,
    ) -> Result<Vec<CredentialInfo>, StoreError> {
        self.require_tenant(tenant)?;
        let rows = sqlx::query(
            "SELECT id, hint, created_ms FROM credentials \
             WHERE tenant = ? AND kind = 'webhook' ORDER BY created_ms, id",
        )
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(CredentialInfo {
                    id: row.try_get("id")?,
                    hint: row.try_get("hint")?,
                    created_at: rfc3339(row.try_get("created_ms")?),
                })
            })
            .collect()
    }

    /// Revokes one webhook key of a tenant.
    pub async fn revoke_webhook_key(
        &self,
        tenant: &TenantName,
        id: &str,
    ) -> Result<(), StoreError> {
        let _write = self.writes.lock().await;
        self.require_tenant(tenant)?;
        let deleted =
            sqlx::query("DELETE FROM credentials WHERE tenant = ? AND kind = 'webhook' AND id = ?")
                .bind(tenant.as_str())
                .bind(id)
                .execute(&self.pool)
                .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::UnknownKey(id.to_owned()));
        }
        self.refresh(tenant).await
    }

    // ---- secrets ---------------------------------------------------------------

    /// Sets (or replaces) a secret, encrypted at rest.
    pub async fn put_secret(
        &self,
        tenant: &TenantName,
        name: &str,
        value: &[u8],
    ) -> Result<(), StoreError> {
        let _write = self.writes.lock().await;
        let found = self.require_tenant(tenant)?;
        if !found.secrets.0.contains_key(name) && found.secrets.0.len() >= MAX_SECRETS {
            return Err(StoreError::Quota(format!(
                "a tenant may keep {MAX_SECRETS} secrets; delete one first"
            )));
        }
        let (nonce, ciphertext) = self.secrets.seal(tenant.as_str(), name, value);
        // A replaced secret's old bytes are not counted: only what stays stored.
        let versions = self.stored_versions(tenant).await?;
        let total = stored_bytes(versions.iter(), None)
            + self.secret_bytes(tenant, Some(name)).await?
            + (name.len() + ciphertext.len()) as u64;
        let limit = found.quotas.max_storage_bytes;
        if total > limit {
            return Err(StoreError::Quota(format!(
                "storing this secret would bring the tenant to {total} stored bytes, over its \
                 limit of {limit} bytes (maxStorageBytes); delete old actions or secrets first"
            )));
        }
        sqlx::query(
            "INSERT INTO secrets (tenant, name, nonce, ciphertext, updated_ms) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT(tenant, name) DO UPDATE SET nonce = excluded.nonce, \
             ciphertext = excluded.ciphertext, updated_ms = excluded.updated_ms",
        )
        .bind(tenant.as_str())
        .bind(name)
        .bind(nonce)
        .bind(ciphertext)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        self.refresh(tenant).await
    }

    /// Deletes a secret.
    pub async fn delete_secret(&self, tenant: &TenantName, name: &str) -> Result<(), StoreError> {
        let _write = self.writes.lock().await;
        self.require_tenant(tenant)?;
        let deleted = sqlx::query("DELETE FROM secrets WHERE tenant = ? AND name = ?")
            .bind(tenant.as_str())
            .bind(name)
            .execute(&self.pool)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::UnknownSecret(name.to_owned()));
        }
        self.refresh(tenant).await
    }

    /// Lists a tenant's secrets by name; values are never listed.
    pub async fn list_secrets(&self, tenant: &TenantName) -> Result<Vec<SecretInfo>, StoreError> {
        self.require_tenant(tenant)?;
        let rows =
            sqlx::query("SELECT name, updated_ms FROM secrets WHERE tenant = ? ORDER BY name")
                .bind(tenant.as_str())
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                Ok(SecretInfo {
                    name: row.try_get("name")?,
                    updated_at: rfc3339(row.try_get("updated_ms")?),
                })
            })
            .collect()
    }

    /// A secret's value, for handing to the tenant's own actions; `None` when it
    /// is not set (or can no longer be decrypted because the operator key changed).
    pub async fn read_secret(
        &self,
        tenant: &TenantName,
        name: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let row =
            sqlx::query("SELECT nonce, ciphertext FROM secrets WHERE tenant = ? AND name = ?")
                .bind(tenant.as_str())
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|row| {
            let nonce: Vec<u8> = row.try_get("nonce").ok()?;
            let ciphertext: Vec<u8> = row.try_get("ciphertext").ok()?;
            self.secrets
                .open(tenant.as_str(), name, &nonce, &ciphertext)
        }))
    }

    // ---- modules and versions ------------------------------------------------

    /// The ABI recorded for a module, if stored.
    pub async fn module_abi(&self, digest: &ModuleDigest) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT abi FROM modules WHERE digest = ?")
                .bind(digest.as_str())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// A module's bytes.
    pub fn read_module(&self, digest: &ModuleDigest) -> Result<Vec<u8>, StoreError> {
        Ok(std::fs::read(self.module_path(digest))?)
    }

    /// A compiled artifact for `engine`, only if its bytes match the digest
    /// recorded when Docket wrote it.
    pub async fn read_artifact(
        &self,
        digest: &ModuleDigest,
        engine: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let expected: Option<String> = sqlx::query_scalar(
            "SELECT artifact_digest FROM artifacts WHERE module = ? AND engine = ?",
        )
        .bind(digest.as_str())
        .bind(engine)
        .fetch_optional(&self.pool)
        .await?;
        let Some(expected) = expected else {
            return Ok(None);
        };
        let Ok(bytes) = std::fs::read(self.artifact_path(digest, engine)) else {
            return Ok(None);
        };
        if hex::encode(Sha256::digest(&bytes)) != expected {
            tracing::warn!(module = %digest, "compiled artifact does not match its recorded digest; recompiling");
            return Ok(None);
        }
        Ok(Some(bytes))
    }

    /// Records a compiled artifact for an already stored module.
    pub async fn save_artifact(
        &self,
        digest: &ModuleDigest,
        engine: &str,
        artifact: &[u8],
    ) -> Result<(), StoreError> {
        keys::write_atomically(&self.artifact_path(digest, engine), artifact)?;
        sqlx::query(
            "INSERT OR REPLACE INTO artifacts (module, engine, artifact_digest) VALUES (?, ?, ?)",
        )
        .bind(digest.as_str())
        .bind(engine)
        .bind(hex::encode(Sha256::digest(artifact)))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    fn module_path(&self, digest: &ModuleDigest) -> PathBuf {
        self.modules_dir.join(format!("{digest}.wasm"))
    }

    fn artifact_path(&self, digest: &ModuleDigest, engine: &str) -> PathBuf {
        self.artifacts_dir.join(format!("{digest}-{engine}.cwasm"))
    }

    /// Stores a new version and makes it live, atomically, pruning the action's
    /// oldest versions past the tenant's `maxVersions` in the same transaction.
    /// Checks the action-count and storage quotas under the write lock, with the
    /// pruning already counted, before anything is written: a refused deploy
    /// leaves no file and no row behind.
    pub async fn deploy(&self, new: NewVersion<'_>) -> Result<u32, StoreError> {
        let _write = self.writes.lock().await;
        let tenant = self.require_tenant(new.tenant)?;
        let name = &new.manifest.name;
        let digest = ModuleDigest::of(new.module);
        let size = new.module.len() as u64;
        let row = VersionRow {
            display_name: &new.manifest.display_name,
            manifest: new.manifest_text,
            limits: serde_json::to_string(&new.manifest.limits).unwrap_or_default(),
            config: serde_json::to_string(&new.manifest.config).unwrap_or_default(),
            secrets: serde_json::to_string(&new.manifest.secrets).unwrap_or_default(),
            grants: serde_json::to_string(&new.manifest.grants).unwrap_or_default(),
        };
        let pruned = self
            .plan_deploy(&tenant, name, &digest, size, row.stored_bytes())
            .await?;

        // Files first: a crash after this point leaves an unreferenced file, never
        // a version without its module.
        let module_path = self.module_path(&digest);
        if !module_path.exists() {
            keys::write_atomically(&module_path, new.module)?;
        }
        if let Some((artifact, engine)) = new.artifact {
            keys::write_atomically(&self.artifact_path(&digest, engine), artifact)?;
        }

        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO modules (digest, size, abi, created_ms) VALUES (?, ?, ?, ?) \
             ON CONFLICT(digest) DO NOTHING",
        )
        .bind(digest.as_str())
        .bind(size as i64)
        .bind(new.abi)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        if let Some((artifact, engine)) = new.artifact {
            sqlx::query(
                "INSERT OR REPLACE INTO artifacts (module, engine, artifact_digest) VALUES (?, ?, ?)",
            )
            .bind(digest.as_str())
            .bind(engine)
            .bind(hex::encode(Sha256::digest(artifact)))
            .execute(&mut *tx)
            .await?;
        }
        let version: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM versions WHERE tenant = ? AND action = ?",
        )
        .bind(new.tenant.as_str())
        .bind(name.as_str())
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO actions (tenant, name, live_version) VALUES (?, ?, ?) \
             ON CONFLICT(tenant, name) DO UPDATE SET live_version = excluded.live_version",
        )
        .bind(new.tenant.as_str())
        .bind(name.as_str())
        .bind(version)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO versions (tenant, action, version, module, display_name, manifest, \
             limits, config, secrets, grants, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(new.tenant.as_str())
        .bind(name.as_str())
        .bind(version)
        .bind(digest.as_str())
        .bind(row.display_name)
        .bind(row.manifest)
        .bind(&row.limits)
        .bind(&row.config)
        .bind(&row.secrets)
        .bind(&row.grants)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        for old in &pruned {
            sqlx::query("DELETE FROM versions WHERE tenant = ? AND action = ? AND version = ?")
                .bind(new.tenant.as_str())
                .bind(name.as_str())
                .bind(i64::from(*old))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.refresh(new.tenant).await?;
        if !pruned.is_empty() {
            tracing::info!(tenant = %new.tenant, action = %name, ?pruned, "pruned old versions (maxVersions)");
            self.collect_garbage().await?;
        }
        Ok(version as u32)
    }

    /// Whether one more version (of `name`, with this module) fits the tenant's
    /// action-count and storage quotas, counting the versions the deploy would
    /// prune. For a check before compiling, to spare the work: the manifest is
    /// counted at its row overhead only, so this refuses only what [`Self::deploy`]
    /// would surely refuse.
    pub async fn check_deploy_quota(
        &self,
        tenant: &Tenant,
        name: &ActionName,
        digest: &ModuleDigest,
        size: u64,
    ) -> Result<(), StoreError> {
        self.plan_deploy(tenant, name, digest, size, VERSION_ROW_OVERHEAD_BYTES)
            .await
            .map(|_| ())
    }

    /// Checks the quotas for a new version whose row takes `row_bytes`, and
    /// returns the versions of `name` the deploy must prune.
    async fn plan_deploy(
        &self,
        tenant: &Tenant,
        name: &ActionName,
        digest: &ModuleDigest,
        size: u64,
        row_bytes: u64,
    ) -> Result<Vec<u32>, StoreError> {
        if !tenant.actions.contains_key(name)
            && tenant.actions.len() as u64 >= u64::from(tenant.quotas.max_actions)
        {
            return Err(StoreError::Quota(format!(
                "the tenant has {} actions, its limit (maxActions)",
                tenant.quotas.max_actions
            )));
        }
        let versions = self.stored_versions(&tenant.name).await?;
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
        let total = stored_bytes(kept, Some((digest.as_str(), size)))
            + row_bytes
            + self.secret_bytes(&tenant.name, None).await?;
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

    /// Every version the tenant keeps, with its module's size and its row's bytes.
    async fn stored_versions(&self, tenant: &TenantName) -> Result<Vec<StoredVersion>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT v.action, v.version, v.module, m.size, {VERSION_ROW_BYTES_SQL} AS row_bytes \
             FROM versions v JOIN modules m ON m.digest = v.module WHERE v.tenant = ?"
        ))
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredVersion {
                    action: row.try_get("action")?,
                    version: row.try_get::<i64, _>("version")? as u32,
                    module: row.try_get("module")?,
                    module_size: row.try_get::<i64, _>("size")? as u64,
                    row_bytes: row.try_get::<i64, _>("row_bytes")? as u64
                        + VERSION_ROW_OVERHEAD_BYTES,
                })
            })
            .collect()
    }

    /// Bytes of the tenant's secrets (name and ciphertext), but `except`'s.
    async fn secret_bytes(
        &self,
        tenant: &TenantName,
        except: Option<&str>,
    ) -> Result<u64, StoreError> {
        let bytes: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(length(CAST(name AS BLOB)) + length(ciphertext)), 0) \
             FROM secrets WHERE tenant = ? AND name IS NOT ?",
        )
        .bind(tenant.as_str())
        .bind(except)
        .fetch_one(&self.pool)
        .await?;
        Ok(bytes as u64)
    }

    /// Whether any of the tenant's versions uses this module.
    pub async fn tenant_keeps_module(
        &self,
        tenant: &TenantName,
        digest: &ModuleDigest,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS(SELECT 1 FROM versions WHERE tenant = ? AND module = ?)",
        )
        .bind(tenant.as_str())
        .bind(digest.as_str())
        .fetch_one(&self.pool)
        .await?)
    }

    /// Stored bytes the tenant controls, as the storage quota counts them: its
    /// distinct modules, its version rows (manifest, config and the rest, plus
    /// [`VERSION_ROW_OVERHEAD_BYTES`] each) and its secrets (name and ciphertext).
    pub async fn storage_used(&self, tenant: &TenantName) -> Result<u64, StoreError> {
        let versions = self.stored_versions(tenant).await?;
        Ok(stored_bytes(versions.iter(), None) + self.secret_bytes(tenant, None).await?)
    }

    /// The live version's manifest text and module digest, to skip redeploying
    /// an unchanged declarative action.
    pub async fn live_source(
        &self,
        tenant: &TenantName,
        action: &ActionName,
    ) -> Result<Option<(String, ModuleDigest)>, StoreError> {
        let row = sqlx::query(
            "SELECT v.manifest, v.module FROM actions a JOIN versions v \
             ON v.tenant = a.tenant AND v.action = a.name AND v.version = a.live_version \
             WHERE a.tenant = ? AND a.name = ?",
        )
        .bind(tenant.as_str())
        .bind(action.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok((
                row.try_get("manifest")?,
                ModuleDigest::from_stored(row.try_get("module")?),
            ))
        })
        .transpose()
    }

    /// Lists a tenant's actions.
    pub async fn list_actions(&self, tenant: &TenantName) -> Result<Vec<ActionInfo>, StoreError> {
        self.require_tenant(tenant)?;
        let rows = sqlx::query(
            "SELECT a.name, a.live_version, v.display_name, \
             (SELECT COUNT(*) FROM versions c WHERE c.tenant = a.tenant AND c.action = a.name) AS n \
             FROM actions a JOIN versions v \
               ON v.tenant = a.tenant AND v.action = a.name AND v.version = a.live_version \
             WHERE a.tenant = ? ORDER BY a.name",
        )
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ActionInfo {
                    name: row.try_get("name")?,
                    display_name: row.try_get("display_name")?,
                    live_version: row.try_get::<i64, _>("live_version")? as u32,
                    versions: row.try_get::<i64, _>("n")? as u32,
                })
            })
            .collect()
    }

    /// Lists every version of an action, newest first.
    pub async fn list_versions(
        &self,
        tenant: &TenantName,
        action: &str,
    ) -> Result<Vec<VersionInfo>, StoreError> {
        let live = self.live_version(tenant, action).await?;
        let rows = sqlx::query(
            "SELECT v.version, v.module, v.created_ms, m.size, m.abi FROM versions v \
             JOIN modules m ON m.digest = v.module \
             WHERE v.tenant = ? AND v.action = ? ORDER BY v.version DESC",
        )
        .bind(tenant.as_str())
        .bind(action)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let version = row.try_get::<i64, _>("version")? as u32;
                Ok(VersionInfo {
                    version,
                    hash: row.try_get("module")?,
                    size: row.try_get::<i64, _>("size")? as u64,
                    abi: row.try_get("abi")?,
                    created_at: rfc3339(row.try_get("created_ms")?),
                    live: version == live,
                })
            })
            .collect()
    }

    async fn live_version(&self, tenant: &TenantName, action: &str) -> Result<u32, StoreError> {
        self.require_tenant(tenant)?;
        let live: Option<i64> =
            sqlx::query_scalar("SELECT live_version FROM actions WHERE tenant = ? AND name = ?")
                .bind(tenant.as_str())
                .bind(action)
                .fetch_optional(&self.pool)
                .await?;
        live.map(|v| v as u32)
            .ok_or_else(|| StoreError::UnknownAction(action.to_owned()))
    }

    /// One stored version, live or not.
    pub async fn version(
        &self,
        tenant: &TenantName,
        action: &str,
        version: u32,
    ) -> Result<ActionVersion, StoreError> {
        self.live_version(tenant, action).await?;
        let row = sqlx::query(
            "SELECT action, version, module, display_name, limits, config, secrets, grants FROM versions \
             WHERE tenant = ? AND action = ? AND version = ?",
        )
        .bind(tenant.as_str())
        .bind(action)
        .bind(i64::from(version))
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::UnknownVersion {
            action: action.to_owned(),
            version,
        })?;
        version_from_row(&row)
    }

    /// Makes an earlier (or later) version live.
    pub async fn set_live(
        &self,
        tenant: &TenantName,
        action: &str,
        version: u32,
    ) -> Result<(), StoreError> {
        let _write = self.writes.lock().await;
        let updated = sqlx::query(
            "UPDATE actions SET live_version = ? WHERE tenant = ? AND name = ? AND EXISTS \
             (SELECT 1 FROM versions WHERE tenant = ? AND action = ? AND version = ?)",
        )
        .bind(i64::from(version))
        .bind(tenant.as_str())
        .bind(action)
        .bind(tenant.as_str())
        .bind(action)
        .bind(i64::from(version))
        .execute(&self.pool)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::UnknownVersion {
                action: action.to_owned(),
                version,
            });
        }
        self.refresh(tenant).await
    }

    /// Deletes an action and all its versions.
    pub async fn delete_action(&self, tenant: &TenantName, action: &str) -> Result<(), StoreError> {
        let _write = self.writes.lock().await;
        self.require_tenant(tenant)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM versions WHERE tenant = ? AND action = ?")
            .bind(tenant.as_str())
            .bind(action)
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query("DELETE FROM actions WHERE tenant = ? AND name = ?")
            .bind(tenant.as_str())
            .bind(action)
            .execute(&mut *tx)
            .await?;
        // The action's own key-value namespace goes with it; the tenant's stays.
        sqlx::query("DELETE FROM kv WHERE tenant = ? AND scope = ?")
            .bind(tenant.as_str())
            .bind(action)
            .execute(&mut *tx)
            .await?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::UnknownAction(action.to_owned()));
        }
        tx.commit().await?;
        self.refresh(tenant).await?;
        self.collect_garbage().await
    }

    /// Deletes modules no version refers to any more, files first: a crash in
    /// between leaves a row whose file a later deploy of the same bytes rewrites.
    async fn collect_garbage(&self) -> Result<(), StoreError> {
        let unreferenced: Vec<String> = sqlx::query_scalar(
            "SELECT digest FROM modules WHERE digest NOT IN (SELECT module FROM versions)",
        )
        .fetch_all(&self.pool)
        .await?;
        for digest in unreferenced {
            let digest = ModuleDigest::from_stored(digest);
            self.remove_module_files(&digest)?;
            sqlx::query("DELETE FROM modules WHERE digest = ?")
                .bind(digest.as_str())
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Removes files no module row refers to: left by a deploy that crashed
    /// before its transaction, or by an engine upgrade (old artifacts).
    async fn remove_unreferenced_files(&self) -> Result<(), StoreError> {
        let known: std::collections::HashSet<String> =
            sqlx::query_scalar::<_, String>("SELECT digest FROM modules")
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .collect();
        for dir in [&self.modules_dir, &self.artifacts_dir] {
            for entry in std::fs::read_dir(dir)? {
                let path = entry?.path();
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let digest = name.split(['.', '-']).next().unwrap_or("");
                if !known.contains(digest) {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        Ok(())
    }

    fn remove_module_files(&self, digest: &ModuleDigest) -> Result<(), StoreError> {
        let _ = std::fs::remove_file(self.module_path(digest));
        for entry in std::fs::read_dir(&self.artifacts_dir)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with(&format!("{digest}-")) {
                let _ = std::fs::remove_file(&path);
            }
        }
        Ok(())
    }

    // ---- invocation log --------------------------------------------------------

    /// Appends invocation records in one transaction, a few multi-row
    /// statements rather than one statement per record (each statement is a
    /// round trip to SQLite's worker thread). Records of tenants deleted
    /// meanwhile are skipped.
    pub async fn record_invocations(&self, batch: &[NewInvocation]) -> Result<(), StoreError> {
        // 9 bound values per row, well under SQLite's limit of 32766 per statement.
        const ROWS_PER_STATEMENT: usize = 2000;
        let mut tx = self.pool.begin().await?;
        for chunk in batch.chunks(ROWS_PER_STATEMENT) {
            let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO invocations (tenant, action, version, request_id, at_ms, outcome, \
                 duration_ms, limit_hit, stderr) SELECT * FROM (",
            );
            insert.push_values(chunk, |mut row, record| {
                row.push_bind(&record.tenant)
                    .push_bind(&record.action)
                    .push_bind(i64::from(record.version))
                    .push_bind(&record.request_id)
                    .push_bind(record.at_ms)
                    .push_bind(record.outcome)
                    .push_bind(record.ms as i64)
                    .push_bind(&record.limit_hit)
                    .push_bind(&record.stderr);
            });
            insert.push(") WHERE column1 IN (SELECT name FROM tenants)");
            insert.build().execute(&mut *tx).await?;
        }
        let tenants: std::collections::BTreeSet<&str> =
            batch.iter().map(|r| r.tenant.as_str()).collect();
        for tenant in tenants {
            sqlx::query(
                "DELETE FROM invocations WHERE tenant = ? AND id < (SELECT MIN(id) FROM \
                 (SELECT id FROM invocations WHERE tenant = ? ORDER BY id DESC LIMIT ?))",
            )
            .bind(tenant)
            .bind(tenant)
            .bind(INVOCATIONS_KEPT)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The newest `limit` invocations of a tenant's actions.
    pub async fn recent_invocations(
        &self,
        tenant: &TenantName,
        limit: u32,
    ) -> Result<Vec<InvocationRecord>, StoreError> {
        self.require_tenant(tenant)?;
        let rows = sqlx::query(
            "SELECT action, version, request_id, at_ms, outcome, duration_ms, limit_hit, stderr \
             FROM invocations WHERE tenant = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(tenant.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(InvocationRecord {
                    time: rfc3339(row.try_get("at_ms")?),
                    action: row.try_get("action")?,
                    version: row.try_get::<i64, _>("version")? as u32,
                    outcome: row.try_get("outcome")?,
                    ms: row.try_get::<i64, _>("duration_ms")? as u64,
                    limit_hit: row.try_get("limit_hit")?,
                    request_id: row.try_get("request_id")?,
                    stderr: row.try_get("stderr")?,
                })
            })
            .collect()
    }
}

/// Milliseconds since the epoch, as the store records times.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn hint(secret: &str) -> String {
    secret.chars().take(10).collect::<String>() + "…"
}

async fn insert_credential(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    tenant: &TenantName,
    kind: &str,
    id: &str,
    secret: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO credentials (id, tenant, kind, hash, hint, created_ms) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(tenant.as_str())
    .bind(kind)
    .bind(KeyHash::of(secret).to_hex())
    .bind(hint(secret))
    .bind(now_ms())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn overrides_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<QuotaOverrides, StoreError> {
    Ok(QuotaOverrides {
        max_concurrency: row
            .try_get::<Option<i64>, _>("max_concurrency")?
            .map(|v| v as u32),
        max_actions: row
            .try_get::<Option<i64>, _>("max_actions")?
            .map(|v| v as u32),
        max_module_bytes: row
            .try_get::<Option<i64>, _>("max_module_bytes")?
            .map(|v| v as u64),
        max_storage_bytes: row
            .try_get::<Option<i64>, _>("max_storage_bytes")?
            .map(|v| v as u64),
        max_versions: row
            .try_get::<Option<i64>, _>("max_versions")?
            .map(|v| v as u32),
    })
}

fn version_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<ActionVersion, StoreError> {
    let corrupt = |what: &str| {
        StoreError::Database(sqlx::Error::Protocol(format!(
            "stored {what} is unreadable"
        )))
    };
    let name: String = row.try_get("action")?;
    let limits: Limits = serde_json::from_str(&row.try_get::<String, _>("limits")?)
        .map_err(|_| corrupt("limits"))?;
    Ok(ActionVersion {
        name: ActionName::new(name).map_err(|_| corrupt("action name"))?,
        display_name: row.try_get("display_name")?,
        version: row.try_get::<i64, _>("version")? as u32,
        module: ModuleDigest::from_stored(row.try_get("module")?),
        limits,
        config: serde_json::from_str(&row.try_get::<String, _>("config")?)
            .map_err(|_| corrupt("config"))?,
        secrets: serde_json::from_str(&row.try_get::<String, _>("secrets")?)
            .map_err(|_| corrupt("secrets"))?,
        grants: serde_json::from_str(&row.try_get::<String, _>("grants")?)
            .map_err(|_| corrupt("grants"))?,
    })
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
