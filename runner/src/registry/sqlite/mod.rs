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
use super::columns::OverrideColumns;
use super::secrets::SecretBox;
use super::store::{SqliteStore, StoreError};
use super::{QuotaOverrides, Quotas};
use crate::names::TenantName;
use sqlx::FromRow;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::collections::HashMap;
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
            writes: Arc::new(tokio::sync::Mutex::new(())),
        };
        // Strays are swept after the start, not before it: at 100,000
        // versions the scan of every module and artifact file would be most
        // of the time to ready. See `gc.rs` for why this is safe while
        // deploys run.
        store.sweep_stray_files_later();
        let mut conn = store.pool.acquire().await?;
        let loaded = store.load_snapshots(&mut conn, None).await?;
        drop(conn);
        *store.snapshots.write().unwrap_or_else(|e| e.into_inner()) = loaded
            .into_iter()
            .map(|l| (l.tenant.name.clone(), Arc::new(l.tenant)))
            .collect();
        Ok(store)
    }

    /// Reloads one tenant's snapshot from the database.
    pub(super) async fn refresh(&self, name: &TenantName) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        let snapshot = self.load_snapshots(&mut conn, Some(name)).await?.pop();
        drop(conn);
        let mut snapshots = self.snapshots.write().unwrap_or_else(|e| e.into_inner());
        match snapshot {
            Some(loaded) => snapshots.insert(name.clone(), Arc::new(loaded.tenant)),
            None => snapshots.remove(name),
        };
        Ok(())
    }

    crate::registry::snapshots::snapshot_loading!(
        sqlx::SqliteConnection,
        concat!(
            "SELECT ",
            crate::registry::snapshots::tenant_columns!(),
            ", 0 AS generation FROM tenants"
        ),
        concat!(
            "SELECT ",
            crate::registry::snapshots::tenant_columns!(),
            ", 0 AS generation FROM tenants WHERE name = ?"
        )
    );
}

pub(super) fn overrides_from_row(
    row: &sqlx::sqlite::SqliteRow,
) -> Result<QuotaOverrides, StoreError> {
    Ok(OverrideColumns::from_row(row)?.into())
}
