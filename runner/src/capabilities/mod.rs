//! What an action may reach beyond computing: outbound HTTP to allow-listed
//! hosts and a key-value store. Each is granted per action in its manifest
//! (`[capabilities]`) and denied otherwise, with a message naming the key to set.
//! Config and secrets travel in the request itself (see `engine::request`).
//!
//! # Layout
//!
//! One module per capability, each owning its grant, its per-invocation
//! budget, its `add_to_linker` for components and its `host_call` operations
//! for command modules, in the way Spin's factors own theirs:
//!
//! - [`blob`]: per-tenant object storage for document providers
//!   (`docket:provider/blob`, `blob.*`).
//! - [`kv`]: the key-value store (`wasi:keyvalue`, `kv.*`), behind [`kv::KvBackend`].
//! - [`outbound`]: outbound HTTP (`wasi:http`, `http`), with [`hosts`] its allow-list.
//! - [`config`]: `wasi:config/store` (config and granted secrets; command
//!   modules read them from their request).
//! - [`host_call`]: the command ABI's one import, routing each operation to its capability.
//!
//! The engine depends on these modules; they know nothing of the engine.

pub mod blob;
pub mod host_call;
pub mod hosts;
pub mod kv;
pub mod outbound;
pub mod wasi_config;

use blob::{BlobBucket, BlobStore};
use hosts::HostPattern;
use kv::{KvBackend, KvBucket, KvLimits, KvScope};
use outbound::{OutboundClient, OutboundGrant};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Instant;

/// The capabilities one action version's manifest grants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Grants {
    /// `allowed-outbound-hosts`: where outbound HTTP may go.
    pub allowed_outbound_hosts: Vec<HostPattern>,
    /// `key-value`: the action's key-value namespace, if any.
    pub key_value: Option<KvScope>,
    /// `propagate-trace`: outbound requests carry the invocation's W3C
    /// `traceparent` (only while Docket exports traces).
    pub propagate_trace: bool,
    /// `[run-log] record-inputs = false`: the run log keeps no document ids,
    /// user or parameters of this action's invocations (and they cannot be
    /// replayed). Kept with the grants, as the version's other manifest
    /// switches are.
    pub skip_input_recording: bool,
    /// `blob = true`: the tenant's blob storage (document providers).
    pub blob: bool,
    /// `kind = "provider"`: the document endpoints this version answers,
    /// in Workfront's names; `None` for a custom action. Kept with the
    /// grants, as the version's other manifest switches are.
    pub provider: Option<Vec<crate::names::DocEndpoint>>,
}

/// The process-wide services capabilities are served from.
#[derive(Clone)]
pub struct HostServices {
    /// The shared outbound HTTP client with its SSRF guard and limits.
    pub outbound: Arc<OutboundClient>,
    /// Where key-value data lives.
    pub kv: Arc<dyn KvBackend>,
    /// Operator limits on key-value data.
    pub kv_limits: KvLimits,
    /// Where blobs live.
    pub blob: Arc<BlobStore>,
}

impl HostServices {
    /// One invocation's capabilities: what `grants` allows, for `action` of
    /// `tenant`, until `deadline`.
    pub fn for_invocation(
        &self,
        grants: &Grants,
        tenant: &str,
        action: &str,
        deadline: Instant,
    ) -> Capabilities {
        let outbound = (!grants.allowed_outbound_hosts.is_empty()).then(|| {
            Arc::new(
                OutboundGrant::new(
                    self.outbound.clone(),
                    format!("{tenant}/{action}"),
                    grants.allowed_outbound_hosts.clone().into(),
                    deadline,
                )
                .with_trace_propagation(grants.propagate_trace),
            )
        });
        let kv = grants
            .key_value
            .map(|scope| KvBucket::new(self.kv.clone(), tenant, action, scope, self.kv_limits));
        let blob = grants.blob.then(|| self.blob.bucket(tenant));
        Capabilities { outbound, kv, blob }
    }
}

/// What one invocation may use; `None` where its manifest grants nothing.
#[derive(Default)]
pub struct Capabilities {
    /// Outbound HTTP, when `allowed-outbound-hosts` is not empty.
    pub outbound: Option<Arc<OutboundGrant>>,
    /// The key-value namespace, when `key-value` is set.
    pub kv: Option<KvBucket>,
    /// The tenant's blobs, when `blob = true`.
    pub blob: Option<BlobBucket>,
}
