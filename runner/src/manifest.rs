//! Action and tenant manifests (DESIGN §4), parsed strictly.
//!
//! Every table denies unknown keys, so a typo such as `timeout_ms` is an error that
//! names the key and its line instead of a silently ignored setting.
//!
//! An action manifest, `manifests/<tenant>/<action>.toml`:
//!
//! ```toml
//! name = "archive"                  # the `name` Workfront sends
//! display-name = "Archive document" # shown under Document Actions (default: name)
//! module = "../../actions-wasm/dist/archive.wasm"  # relative to this file
//! [limits]                          # each key optional; defaults in `limits.rs`
//! timeout-ms = 5000
//! memory-mb = 64
//! fuel = 0
//! max-output-kb = 64
//! [capabilities]
//! allowed-outbound-hosts = ["https://api.example.com", "https://*.slack.com"]
//! key-value = "action"              # or "tenant"; absent = no key-value store
//! secrets = ["workfront-api-key"]  # tenant secrets the action may read
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

use crate::capabilities::Grants;
use crate::capabilities::hosts::HostPattern;
use crate::capabilities::kv::KvScope;
use crate::limits::{Ceilings, Limits};
use crate::names::{ActionName, InvalidName, TenantName};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The manifest format this build reads.
pub const MANIFEST_VERSION: u32 = 1;

/// The file name of a tenant's own settings inside its manifest directory.
pub const TENANT_FILE: &str = "tenant.toml";

/// Why a manifest could not be used. Each variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file or directory could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or breaks the schema (unknown key, wrong type, bad name).
    #[error("{path}: {message}")]
    Invalid {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong, with the key and line where the parser knows them.
        message: String,
    },
    /// Two manifests of one tenant declare the same action name.
    #[error("{second}: action {name:?} is already declared in {first}")]
    DuplicateAction {
        /// The action name.
        name: ActionName,
        /// The file that declared it first.
        first: PathBuf,
        /// The file that declared it again.
        second: PathBuf,
    },
}

/// A parsed, checked action manifest.
#[derive(Debug, Clone, PartialEq)]
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
    pub secrets: Vec<String>,
    /// Outbound hosts and key-value access (`[capabilities]`).
    pub grants: Grants,
}

/// A tenant's settings from `tenant.toml`.
#[derive(Debug, Clone, PartialEq)]
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

