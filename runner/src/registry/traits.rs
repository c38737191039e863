//! The storage seams: one trait per concern, each implemented by both
//! backends (SQLite and PostgreSQL), and [`Storage`], all of them together.
//!
//! Shaped like [`KvBackend`]: methods return boxed futures so the traits can be
//! used as trait objects, and nothing in a signature belongs to one backend —
//! only Docket's own records (such as [`NewVersion`]) and [`StoreError`],
//! whose backend failures are messages. The request path never calls these; it
//! reads the in-memory snapshots of [`Registry`], which every write refreshes.
//! The embedded implementation is [`SqliteStore`](super::store::SqliteStore) (SQLite plus
//! files), the one replicas share is [`PgStore`](super::postgres::PgStore)
//! (PostgreSQL); the shared tests in `conformance.rs` hold every
//! implementation to the same behaviour
//! (`docs/architecture.md#the-storage-traits`).

use super::console_sessions::ConsoleSessionStore;
use super::error::StoreError;
use super::keys::KeyHash;
use super::oauth::OAuthStore;
use super::records::{
    ActionInfo, CheckedArtifact, CredentialInfo, InvocationQuery, InvocationRecord,
    InvocationSample, NewInvocation, NewTenant, NewVersion, RecentCall, SecretInfo, TenantInfo,
    VersionInfo,
};
use super::{ActionVersion, ModuleDigest, QuotaOverrides, Registry, Tenant};
use crate::capabilities::kv::KvBackend;
use crate::names::{ActionName, TenantName};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed future, so the storage traits can be trait objects.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Tenants: their rows, settings and quota overrides. Every write refreshes the
/// tenant's snapshot before it returns.
pub trait TenantStore: Send + Sync {
    /// Every tenant's snapshot.
    fn tenants(&self) -> Vec<Arc<Tenant>>;
    /// Creates a tenant with an admin token and a first webhook key, both
    /// returned once; [`StoreError::TenantExists`] if the name is taken.
    fn create_tenant<'a>(
        &'a self,
        name: &'a TenantName,
        display_name: Option<&'a str>,
        overrides: QuotaOverrides,
    ) -> StoreFuture<'a, NewTenant>;
    /// Lists every tenant, by name.
    fn list_tenants(&self) -> StoreFuture<'_, Vec<TenantInfo>>;
    /// Suspends or resumes a tenant, and merges quota overrides into its own.
    fn update_tenant<'a>(
        &'a self,
        name: &'a TenantName,
        suspended: Option<bool>,
        quotas: Option<QuotaOverrides>,
    ) -> StoreFuture<'a, ()>;
    /// Sets a tenant's failure word (already checked by the caller).
    fn set_failure_word<'a>(&'a self, name: &'a TenantName, word: &'a str) -> StoreFuture<'a, ()>;
    /// Deletes a tenant with everything it owns.
    fn delete_tenant<'a>(&'a self, name: &'a TenantName) -> StoreFuture<'a, ()>;
    /// Reloads one tenant's snapshot now, when another process may have
    /// changed it (a replica that has not yet heard of a change made through
    /// another): for a request that would otherwise be refused. Throttled;
    /// `Ok(true)` if it reloaded. A store no other process writes to has
    /// nothing to catch up with.
    fn catch_up<'a>(&'a self, _name: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async { Ok(false) })
    }
    /// Creates or updates a tenant managed from `--manifests`. Afterwards it
    /// has exactly one webhook key (`webhook_key`) and exactly one admin
    /// token (`admin_token`), both given as hashes: every other key and token
    /// of the tenant is deleted. [`StoreError::Declarative`] for an
    /// admin-API tenant.
    fn sync_declarative_tenant<'a>(
        &'a self,
        name: &'a TenantName,
        display_name: Option<&'a str>,
        failure_word: &'a str,
        webhook_key: &'a KeyHash,
        admin_token: &'a KeyHash,
    ) -> StoreFuture<'a, ()>;
}

/// Webhook keys (several live at once, at most
/// [`MAX_WEBHOOK_KEYS`](super::records::MAX_WEBHOOK_KEYS)), stored hashed.
pub trait CredentialStore: Send + Sync {
    /// Creates a webhook key; the plain key is returned once.
    fn create_webhook_key<'a>(
        &'a self,
        tenant: &'a TenantName,
    ) -> StoreFuture<'a, (CredentialInfo, String)>;
    /// Lists a tenant's webhook keys (hints only), oldest first.
    fn list_webhook_keys<'a>(
        &'a self,
        tenant: &'a TenantName,
    ) -> StoreFuture<'a, Vec<CredentialInfo>>;
    /// Revokes one webhook key; [`StoreError::UnknownKey`] if it is not the tenant's.
    fn revoke_webhook_key<'a>(&'a self, tenant: &'a TenantName, id: &'a str)
    -> StoreFuture<'a, ()>;
    /// Replaces every admin token of the tenant with a new one, returned
    /// once; the old tokens stop working at once.
    fn rotate_admin_token<'a>(&'a self, tenant: &'a TenantName) -> StoreFuture<'a, String>;
}

