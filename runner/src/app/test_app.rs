//! What the app's unit tests share: an [`App`] over a fresh SQLite store
//! with tenant `acme`, and small distinct modules to deploy.

use super::{App, ServiceSettings};
use crate::capabilities::HostServices;
use crate::capabilities::kv::KvLimits;
use crate::capabilities::outbound::{OutboundClient, OutboundSettings};
use crate::engine::{Engine, EngineSettings};
use crate::names::TenantName;
use crate::registry::Quotas;
use crate::registry::secrets::SecretBox;
use crate::registry::store::SqliteStore;
use std::sync::Arc;

/// An app on one WebAssembly thread over a store in `dir`, with tenant
/// `acme` created; returns the app and the tenant's name.
pub(super) async fn app_with_acme(dir: &std::path::Path) -> (Arc<App>, TenantName) {
    let store = SqliteStore::open(dir, Quotas::default(), SecretBox::new([7; 32]))
        .await
        .unwrap();
    let store: Arc<dyn crate::registry::Storage> = Arc::new(store);
    let services = HostServices {
        outbound: Arc::new(OutboundClient::new(OutboundSettings::default()).unwrap()),
        kv: store.clone(),
        kv_limits: KvLimits::default(),
        blob: crate::capabilities::blob::BlobStore::new(dir.join("blobs"), 1 << 30),
    };
    let engine = Arc::new(Engine::new(EngineSettings::default()).unwrap());
    let settings = ServiceSettings {
        wasm_threads: 1,
        ..ServiceSettings::default()
    };
    let app = Arc::new(App::new(engine, store.clone(), services, settings));
    let name = TenantName::new("acme").unwrap();
    store
        .create_tenant(&name, None, Default::default())
        .await
        .unwrap();
    (app, name)
}

/// A command module that differs by `tag`, so each gets its own digest.
pub(super) fn module(tag: u32) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module (memory (export "memory") 1) (global i32 (i32.const {tag})) (func (export "_start")))"#
    ))
    .unwrap()
}
