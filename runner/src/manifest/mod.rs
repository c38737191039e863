//! Action and tenant manifests (`docs/architecture.md#manifests`), parsed strictly.
//!
//! Every table denies unknown keys, so a typo such as `timeout_ms` is an error that
//! names the key and its line instead of a silently ignored setting.
//!
//! An action manifest, `manifests/<tenant>/<action>.toml`:
//!
//! ```toml
//! name = "archive"                  # the `name` Workfront sends
//! display-name = "Archive document" # shown under Document Actions (default: name)
//! kind = "action"                   # or "provider": the tenant's document provider
//! endpoints = ["metadata", "files"] # a provider's endpoints (command modules must list them)
//! module = "../../actions-wasm/dist/archive.wasm"  # relative to this file
//! [limits]                          # each key optional; defaults in `limits.rs`
//! timeout-ms = 5000
//! memory-mb = 64
//! fuel = 0
//! max-output-kb = 64
//! instance-reuse = 1                # >1: one component instance answers that many requests
//! [capabilities]
//! allowed-outbound-hosts = ["https://api.example.com", "https://*.slack.com"]
//! key-value = "action"              # or "tenant"; absent = no key-value store
//! secrets = ["workfront-api-key"]  # tenant secrets the action may read
//! blob = true                       # the tenant's blob storage (providers only)
//! propagate-trace = true            # outbound requests carry the W3C traceparent (default false)
//! [run-log]
//! record-inputs = false             # keep no document ids, user or params (default true)
//! [config]                          # strings, numbers or booleans; given to the action as strings
//! folder = "Archive"
//! ```
//!
//! A tenant manifest, `manifests/<tenant>/tenant.toml`, all keys optional:
//!
//! ```toml
//! display-name = "Demo Inc."
//! failure-word = "failure"          # the status word of failure responses
//! [limits]                          # this tenant's ceilings, under the operator's
//! timeout-ms = 10000
//! ```
//!
//! The module: the checked types and their `parse` here, the serde structs as
//! written in `raw`, the refusals in `error` ([`ManifestError`] for a text,
//! [`ManifestFileError`] for a file or directory), files and directories in
//! `files`. Snapshots of valid and invalid manifests are in `runner/tests/ui/`.

use crate::capabilities::Grants;
use crate::limits::{Ceilings, Limits};
use crate::names::{ActionName, SecretName, TenantName};
use raw::{RawAction, RawTenant, check_count};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod error;
mod files;
mod raw;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod ui_tests;

pub use error::{ManifestError, ManifestFileError};
pub use files::load_dir;

/// The manifest format this build reads.
pub const MANIFEST_VERSION: u32 = 1;

/// The file name of a tenant's own settings inside its manifest directory.
pub const TENANT_FILE: &str = "tenant.toml";

// Bounds on what a manifest may hold. A manifest is stored with every version and
// its display name is served to anyone by `serviceInfo`, so nothing in it may be
// unbounded; each bound is far above what a real action needs.

/// Largest manifest accepted, in bytes; checked before the TOML is parsed.
pub const MAX_MANIFEST_BYTES: usize = 64 * 1024;
/// Longest `display-name`, in characters: it is a label in Workfront's menu.
pub const MAX_DISPLAY_NAME_CHARS: usize = 128;
/// Most `[config]` entries in one manifest.
pub const MAX_CONFIG_ENTRIES: usize = 64;
/// Longest `[config]` key, in bytes.
pub const MAX_CONFIG_KEY_BYTES: usize = 128;
/// Longest `[config]` value (as the string the action receives), in bytes.
pub const MAX_CONFIG_VALUE_BYTES: usize = 4 * 1024;
/// Most entries in `allowed-outbound-hosts`.
pub const MAX_OUTBOUND_HOSTS: usize = 32;
/// Most entries in `capabilities.secrets`: as many as a tenant may keep.
pub const MAX_GRANTED_SECRETS: usize = crate::limits::MAX_SECRETS;

/// A parsed, checked action manifest. It serializes (for the snapshots in
/// `runner/tests/ui/valid/`) with the TOML's key names.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ActionManifest {
    /// The name Workfront sends as `customAction?name=`.
    pub name: ActionName,
    /// The label users see under Document Actions.
    pub display_name: String,
    /// The module file, resolved against the manifest's directory; `None` when the
    /// module travels beside the manifest (an admin deploy).
    pub module: Option<PathBuf>,
    /// The limits each invocation runs under.
    pub limits: Limits,
    /// Values handed to the action in its request, as strings.
    pub config: BTreeMap<String, String>,
    /// Names of the tenant secrets the action may read.
    pub secrets: Vec<SecretName>,
    /// Outbound hosts and key-value access (`[capabilities]`).
    pub grants: Grants,
}

