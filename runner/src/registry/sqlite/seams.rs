//! The storage traits, implemented for the embedded store by delegating to its
//! inherent methods (which callers that hold a `Store` keep using directly).

use crate::names::{ActionName, TenantName};
use crate::registry::keys::KeyHash;
use crate::registry::records::{
    ActionInfo, CredentialInfo, InvocationRecord, NewInvocation, NewTenant, NewVersion, SecretInfo,
    TenantInfo, VersionInfo,
};
use crate::registry::store::Store;
use crate::registry::traits::{
    BlobStore, CredentialStore, InvocationLog, SecretStore, StoreFuture, TenantStore, VersionStore,
};
use crate::registry::{ActionVersion, ModuleDigest, QuotaOverrides, Tenant};
use std::sync::Arc;

impl TenantStore for Store {
    fn tenants(&self) -> Vec<Arc<Tenant>> {
        Store::tenants(self)
    }

    fn create_tenant<'a>(
        &'a self,
        name: &'a TenantName,
        display_name: Option<&'a str>,
        overrides: QuotaOverrides,
    ) -> StoreFuture<'a, NewTenant> {
        Box::pin(Store::create_tenant(self, name, display_name, overrides))
    }

    fn list_tenants(&self) -> StoreFuture<'_, Vec<TenantInfo>> {
        Box::pin(Store::list_tenants(self))
    }

    fn update_tenant<'a>(
        &'a self,
        name: &'a TenantName,
        suspended: Option<bool>,
        quotas: Option<QuotaOverrides>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(Store::update_tenant(self, name, suspended, quotas))
    }

    fn set_failure_word<'a>(&'a self, name: &'a TenantName, word: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(Store::set_failure_word(self, name, word))
    }

    fn delete_tenant<'a>(&'a self, name: &'a TenantName) -> StoreFuture<'a, ()> {
        Box::pin(Store::delete_tenant(self, name))
    }

    fn sync_declarative_tenant<'a>(
        &'a self,
        name: &'a TenantName,
        display_name: Option<&'a str>,
        failure_word: &'a str,
        webhook_key: &'a KeyHash,
    ) -> StoreFuture<'a, ()> {
        Box::pin(Store::sync_declarative_tenant(
            self,
            name,
            display_name,
            failure_word,
            webhook_key,
        ))
    }
}

impl CredentialStore for Store {
    fn create_webhook_key<'a>(
        &'a self,
        tenant: &'a TenantName,
    ) -> StoreFuture<'a, (CredentialInfo, String)> {
        Box::pin(Store::create_webhook_key(self, tenant))
    }

    fn list_webhook_keys<'a>(
        &'a self,
        tenant: &'a TenantName,
    ) -> StoreFuture<'a, Vec<CredentialInfo>> {
        Box::pin(Store::list_webhook_keys(self, tenant))
    }

    fn revoke_webhook_key<'a>(
        &'a self,
        tenant: &'a TenantName,
        id: &'a str,
    ) -> StoreFuture<'a, ()> {
        Box::pin(Store::revoke_webhook_key(self, tenant, id))
    }
}

impl SecretStore for Store {
    fn put_secret<'a>(
        &'a self,
        tenant: &'a TenantName,
        name: &'a str,
        value: &'a [u8],
    ) -> StoreFuture<'a, ()> {
        Box::pin(Store::put_secret(self, tenant, name, value))
    }

    fn delete_secret<'a>(&'a self, tenant: &'a TenantName, name: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(Store::delete_secret(self, tenant, name))
    }

    fn list_secrets<'a>(&'a self, tenant: &'a TenantName) -> StoreFuture<'a, Vec<SecretInfo>> {
        Box::pin(Store::list_secrets(self, tenant))
    }

    fn read_secret<'a>(
        &'a self,
        tenant: &'a TenantName,
        name: &'a str,
    ) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(Store::read_secret(self, tenant, name))
    }
}

