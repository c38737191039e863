//! The manifests as written: serde structs that deny unknown keys. Only names
//! are checked while the TOML parses ([`ActionName`]); everything else is
//! checked afterwards, by [`super::ActionManifest::parse`], into a
//! [`ManifestError`] naming the field.

use super::{MAX_GRANTED_SECRETS, MAX_OUTBOUND_HOSTS, ManifestError};
use crate::capabilities::Grants;
use crate::capabilities::hosts::HostPattern;
use crate::capabilities::kv::KvScope;
use crate::limits::Limits;
use crate::names::{ActionName, DocEndpoint, SecretName};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// An action manifest, `manifests/<tenant>/<action>.toml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawAction {
    /// `manifest-version = 1`: the format; absent means 1.
    pub manifest_version: Option<u32>,
    /// `name = "archive"`: the `name` Workfront sends.
    pub name: ActionName,
    /// `display-name = "Archive document"`: the menu label (default: `name`).
    pub display_name: Option<String>,
    /// `kind = "provider"`: the tenant's document provider; absent or
    /// `"action"` for a custom action.
    pub kind: Option<String>,
    /// `endpoints = ["metadata", "files"]`: the document endpoints a
    /// provider answers (required for a command module; a component's
    /// exports say it, and the list may only name exported ones).
    pub endpoints: Option<Vec<String>>,
    /// `module = "../../actions-wasm/dist/archive.wasm"`: relative to the file;
    /// absent in an admin deploy, where the module travels beside the manifest.
    pub module: Option<PathBuf>,
    /// `[limits]`: each key optional, defaults in `limits.rs`.
    #[serde(default)]
    pub limits: RawLimits,
    /// `[capabilities]`: nothing is granted by default.
    #[serde(default)]
    pub capabilities: RawCapabilities,
    /// `[config]`: `folder = "Archive"`; strings, numbers or booleans.
    #[serde(default)]
    pub config: BTreeMap<String, toml::Value>,
    /// `[run-log]`: what the tenant's run log keeps of each invocation.
    #[serde(default)]
    pub run_log: RawRunLog,
}

/// `[run-log]` of an action manifest.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawRunLog {
    /// `record-inputs = false`: keep no document ids, user or parameters.
    #[serde(default = "recorded")]
    pub record_inputs: bool,
}

impl Default for RawRunLog {
    fn default() -> Self {
        Self {
            record_inputs: recorded(),
        }
    }
}

fn recorded() -> bool {
    true
}

/// `[limits]` of an action manifest or of `tenant.toml`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawLimits {
    /// `timeout-ms = 5000`
    pub timeout_ms: Option<u64>,
    /// `memory-mb = 64`
    pub memory_mb: Option<u64>,
    /// `fuel = 0` (0 = off)
    pub fuel: Option<u64>,
    /// `max-output-kb = 64`
    pub max_output_kb: Option<u64>,
    /// `instance-reuse = 1` (1 = a fresh instance per request)
    pub instance_reuse: Option<u32>,
}

/// `[capabilities]` of an action manifest.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawCapabilities {
    /// `allowed-outbound-hosts = ["https://api.example.com", "https://*.slack.com"]`
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    /// `secrets = ["workfront-api-key"]`: tenant secrets the action may read.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// `key-value = "action"` or `"tenant"`; absent = no key-value store.
    pub key_value: Option<String>,
    /// `propagate-trace = true`: outbound requests carry the W3C `traceparent`.
    #[serde(default)]
    pub propagate_trace: bool,
    /// `blob = true`: the tenant's blob storage (document providers only).
    #[serde(default)]
    pub blob: bool,
}

/// A tenant manifest, `manifests/<tenant>/tenant.toml`; every key optional.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawTenant {
    /// `display-name = "Demo Inc."`
    pub display_name: Option<String>,
    /// `failure-word = "failure"`: the status word of failure responses.
    pub failure_word: Option<String>,
    /// `[limits]`: this tenant's ceilings, under the operator's.
    #[serde(default)]
    pub limits: RawLimits,
}

impl RawCapabilities {
    /// The outbound hosts and key-value scope, checked.
    pub fn grants(&self) -> Result<Grants, ManifestError> {
        check_count(
            "capabilities.allowed-outbound-hosts",
            self.allowed_outbound_hosts.len(),
            MAX_OUTBOUND_HOSTS,
        )?;
        check_count(
            "capabilities.secrets",
            self.secrets.len(),
            MAX_GRANTED_SECRETS,
        )?;
        let allowed_outbound_hosts = self
            .allowed_outbound_hosts
            .iter()
            .map(|entry| {
                HostPattern::parse(entry).map_err(|why| ManifestError::BadHostPattern {
                    entry: entry.clone(),
                    why,
                })
            })
            .collect::<Result<_, _>>()?;
        let key_value = match self.key_value.as_deref() {
            None => None,
            Some("tenant") => Some(KvScope::Tenant),
            Some("action") => Some(KvScope::Action),
            Some(other) => {
                return Err(ManifestError::BadKeyValueScope {
                    value: other.to_owned(),
                });
            }
        };
        Ok(Grants {
            allowed_outbound_hosts,
            key_value,
            propagate_trace: self.propagate_trace,
            skip_input_recording: false,
            blob: self.blob,
            provider: None,
        })
    }

    /// The granted secret names, checked.
    pub fn secret_names(self) -> Result<Vec<SecretName>, ManifestError> {
        self.secrets
            .into_iter()
            .map(|name| SecretName::new(name).map_err(ManifestError::BadSecretName))
            .collect()
    }
}

impl RawLimits {
    /// These limits, each key that is absent taken from `base`.
    pub fn over(&self, base: Limits) -> Limits {
        Limits {
            timeout_ms: self.timeout_ms.unwrap_or(base.timeout_ms),
            memory_mb: self.memory_mb.unwrap_or(base.memory_mb),
            fuel: self.fuel.unwrap_or(base.fuel),
            max_output_kb: self.max_output_kb.unwrap_or(base.max_output_kb),
            instance_reuse: self.instance_reuse.unwrap_or(base.instance_reuse),
        }
    }
}

impl RawAction {
    /// `None` for a custom action; for a provider, the endpoints its
    /// manifest lists (empty: what its component exports).
    pub fn provider(&self) -> Result<Option<Vec<DocEndpoint>>, ManifestError> {
        let provider = match self.kind.as_deref() {
            None | Some("action") => false,
            Some("provider") => true,
            Some(other) => {
                return Err(ManifestError::BadKind {
                    value: other.to_owned(),
                });
            }
        };
        if !provider {
            return match (&self.endpoints, self.capabilities.blob) {
                (Some(_), _) => Err(ManifestError::ProviderOnly { key: "endpoints" }),
                (None, true) => Err(ManifestError::ProviderOnly {
                    key: "capabilities.blob",
                }),
                (None, false) => Ok(None),
            };
        }
        let mut endpoints = Vec::new();
        for name in self.endpoints.iter().flatten() {
            let endpoint = DocEndpoint::parse(name).ok_or_else(|| ManifestError::BadEndpoint {
                value: name.clone(),
            })?;
            if !endpoints.contains(&endpoint) {
                endpoints.push(endpoint);
            }
        }
        endpoints.sort();
        Ok(Some(endpoints))
    }
}

/// Refuses a list or table of more than `limit` entries.
pub(super) fn check_count(
    field: &'static str,
    count: usize,
    limit: usize,
) -> Result<(), ManifestError> {
    if count > limit {
        return Err(ManifestError::TooManyEntries {
            field,
            count,
            limit,
        });
    }
    Ok(())
}
