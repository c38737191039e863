//! Tenants, their webhook keys and their live actions.
//!
//! The registry knows nothing of wasmtime: an action version points at its module
//! by content digest, and the app's compiled-module cache (`app/modules.rs`)
//! turns the digest into runnable code.
//! Lookups on the request path are in-memory snapshots behind `Arc`s, so a request
//! never waits on storage and never holds a lock across an await.
//!
//! # Layout
//!
//! * [`traits`]: the storage seams, one trait per concern ([`TenantStore`],
//!   [`CredentialStore`], [`SecretStore`], [`VersionStore`], [`BlobStore`],
//!   [`InvocationLog`], and [`KvBackend`](crate::capabilities::kv::KvBackend)),
//!   and [`Storage`], all of them: what each backend implements (SQLite in
//!   [`store`], PostgreSQL in [`postgres`]).
//! * `records.rs` and `error.rs`: what those traits take and return
//!   ([`NewVersion`], [`VersionInfo`], …, [`StoreError`]); no backend's types.
//! * [`store`]: [`store::SqliteStore`], the embedded backend (SQLite plus files),
//!   the default. Only `main.rs` names it, to open it; everything else holds
//!   an `Arc<dyn Storage>`.
//! * `sqlite/`: its implementation of each trait in the module of its concern
//!   (`tenants`, `credentials`, `secrets`, `versions`, `modules`,
//!   `invocations`, `kv`), garbage collection (`gc`), and its pool,
//!   migrations and snapshot loading (`sqlite/mod.rs`).
//! * [`postgres`]: [`postgres::PgStore`], the backend replicas share
//!   (`--database-url`): every record, module and signed artifact in
//!   PostgreSQL, snapshots kept current by LISTEN/NOTIFY and a reconcile
//!   loop (`postgres/sync.rs`). Also opened only by `main.rs`.
//! * `columns.rs`: rows decoded the same way for both SQL backends.
//! * `snapshots.rs`: every tenant's snapshot loaded in four set-based
//!   queries (or one tenant's), the same for both SQL backends.
//! * `version_manifest.rs`: a stored version written back as its manifest.
//! * `blobs.rs`: module and artifact files, content-addressed, under `--data-dir`.
//! * `storage_quota.rs`: what the storage quota counts and which versions a
//!   deploy prunes; arithmetic any backend shares.
//! * [`console_sessions`]: the web console's browser sessions.
//! * [`keys`], [`secrets`], [`quotas`]: key hashing, secret sealing, quota values.
//! * `conformance.rs` (tests): the shared suite every backend runs, SQLite
//!   and PostgreSQL alike (the latter on a database per test from
//!   `test_postgres.rs`).

mod blobs;
mod columns;
#[cfg(test)]
mod conformance;
pub mod console_sessions;
mod error;
pub mod keys;
pub mod oauth;
mod oauth_sql;
mod oauth_tokens_sql;
pub mod postgres;
pub mod quotas;
mod records;
pub mod secrets;
mod shared_sql;
mod snapshots;
mod sqlite;
mod storage_quota;
pub mod store;
#[cfg(test)]
pub(crate) mod test_postgres;
pub mod traits;
mod version_manifest;

use crate::limits::Limits;
use crate::names::{ActionName, TenantName};
use keys::KeyHash;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

pub use error::StoreError;
pub use postgres::ClusterHealth;
pub use quotas::{QuotaOverrides, Quotas};
pub use records::{
    ActionInfo, CheckedArtifact, CredentialInfo, InvocationDetail, InvocationQuery,
    InvocationRecord, InvocationSample, NewInvocation, NewTenant, NewVersion, RecentCall,
    RecordedAnswer, RecordedInput, SecretInfo, TenantInfo, Timing, VersionInfo,
};
pub use records::{now_ms, rfc3339};
pub use traits::{
    BlobStore, CredentialStore, InvocationLog, SecretStore, Storage, StoreFuture, TenantStore,
    VersionStore,
};

/// A tenant's immutable internal id, made when the tenant is created and
/// never reused: a tenant deleted and created again under the same name has
/// another. Everything long-lived that belongs to a tenant is keyed by it,
/// never by the name (docs/architecture.md#tenant-scoped-state-over-time).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(Arc<str>);