/// The failure word used when a tenant does not set one.
pub const DEFAULT_FAILURE_WORD: &str = "failure";

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawAction {
    manifest_version: Option<u32>,
    name: ActionName,
    display_name: Option<String>,
    module: Option<PathBuf>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    capabilities: RawCapabilities,
    #[serde(default)]
    config: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawLimits {
    timeout_ms: Option<u64>,
    memory_mb: Option<u64>,
    fuel: Option<u64>,
    max_output_kb: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCapabilities {
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    secrets: Vec<String>,
    key_value: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawTenant {
    display_name: Option<String>,
    failure_word: Option<String>,
    #[serde(default)]
    limits: RawLimits,
}

impl RawCapabilities {
    fn grants(&self) -> Result<Grants, String> {
        let allowed_outbound_hosts = self
            .allowed_outbound_hosts
            .iter()
            .map(|entry| {
                HostPattern::parse(entry)
                    .map_err(|e| format!("capabilities.allowed-outbound-hosts: {e}"))
            })
            .collect::<Result<_, _>>()?;
        let key_value = match self.key_value.as_deref() {
            None => None,
            Some("tenant") => Some(KvScope::Tenant),
            Some("action") => Some(KvScope::Action),
            Some(other) => {
                return Err(format!(
                    "capabilities.key-value = {other:?}: use \"tenant\" (shared by the tenant's \
                     actions) or \"action\" (this action's own)"
                ));
            }
        };
        Ok(Grants {
            allowed_outbound_hosts,
            key_value,
        })
    }
}

impl RawLimits {
    fn over(&self, base: Limits) -> Limits {
        Limits {
            timeout_ms: self.timeout_ms.unwrap_or(base.timeout_ms),
            memory_mb: self.memory_mb.unwrap_or(base.memory_mb),
            fuel: self.fuel.unwrap_or(base.fuel),
            max_output_kb: self.max_output_kb.unwrap_or(base.max_output_kb),
        }
    }
}

impl ActionManifest {
    /// Parses and checks a manifest's text against the ceilings that apply to it.
    /// Errors are plain messages; callers add the file name.
    pub fn parse(text: &str, ceilings: &Ceilings) -> Result<Self, String> {
        let raw: RawAction = toml::from_str(text).map_err(|e| e.to_string())?;
        check_version(raw.manifest_version)?;
        let grants = raw.capabilities.grants()?;
        let limits = raw.limits.over(Limits::default());
        ceilings.check(&limits).map_err(|e| e.to_string())?;
        if limits.timeout_ms == 0 || limits.memory_mb == 0 || limits.max_output_kb == 0 {
            return Err(
                "limits: timeout-ms, memory-mb and max-output-kb must be greater than 0".into(),
            );
        }
        let display_name = raw
            .display_name
            .unwrap_or_else(|| raw.name.as_str().to_owned());
        if display_name.trim().is_empty() {
            return Err("display-name must not be empty".into());
        }
        let config = raw
            .config
            .into_iter()
            .map(|(key, value)| {
                let value = config_value(&key, value)?;
                Ok((key, value))
            })
            .collect::<Result<_, String>>()?;
        for secret in &raw.capabilities.secrets {
            crate::registry::secrets::check_secret_name(secret)
                .map_err(|e| format!("capabilities.secrets: {e}"))?;
        }
        Ok(Self {
            name: raw.name,
            display_name,
            module: raw.module,
            limits,
            config,
            secrets: raw.capabilities.secrets,
            grants,
        })
    }

    /// Reads and checks a manifest file; a relative `module` is resolved against
    /// the file's directory and must be present.
    pub fn load(path: &Path, ceilings: &Ceilings) -> Result<Self, ManifestError> {
        let text = read(path)?;
        let invalid = |message: String| ManifestError::Invalid {
            path: path.to_owned(),
            message,
        };
        let mut manifest = Self::parse(&text, ceilings).map_err(invalid)?;
        let module = manifest
            .module
            .take()
            .ok_or_else(|| invalid("missing key `module` (the path of the .wasm file)".into()))?;
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
    pub fn parse(text: &str, operator: Ceilings) -> Result<Self, String> {
        let raw: RawTenant = toml::from_str(text).map_err(|e| e.to_string())?;
        let failure_word = raw
            .failure_word
            .unwrap_or_else(|| DEFAULT_FAILURE_WORD.to_owned());
        check_failure_word(&failure_word)?;
        let asked = raw.limits.over(Limits {
            timeout_ms: operator.timeout_ms,
            memory_mb: operator.memory_mb,
            fuel: operator.fuel,
            max_output_kb: operator.max_output_kb,
        });
        let tenant = Ceilings {
            timeout_ms: asked.timeout_ms,
            memory_mb: asked.memory_mb,
            fuel: asked.fuel,
            max_output_kb: asked.max_output_kb,
        };
        operator
            .check(&asked)
            .map_err(|e| format!("{e} set by the operator"))?;
        Ok(Self {
            display_name: raw.display_name,
            failure_word,
            ceilings: operator.min(tenant),
        })
    }
}

/// Checks a failure word: what Workfront reads in `status` of a failed call.
pub fn check_failure_word(word: &str) -> Result<(), String> {
    let ok = !word.is_empty()
        && word.len() <= 32
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(format!(
            "failure-word {word:?}: use 1-32 characters of A-Z, a-z, 0-9, '-' and '_'"
        ));
    }
    if word == "success" {
        return Err("failure-word must not be \"success\"".into());
    }
    Ok(())
}

/// Loads every tenant directory under `dir`: `dir/<tenant>/*.toml`.
pub fn load_dir(dir: &Path, operator: Ceilings) -> Result<Vec<TenantManifests>, ManifestError> {
    let mut tenants = Vec::new();
    for tenant_dir in sorted_entries(dir)? {
        if !tenant_dir.is_dir() {
            continue;
        }
        let dir_name = tenant_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = TenantName::new(dir_name).map_err(|e: InvalidName| ManifestError::Invalid {
            path: tenant_dir.clone(),
            message: format!("{e} (the directory name is the tenant name)"),
        })?;
        tenants.push(load_tenant(name, &tenant_dir, operator)?);
    }
    Ok(tenants)
}

fn load_tenant(
    name: TenantName,
    dir: &Path,
    operator: Ceilings,
) -> Result<TenantManifests, ManifestError> {
    let tenant_file = dir.join(TENANT_FILE);
    let settings = if tenant_file.exists() {
        TenantSettings::parse(&read(&tenant_file)?, operator).map_err(|message| {
            ManifestError::Invalid {
                path: tenant_file.clone(),
                message,
            }
        })?
    } else {
        TenantSettings::defaults(operator)
    };
    let mut actions: Vec<(PathBuf, ActionManifest)> = Vec::new();
    for path in sorted_entries(dir)? {
        let is_toml = path.extension().is_some_and(|e| e == "toml");
        if !is_toml || path == tenant_file || !path.is_file() {
            continue;
        }
        let manifest = ActionManifest::load(&path, &settings.ceilings)?;
        if let Some((first, _)) = actions.iter().find(|(_, m)| m.name == manifest.name) {
            return Err(ManifestError::DuplicateAction {
                name: manifest.name,
                first: first.clone(),
                second: path,
            });
        }
        actions.push((path, manifest));
    }
    Ok(TenantManifests {
        name,
        settings,
        actions,
    })
}

fn check_version(version: Option<u32>) -> Result<(), String> {
    match version {
        None | Some(MANIFEST_VERSION) => Ok(()),
        Some(other) => Err(format!(
            "manifest-version = {other} is not supported; this Docket reads version {MANIFEST_VERSION}"
        )),
    }
}

fn config_value(key: &str, value: toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!(
            "config.{key}: a {} is not allowed; config values are strings, numbers or booleans",
            other.type_str()
        )),
    }
}

fn read(path: &Path) -> Result<String, ManifestError> {
    std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: path.to_owned(),
        source,
    })
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, ManifestError> {
    let read_err = |source| ManifestError::Read {
        path: dir.to_owned(),
        source,
    };
    let mut paths = std::fs::read_dir(dir)
        .map_err(read_err)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_err)?;
    paths.sort();
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ActionManifest, String> {
        ActionManifest::parse(text, &Ceilings::default())
    }

    #[test]
    fn minimal_manifest_gets_default_limits_and_display_name() {
        let m = parse("name = \"archive\"\nmodule = \"a.wasm\"\n").unwrap();
        assert_eq!(m.display_name, "archive");
        assert_eq!(m.limits, Limits::default());
        assert!(m.config.is_empty());
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let err = parse("name = \"a\"\n[limits]\ntimeout_ms = 5\n").unwrap_err();
        assert!(err.contains("unknown field `timeout_ms`"), "{err}");
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn config_scalars_become_strings_and_tables_are_refused() {
        let m = parse("name = \"a\"\n[config]\nfolder = \"X\"\ncount = 3\nflag = true\n").unwrap();
        assert_eq!(m.config["count"], "3");
        assert_eq!(m.config["flag"], "true");
        let err = parse("name = \"a\"\n[config]\nlist = [1]\n").unwrap_err();
        assert!(err.contains("config.list"), "{err}");
    }

    #[test]
    fn limits_over_the_ceiling_are_refused() {
        let err = parse("name = \"a\"\n[limits]\ntimeout-ms = 999999\n").unwrap_err();
        assert!(err.contains("timeout-ms"), "{err}");
    }

    #[test]
    fn bad_action_name_is_refused_while_parsing() {
        let err = parse("name = \"../x\"\n").unwrap_err();
        assert!(err.contains("invalid action name"), "{err}");
    }

    #[test]
    fn unsupported_manifest_version_is_refused() {
        let err = parse("manifest-version = 2\nname = \"a\"\n").unwrap_err();
        assert!(err.contains("manifest-version = 2"), "{err}");
    }

    #[test]
    fn tenant_ceilings_only_tighten_the_operator() {
        let operator = Ceilings::default();
        let s = TenantSettings::parse("[limits]\ntimeout-ms = 1000\n", operator).unwrap();
        assert_eq!(s.ceilings.timeout_ms, 1000);
        assert_eq!(s.ceilings.memory_mb, operator.memory_mb);
        assert!(TenantSettings::parse("[limits]\nmemory-mb = 100000\n", operator).is_err());
    }

    #[test]
    fn failure_word_must_be_a_plain_word() {
        assert!(check_failure_word("error").is_ok());
        assert!(check_failure_word("").is_err());
        assert!(check_failure_word("success").is_err());
        assert!(check_failure_word("a b").is_err());
    }
}