/// A tenant's settings from `tenant.toml`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct TenantSettings {
    /// A human-friendly name for logs and listings.
    pub display_name: Option<String>,
    /// The status word of failure responses (`"failure"`, or `"error"` for
    /// integrations that follow that translation of the spec).
    pub failure_word: String,
    /// This tenant's limit ceilings, already combined with the operator's.
    pub ceilings: Ceilings,
}

/// One tenant's directory of manifests.
#[derive(Debug, Clone)]
pub struct TenantManifests {
    /// The tenant, named by its directory.
    pub name: TenantName,
    /// From `tenant.toml`, or the defaults.
    pub settings: TenantSettings,
    /// Each action with the file it came from, sorted by file name.
    pub actions: Vec<(PathBuf, ActionManifest)>,
}

/// Why a document provider may not set `instance-reuse` above 1.
const REUSE_PROVIDER: &str = "a document provider gets a fresh instance for every request; \
     remove the key or set it to 1";

/// Why a command module may not set `instance-reuse` above 1.
const REUSE_COMMAND: &str = "the module is a command, whose `_start` runs once per instance, \
     so each request needs a fresh one; remove the key or build the action as a component";

/// The failure word used when a tenant does not set one.
pub const DEFAULT_FAILURE_WORD: &str = "failure";

impl ActionManifest {
    /// Parses and checks a manifest's text against the ceilings that apply to it.
    /// Errors name the field, not the file; callers add the file name.
    pub fn parse(text: &str, ceilings: &Ceilings) -> Result<Self, ManifestError> {
        check_manifest_size(text.len())?;
        let raw: RawAction = toml::from_str(text).map_err(|e| ManifestError::from_toml(e, text))?;
        check_version(raw.manifest_version)?;
        let mut grants = raw.capabilities.grants()?;
        grants.skip_input_recording = !raw.run_log.record_inputs;
        grants.provider = raw.provider()?;
        let limits = raw.limits.over(Limits::default());
        ceilings
            .check(&limits)
            .map_err(ManifestError::OverCeiling)?;
        if limits.timeout_ms == 0
            || limits.memory_mb == 0
            || limits.max_output_kb == 0
            || limits.instance_reuse == 0
        {
            return Err(ManifestError::ZeroLimit);
        }
        if grants.provider.is_some() && limits.instance_reuse > 1 {
            return Err(ManifestError::InstanceReuse {
                reuse: limits.instance_reuse,
                why: REUSE_PROVIDER,
            });
        }
        let display_name = raw
            .display_name
            .unwrap_or_else(|| raw.name.as_str().to_owned());
        check_display_name(&display_name)?;
        check_count("config", raw.config.len(), MAX_CONFIG_ENTRIES)?;
        let config = raw
            .config
            .into_iter()
            .map(|(key, value)| {
                let value = config_value(&key, value)?;
                check_config_entry(&key, &value)?;
                Ok((key, value))
            })
            .collect::<Result<_, ManifestError>>()?;
        let secrets = raw.capabilities.secret_names()?;
        Ok(Self {
            name: raw.name,
            display_name,
            module: raw.module,
            limits,
            config,
            secrets,
            grants,
        })
    }

    /// Checks the manifest of a module found, once compiled (a deploy,
    /// `docket check`, a declarative start), to be a command module: only a
    /// component may reuse its instances, because a command module's
    /// `_start` runs once per instance. (The ABI is the engine's to tell,
    /// a layer this module does not import.)
    pub fn check_command_module(&self) -> Result<(), ManifestError> {
        if self.limits.instance_reuse > 1 {
            return Err(ManifestError::InstanceReuse {
                reuse: self.limits.instance_reuse,
                why: REUSE_COMMAND,
            });
        }
        Ok(())
    }

    /// Reads and checks a manifest file; a relative `module` is resolved against
    /// the file's directory and must be present.
    pub fn load(path: &Path, ceilings: &Ceilings) -> Result<Self, ManifestFileError> {
        let text = files::read(path)?;
        let invalid = |error| ManifestFileError::Invalid {
            path: path.to_owned(),
            error,
        };
        let mut manifest = Self::parse(&text, ceilings).map_err(invalid)?;
        let module = manifest
            .module
            .take()
            .ok_or_else(|| invalid(ManifestError::MissingModule))?;
        let base = path.parent().unwrap_or(Path::new("."));
        manifest.module = Some(base.join(module));
        Ok(manifest)
    }
}

