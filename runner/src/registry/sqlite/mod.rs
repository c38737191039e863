//! The SQLite side of the embedded store: the pool, migrations (in
//! `runner/migrations`) and the per-tenant snapshots loaded from it. Each
//! concern's queries live in a module of its own below.

mod console_sessions;
mod credentials;
mod gc;
mod invocations;
mod kv;
mod modules;
mod oauth;
mod secrets;
mod tenants;
mod versions;

use super::blobs::Blobs;
use super::columns::{OverrideColumns, VersionColumns};
use super::keys::KeyHash;
use super::secrets::SecretBox;
use super::store::{SqliteStore, StoreError};
use super::{QuotaOverrides, Quotas, SecretValues, Tenant, TenantId};
use crate::names::TenantName;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{FromRow, Row};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

impl SqliteStore {
    /// Opens (creating if needed) the store under `data_dir` and loads every
    /// tenant's snapshot.
    pub async fn open(
        data_dir: &Path,
        defaults: Quotas,
        secrets: SecretBox,
    ) -> Result<Self, StoreError> {
        let blobs = Blobs::open(data_dir)?;
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
            blobs,
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

    /// Reloads one tenant's snapshot from the database.
    pub(super) async fn refresh(&self, name: &TenantName) -> Result<(), StoreError> {
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
            "SELECT uid, display_name, failure_word, suspended, declarative, max_concurrency, \
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
            let version = VersionColumns::from_row(&row)?.into_version()?;
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
            id: TenantId::from_stored(row.try_get::<String, _>("uid")?),
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
}

pub(super) fn overrides_from_row(
    row: &sqlx::sqlite::SqliteRow,
) -> Result<QuotaOverrides, StoreError> {
    Ok(OverrideColumns::from_row(row)?.into())
}