/// Tenant secrets, sealed at rest, counted against the storage quota.
pub trait SecretStore: Send + Sync {
    /// Sets (or replaces) a secret.
    fn put_secret<'a>(
        &'a self,
        tenant: &'a TenantName,
        name: &'a str,
        value: &'a [u8],
    ) -> StoreFuture<'a, ()>;
    /// Deletes a secret; [`StoreError::UnknownSecret`] if it is not set.
    fn delete_secret<'a>(&'a self, tenant: &'a TenantName, name: &'a str) -> StoreFuture<'a, ()>;
    /// Lists a tenant's secrets by name; values are never listed.
    fn list_secrets<'a>(&'a self, tenant: &'a TenantName) -> StoreFuture<'a, Vec<SecretInfo>>;
    /// A secret's value; `None` when it is not set or cannot be opened.
    fn read_secret<'a>(
        &'a self,
        tenant: &'a TenantName,
        name: &'a str,
    ) -> StoreFuture<'a, Option<Vec<u8>>>;
    /// The key that signs document links, derived from the operator's
    /// secrets key (the same on every replica sharing it).
    fn link_key(&self) -> [u8; 32];
}

/// Actions and their immutable versions, the live pointer, and the quotas
/// (action count, versions kept, stored bytes) that deploys must fit.
pub trait VersionStore: Send + Sync {
    /// Stores a new version and makes it live atomically, pruning versions
    /// past `maxVersions`; a refused deploy leaves nothing behind.
    fn deploy<'a>(&'a self, new: NewVersion<'a>) -> StoreFuture<'a, u32>;
    /// Whether one more version of `name` with this module fits the quotas,
    /// counting the manifest at its row overhead only.
    fn check_deploy_quota<'a>(
        &'a self,
        tenant: &'a Tenant,
        name: &'a ActionName,
        digest: &'a ModuleDigest,
        size: u64,
    ) -> StoreFuture<'a, ()>;
    /// Whether any of the tenant's versions uses this module.
    fn tenant_keeps_module<'a>(
        &'a self,
        tenant: &'a TenantName,
        digest: &'a ModuleDigest,
    ) -> StoreFuture<'a, bool>;
    /// Stored bytes the tenant controls, as the storage quota counts them.
    fn storage_used<'a>(&'a self, tenant: &'a TenantName) -> StoreFuture<'a, u64>;
    /// Every tenant's [`VersionStore::storage_used`], by tenant name, in a
    /// few grouped reads (the operator's tenant list); tenants with nothing
    /// stored are absent.
    fn storage_by_tenant(&self) -> StoreFuture<'_, std::collections::HashMap<String, u64>>;
    /// The live version's manifest text and module digest.
    fn live_source<'a>(
        &'a self,
        tenant: &'a TenantName,
        action: &'a ActionName,
    ) -> StoreFuture<'a, Option<(String, ModuleDigest)>>;
    /// Lists a tenant's actions, by name.
    fn list_actions<'a>(&'a self, tenant: &'a TenantName) -> StoreFuture<'a, Vec<ActionInfo>>;
    /// Lists every version of an action, newest first.
    fn list_versions<'a>(
        &'a self,
        tenant: &'a TenantName,
        action: &'a str,
    ) -> StoreFuture<'a, Vec<VersionInfo>>;
    /// One stored version, live or not.
    fn version<'a>(
        &'a self,
        tenant: &'a TenantName,
        action: &'a str,
        version: u32,
    ) -> StoreFuture<'a, ActionVersion>;
    /// Moves the live pointer (rollback, or forward again).
    fn set_live<'a>(
        &'a self,
        tenant: &'a TenantName,
        action: &'a str,
        version: u32,
    ) -> StoreFuture<'a, ()>;
    /// Deletes an action, its versions and its own key-value namespace.
    fn delete_action<'a>(&'a self, tenant: &'a TenantName, action: &'a str) -> StoreFuture<'a, ()>;
    /// Deletes the tenant's actions not in `keep`.
    fn retain_actions<'a>(
        &'a self,
        tenant: &'a TenantName,
        keep: &'a [ActionName],
    ) -> StoreFuture<'a, ()>;
}