impl TenantSettings {
    /// The settings of a tenant without a `tenant.toml`.
    pub fn defaults(operator: Ceilings) -> Self {
        Self {
            display_name: None,
            failure_word: DEFAULT_FAILURE_WORD.to_owned(),
            ceilings: operator,
        }
    }

    /// Parses `tenant.toml` text; the tenant's ceilings may only tighten the operator's.
    pub fn parse(text: &str, operator: Ceilings) -> Result<Self, ManifestError> {
        check_manifest_size(text.len())?;
        let raw: RawTenant = toml::from_str(text).map_err(|e| ManifestError::from_toml(e, text))?;
        if let Some(name) = &raw.display_name {
            check_display_name(name)?;
        }
        let failure_word = raw
            .failure_word
            .unwrap_or_else(|| DEFAULT_FAILURE_WORD.to_owned());
        failure_word_error(&failure_word)?;
        let asked = raw.limits.over(Limits {
            timeout_ms: operator.timeout_ms,
            memory_mb: operator.memory_mb,
            fuel: operator.fuel,
            max_output_kb: operator.max_output_kb,
            instance_reuse: operator.instance_reuse,
        });
        let tenant = Ceilings {
            timeout_ms: asked.timeout_ms,
            memory_mb: asked.memory_mb,
            fuel: asked.fuel,
            max_output_kb: asked.max_output_kb,
            instance_reuse: asked.instance_reuse,
        };
        operator
            .check(&asked)
            .map_err(ManifestError::OverOperatorCeiling)?;
        Ok(Self {
            display_name: raw.display_name,
            failure_word,
            ceilings: operator.min(tenant),
        })
    }
}

/// Checks a failure word: what Workfront reads in `status` of a failed call.
/// The message is the one `tenant.toml` gets; the admin API answers it as is.
pub fn check_failure_word(word: &str) -> Result<(), String> {
    failure_word_error(word).map_err(|e| e.to_string())
}

fn failure_word_error(word: &str) -> Result<(), ManifestError> {
    let ok = !word.is_empty()
        && word.len() <= 32
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(ManifestError::BadFailureWord {
            word: word.to_owned(),
        });
    }
    if word == "success" {
        return Err(ManifestError::FailureWordIsSuccess);
    }
    Ok(())
}

fn check_version(version: Option<u32>) -> Result<(), ManifestError> {
    match version {
        None | Some(MANIFEST_VERSION) => Ok(()),
        Some(version) => Err(ManifestError::UnsupportedVersion { version }),
    }
}

/// Refuses a manifest over [`MAX_MANIFEST_BYTES`], before any parsing.
pub fn check_manifest_size(bytes: usize) -> Result<(), ManifestError> {
    if bytes > MAX_MANIFEST_BYTES {
        return Err(ManifestError::TooLarge { bytes });
    }
    Ok(())
}

/// The refusal of a manifest read as a stream and cut off past
/// [`MAX_MANIFEST_BYTES`], whose full size is not known.
pub fn manifest_too_large() -> ManifestError {
    ManifestError::TooLargeStream
}

/// Checks a display name: what Workfront shows in its Document Actions menu
/// (and a tenant's label in listings).
pub fn check_display_name(name: &str) -> Result<(), ManifestError> {
    if name.trim().is_empty() {
        return Err(ManifestError::EmptyDisplayName);
    }
    let chars = name.chars().count();
    if chars > MAX_DISPLAY_NAME_CHARS {
        return Err(ManifestError::DisplayNameTooLong { chars });
    }
    // A menu label is one line; control characters would only garble it.
    if name.chars().any(char::is_control) {
        return Err(ManifestError::DisplayNameControlChars);
    }
    Ok(())
}

fn check_config_entry(key: &str, value: &str) -> Result<(), ManifestError> {
    if key.len() > MAX_CONFIG_KEY_BYTES {
        return Err(ManifestError::ConfigKeyTooLong {
            key: key.to_owned(),
        });
    }
    if value.len() > MAX_CONFIG_VALUE_BYTES {
        return Err(ManifestError::ConfigValueTooLong {
            key: key.to_owned(),
            bytes: value.len(),
        });
    }
    Ok(())
}

fn config_value(key: &str, value: toml::Value) -> Result<String, ManifestError> {
    match value {
        toml::Value::String(s) => Ok(s),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(ManifestError::ConfigValueType {
            key: key.to_owned(),
            kind: other.type_str(),
        }),
    }
}
