//! The embedded store: SQLite (through sqlx, migrations in `runner/migrations`)
//! for records, and content-addressed files under `--data-dir` for module bytes
//! and compiled artifacts.
//!
//! Crash safety comes from ordering: files are written (atomically, by rename)
//! before the one transaction that makes a version visible, so a crash at any
//! point leaves either the old state or the new, plus at worst an unreferenced
//! file. Writes are serialized by a mutex; reads on the request path use the
//! in-memory snapshots ([`Registry`]), refreshed after every committed write.
//!
//! `SqliteStore` implements every storage trait in [`traits`](super::traits) for
//! the embedded backend, each in its module under `registry/sqlite/`; its
//! files are in `registry/blobs.rs`. Callers hold it as an
//! `Arc<dyn Storage>`: apart from [`SqliteStore::open`], it has no public methods
//! of its own.

use super::blobs::Blobs;
use super::secrets::SecretBox;
use super::{Quotas, Registry, Tenant};
use crate::names::TenantName;
use sqlx::SqlitePool;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub use super::error::StoreError;
pub use super::records::{
    ActionInfo, CredentialInfo, INVOCATIONS_KEPT, InvocationQuery, InvocationRecord, MAX_SECRETS,
    MAX_WEBHOOK_KEYS, NewInvocation, NewTenant, NewVersion, SecretInfo, TenantInfo, VersionInfo,
    now_ms, rfc3339,
};
pub use super::storage_quota::VERSION_ROW_OVERHEAD_BYTES;

/// The store. See the module docs.
pub struct SqliteStore {
    /// Every record: tenants, credentials, secrets, versions, invocations, key-value.
    pub(super) pool: SqlitePool,
    /// Module and artifact files.
    pub(super) blobs: Blobs,
    /// The operator's quota defaults, under each tenant's overrides.
    pub(super) defaults: Quotas,
    /// Seals and opens secrets at rest.
    pub(super) secrets: SecretBox,
    /// What the request path reads: one snapshot per tenant, replaced whole.
    pub(super) snapshots: RwLock<HashMap<TenantName, Arc<Tenant>>>,
    /// Serializes writes, so quota checks and the writes they allow are
    /// atomic; shared with the background sweep of stray files (`gc.rs`).
    pub(super) writes: Arc<tokio::sync::Mutex<()>>,
}

impl Registry for SqliteStore {
    fn tenant(&self, name: &str) -> Option<Arc<Tenant>> {
        let snapshots = self.snapshots.read().unwrap_or_else(|e| e.into_inner());
        snapshots.get(name).cloned()
    }
}

pub(super) fn new_id() -> String {
    hex::encode(rand::random::<[u8; 8]>())
}

pub(super) fn hint(secret: &str) -> String {
    secret.chars().take(10).collect::<String>() + "…"
}