/// Module bytes and compiled artifacts, content-addressed by module digest.
/// Modules are written by [`VersionStore::deploy`] and removed when no version
/// refers to them.
pub trait BlobStore: Send + Sync {
    /// The ABI recorded for a stored module.
    fn module_abi<'a>(&'a self, digest: &'a ModuleDigest) -> StoreFuture<'a, Option<String>>;
    /// A stored module's bytes.
    fn read_module<'a>(&'a self, digest: &'a ModuleDigest) -> StoreFuture<'a, Vec<u8>>;
    /// A compiled artifact for `engine`, only if it is the one Docket wrote.
    fn read_artifact<'a>(
        &'a self,
        digest: &'a ModuleDigest,
        engine: &'a str,
    ) -> StoreFuture<'a, Option<Vec<u8>>>;
    /// Records a compiled artifact for an already stored module.
    fn save_artifact<'a>(
        &'a self,
        digest: &'a ModuleDigest,
        engine: &'a str,
        artifact: &'a [u8],
    ) -> StoreFuture<'a, ()>;
    /// As [`BlobStore::read_artifact`], but as a checked local file when the
    /// backend keeps the artifact as one, so it can be memory-mapped rather
    /// than copied; else its bytes.
    fn open_artifact<'a>(
        &'a self,
        digest: &'a ModuleDigest,
        engine: &'a str,
    ) -> StoreFuture<'a, Option<CheckedArtifact>> {
        Box::pin(async move {
            Ok(self
                .read_artifact(digest, engine)
                .await?
                .map(CheckedArtifact::Bytes))
        })
    }
}

/// The invocation log: appended in batches, pruned to the newest
/// `maxInvocationRecords` of each tenant ([`super::Quotas`]) and by
/// age ([`InvocationLog::prune_invocations`]).
pub trait InvocationLog: Send + Sync {
    /// Appends records; those of tenants that no longer exist are skipped.
    fn record_invocations<'a>(&'a self, batch: &'a [NewInvocation]) -> StoreFuture<'a, ()>;
    /// A tenant's records matching `query`: newest first, or oldest first
    /// when it asks for those after an id.
    fn list_invocations<'a>(
        &'a self,
        tenant: &'a TenantName,
        query: &'a InvocationQuery,
    ) -> StoreFuture<'a, Vec<InvocationRecord>>;
    /// One record by id; `None` if it is not the tenant's (or was pruned).
    fn invocation<'a>(
        &'a self,
        tenant: &'a TenantName,
        id: i64,
    ) -> StoreFuture<'a, Option<InvocationRecord>>;
    /// Deletes every tenant's records that started before `older_than_ms`;
    /// returns how many.
    fn prune_invocations(&self, older_than_ms: i64) -> StoreFuture<'_, u64>;
    /// The versions, of every tenant, with an invocation recorded since
    /// `since_ms`: each once, with its newest record's time, newest first,
    /// at most `limit` of them. Whether each is still live is the caller's
    /// business (what a start warms first).
    fn recently_called(&self, since_ms: i64, limit: u32) -> StoreFuture<'_, Vec<RecentCall>>;
    /// The newest `limit` invocations since `since_ms`, of one tenant or
    /// (`None`) of every tenant, as samples for charts: newest first.
    fn invocation_samples<'a>(
        &'a self,
        tenant: Option<&'a TenantName>,
        since_ms: i64,
        limit: u32,
    ) -> StoreFuture<'a, Vec<InvocationSample>>;
    /// The newest `limit` invocations of a tenant's actions, newest first.
    fn recent_invocations<'a>(
        &'a self,
        tenant: &'a TenantName,
        limit: u32,
    ) -> StoreFuture<'a, Vec<InvocationRecord>> {
        Box::pin(async move {
            let query = InvocationQuery {
                limit,
                ..InvocationQuery::default()
            };
            self.list_invocations(tenant, &query).await
        })
    }
}

/// Everything a storage backend provides: what [`SqliteStore`](super::store::SqliteStore)
/// and [`PgStore`](super::postgres::PgStore) each implement.
pub trait Storage:
    Registry
    + TenantStore
    + CredentialStore
    + SecretStore
    + VersionStore
    + BlobStore
    + InvocationLog
    + KvBackend
    + OAuthStore
    + ConsoleSessionStore
{
}

impl<T> Storage for T where
    T: Registry
        + TenantStore
        + CredentialStore
        + SecretStore
        + VersionStore
        + BlobStore
        + InvocationLog
        + KvBackend
        + OAuthStore
        + ConsoleSessionStore
{
}