impl TenantId {
    /// A new random id (128 bits, lowercase hex).
    pub fn generate() -> Self {
        Self(Arc::from(hex::encode(rand::random::<[u8; 16]>())))
    }

    /// An id as a backend stored it.
    pub fn from_stored(id: impl AsRef<str>) -> Self {
        Self(Arc::from(id.as_ref()))
    }

    /// The id's text, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The SHA-256 of a module's bytes, in lowercase hex: its identity everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ModuleDigest(String);

impl ModuleDigest {
    /// Hashes module bytes.
    pub fn of(bytes: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(bytes)))
    }

    /// Wraps a digest read back from storage.
    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    /// The digest in hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ModuleDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One immutable version of an action.
#[derive(Debug, Clone)]
pub struct ActionVersion {
    /// The name Workfront sends.
    pub name: ActionName,
    /// The label under Document Actions.
    pub display_name: String,
    /// Counts up from 1 per action.
    pub version: u32,
    /// Which module runs.
    pub module: ModuleDigest,
    /// Limits per invocation.
    pub limits: Limits,
    /// The manifest's `[config]`.
    pub config: BTreeMap<String, String>,
    /// Names of the tenant secrets this version may read.
    pub secrets: Vec<String>,
    /// Outbound hosts and key-value access this version's manifest grants.
    pub grants: crate::capabilities::Grants,
}

/// A tenant's decrypted secrets, kept in the snapshot so the request path needs
/// no database or decryption. `Debug` prints names only.
#[derive(Clone, Default)]
pub struct SecretValues(pub BTreeMap<String, String>);

impl fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl SecretValues {
    /// The values of the `granted` names that are set.
    pub fn granted(&self, granted: &[impl AsRef<str>]) -> BTreeMap<String, String> {
        granted
            .iter()
            .map(|name| name.as_ref())
            .filter_map(|name| Some((name.to_owned(), self.0.get(name)?.clone())))
            .collect()
    }
}

/// A tenant as the request path sees it: an immutable snapshot, replaced whole
/// on every change.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// The tenant's immutable internal id (see [`TenantId`]).
    pub id: TenantId,
    /// The tenant's name, as in `/t/{tenant}`.
    pub name: TenantName,
    /// A human-friendly name.
    pub display_name: Option<String>,
    /// The status word of failure responses.
    pub failure_word: String,
    /// Suspended tenants get 403 on every route.
    pub suspended: bool,
    /// Managed from `--manifests` rather than the admin API.
    pub declarative: bool,
    /// Effective quotas (operator defaults with this tenant's overrides).
    pub quotas: Quotas,
    /// Hashes of every live webhook key; several at once so keys can rotate.
    pub webhook_keys: Vec<KeyHash>,
    /// Hashes of the tenant's admin tokens.
    pub admin_tokens: Vec<KeyHash>,
    /// Live version of each action.
    pub actions: BTreeMap<ActionName, Arc<ActionVersion>>,
    /// The tenant's secrets, decrypted.
    pub secrets: SecretValues,
}

impl Tenant {
    /// The tenant's live document provider, if one of its live versions is one.
    pub fn provider(&self) -> Option<&Arc<ActionVersion>> {
        self.actions
            .values()
            .find(|action| action.grants.provider.is_some())
    }
}

/// Where the HTTP layer looks tenants up on the request path: an in-memory
/// snapshot, never a database round trip.
pub trait Registry: Send + Sync {
    /// The tenant named `name`, if any.
    fn tenant(&self, name: &str) -> Option<Arc<Tenant>>;

    /// How this replica stands in a cluster (`/readyz`); `None` for a
    /// backend that is not shared between processes.
    fn cluster_health(&self) -> Option<ClusterHealth> {
        None
    }

    /// This process's part of a cluster-wide per-tenant quota of `quota`
    /// (all of it when nothing is shared).
    fn concurrency_share(&self, quota: u32) -> u32 {
        quota
    }

    /// Ticks whenever snapshots change, including by another replica's
    /// writes, so modules can be loaded before the first request needs them;
    /// `None` for a store no other process writes to.
    fn changes(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }
}