impl VersionStore for Store {
    fn deploy<'a>(&'a self, new: NewVersion<'a>) -> StoreFuture<'a, u32> {
        Box::pin(Store::deploy(self, new))
    }

    fn check_deploy_quota<'a>(
        &'a self,
        tenant: &'a Tenant,
        name: &'a ActionName,
        digest: &'a ModuleDigest,
        size: u64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(Store::check_deploy_quota(self, tenant, name, digest, size))
    }

    fn tenant_keeps_module<'a>(
        &'a self,
        tenant: &'a TenantName,
        digest: &'a ModuleDigest,
    ) -> StoreFuture<'a, bool> {
        Box::pin(Store::tenant_keeps_module(self, tenant, digest))
    }

    fn storage_used<'a>(&'a self, tenant: &'a TenantName) -> StoreFuture<'a, u64> {
        Box::pin(Store::storage_used(self, tenant))
    }

    fn live_source<'a>(
        &'a self,
        tenant: &'a TenantName,
        action: &'a ActionName,
    ) -> StoreFuture<'a, Option<(String, ModuleDigest)>> {
        Box::pin(Store::live_source(self, tenant, action))
    }

    fn list_actions<'a>(&'a self, tenant: &'a TenantName) -> StoreFuture<'a, Vec<ActionInfo>> {
        Box::pin(Store::list_actions(self, tenant))
    }

    fn list_versions<'a>(
        &'a self,
        tenant: &'a TenantName,
        action: &'a str,
    ) -> StoreFuture<'a, Vec<VersionInfo>> {
        Box::pin(Store::list_versions(self, tenant, action))
    }

    fn version<'a>(
        &'a self,
        tenant: &'a TenantName,
        action: &'a str,
        version: u32,
    ) -> StoreFuture<'a, ActionVersion> {
        Box::pin(Store::version(self, tenant, action, version))
    }

    fn set_live<'a>(
        &'a self,
        tenant: &'a TenantName,
        action: &'a str,
        version: u32,
    ) -> StoreFuture<'a, ()> {
        Box::pin(Store::set_live(self, tenant, action, version))
    }

    fn delete_action<'a>(&'a self, tenant: &'a TenantName, action: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(Store::delete_action(self, tenant, action))
    }

    fn retain_actions<'a>(
        &'a self,
        tenant: &'a TenantName,
        keep: &'a [ActionName],
    ) -> StoreFuture<'a, ()> {
        Box::pin(Store::retain_actions(self, tenant, keep))
    }
}

impl BlobStore for Store {
    fn module_abi<'a>(&'a self, digest: &'a ModuleDigest) -> StoreFuture<'a, Option<String>> {
        Box::pin(Store::module_abi(self, digest))
    }

    fn read_module<'a>(&'a self, digest: &'a ModuleDigest) -> StoreFuture<'a, Vec<u8>> {
        Box::pin(async move { Store::read_module(self, digest) })
    }

    fn read_artifact<'a>(
        &'a self,
        digest: &'a ModuleDigest,
        engine: &'a str,
    ) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(Store::read_artifact(self, digest, engine))
    }

    fn save_artifact<'a>(
        &'a self,
        digest: &'a ModuleDigest,
        engine: &'a str,
        artifact: &'a [u8],
    ) -> StoreFuture<'a, ()> {
        Box::pin(Store::save_artifact(self, digest, engine, artifact))
    }
}

impl InvocationLog for Store {
    fn record_invocations<'a>(&'a self, batch: &'a [NewInvocation]) -> StoreFuture<'a, ()> {
        Box::pin(Store::record_invocations(self, batch))
    }

    fn recent_invocations<'a>(
        &'a self,
        tenant: &'a TenantName,
        limit: u32,
    ) -> StoreFuture<'a, Vec<InvocationRecord>> {
        Box::pin(Store::recent_invocations(self, tenant, limit))
    }
}
