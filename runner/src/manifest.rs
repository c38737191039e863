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
pub const MAX_GRANTED_SECRETS: usize = crate::registry::store::MAX_SECRETS;

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
        check_manifest_size(text.len())?;
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
        check_manifest_size(text.len())?;
        let raw: RawTenant = toml::from_str(text).map_err(|e| e.to_string())?;
        if let Some(name) = &raw.display_name {
            check_display_name(name)?;
        }
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

/// Refuses a manifest over [`MAX_MANIFEST_BYTES`], before any parsing.
pub fn check_manifest_size(bytes: usize) -> Result<(), String> {
    if bytes > MAX_MANIFEST_BYTES {
        return Err(format!(
            "the manifest is {bytes} bytes, over the limit of {MAX_MANIFEST_BYTES} bytes (64 KiB)"
        ));
    }
    Ok(())
}

/// The refusal of a manifest read as a stream and cut off past
/// [`MAX_MANIFEST_BYTES`], whose full size is not known.
pub fn manifest_too_large() -> String {
    format!("the manifest is over the limit of {MAX_MANIFEST_BYTES} bytes (64 KiB)")
}

/// Checks a display name: what Workfront shows in its Document Actions menu
/// (and a tenant's label in listings).
pub fn check_display_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("display-name must not be empty".into());
    }
    let chars = name.chars().count();
    if chars > MAX_DISPLAY_NAME_CHARS {
        return Err(format!(
            "display-name is {chars} characters, over the limit of {MAX_DISPLAY_NAME_CHARS}"
        ));
    }
    // A menu label is one line; control characters would only garble it.
    if name.chars().any(char::is_control) {
        return Err("display-name must not contain control characters (newlines, tabs…)".into());
    }
    Ok(())
}

fn check_count(field: &str, count: usize, limit: usize) -> Result<(), String> {
    if count > limit {
        return Err(format!(
            "{field} has {count} entries, over the limit of {limit}"
        ));
    }
    Ok(())
}

fn check_config_entry(key: &str, value: &str) -> Result<(), String> {
    if key.len() > MAX_CONFIG_KEY_BYTES {
        // The key itself may be long; show its start only.
        let start: String = key.chars().take(32).collect();
        return Err(format!(
            "config key {start:?}… is {} bytes, over the limit of {MAX_CONFIG_KEY_BYTES}",
            key.len()
        ));
    }
    if value.len() > MAX_CONFIG_VALUE_BYTES {
        return Err(format!(
            "config.{key} is {} bytes, over the limit of {MAX_CONFIG_VALUE_BYTES}",
            value.len()
        ));
    }
    Ok(())
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
    use std::io::Read;
    let read_err = |source| ManifestError::Read {
        path: path.to_owned(),
        source,
    };
    // Read one byte past the cap, never more, so a huge file is refused without
    // being loaded.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(read_err)?
        .take(MAX_MANIFEST_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    let invalid = |message| ManifestError::Invalid {
        path: path.to_owned(),
        message,
    };
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(invalid(manifest_too_large()));
    }
    String::from_utf8(bytes).map_err(|e| invalid(format!("not UTF-8 text: {e}")))
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
    fn manifest_over_the_size_cap_is_refused_before_parsing() {
        // Not even valid TOML: the size is checked first, so the error is the cap.
        let text = "x".repeat(MAX_MANIFEST_BYTES + 1);
        let err = parse(&text).unwrap_err();
        assert!(err.contains("65536 bytes"), "{err}");
    }

    #[test]
    fn manifest_at_the_size_cap_is_parsed() {
        let head = "name = \"a\"\n";
        let text = format!("{head}{}", "#".repeat(MAX_MANIFEST_BYTES - head.len()));
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn display_name_over_the_limit_names_the_field_and_limit() {
        let text = format!("name = \"a\"\ndisplay-name = \"{}\"\n", "d".repeat(200));
        let err = parse(&text).unwrap_err();
        assert!(err.contains("display-name") && err.contains("128"), "{err}");
    }

    #[test]
    fn display_name_limit_counts_characters_not_bytes() {
        let text = format!("name = \"a\"\ndisplay-name = \"{}\"\n", "é".repeat(128));
        assert_eq!(parse(&text).unwrap().display_name.chars().count(), 128);
    }

    #[test]
    fn display_name_with_a_newline_is_refused() {
        let err = parse("name = \"a\"\ndisplay-name = \"two\\nlines\"\n").unwrap_err();
        assert!(err.contains("control characters"), "{err}");
    }

    #[test]
    fn too_many_config_entries_are_refused() {
        let entries: String = (0..=MAX_CONFIG_ENTRIES)
            .map(|i| format!("k{i} = 1\n"))
            .collect();
        let err = parse(&format!("name = \"a\"\n[config]\n{entries}")).unwrap_err();
        assert!(
            err.contains("config has 65 entries") && err.contains("64"),
            "{err}"
        );
    }

    #[test]
    fn long_config_key_is_refused() {
        let key = "k".repeat(MAX_CONFIG_KEY_BYTES + 1);
        let err = parse(&format!("name = \"a\"\n[config]\n{key} = 1\n")).unwrap_err();
        assert!(err.contains("config key") && err.contains("128"), "{err}");
    }

    #[test]
    fn long_config_value_is_refused() {
        let value = "v".repeat(MAX_CONFIG_VALUE_BYTES + 1);
        let err = parse(&format!("name = \"a\"\n[config]\nfolder = \"{value}\"\n")).unwrap_err();
        assert!(
            err.contains("config.folder") && err.contains("4096"),
            "{err}"
        );
    }

    #[test]
    fn too_many_outbound_hosts_are_refused() {
        let hosts: Vec<String> = (0..=MAX_OUTBOUND_HOSTS)
            .map(|i| format!("\"https://h{i}.example.com\""))
            .collect();
        let text = format!(
            "name = \"a\"\n[capabilities]\nallowed-outbound-hosts = [{}]\n",
            hosts.join(",")
        );
        let err = parse(&text).unwrap_err();
        assert!(
            err.contains("capabilities.allowed-outbound-hosts") && err.contains("limit of 32"),
            "{err}"
        );
    }

    #[test]
    fn too_many_granted_secrets_are_refused() {
        let names: Vec<String> = (0..=MAX_GRANTED_SECRETS)
            .map(|i| format!("\"s{i}\""))
            .collect();
        let text = format!(
            "name = \"a\"\n[capabilities]\nsecrets = [{}]\n",
            names.join(",")
        );
        let err = parse(&text).unwrap_err();
        assert!(err.contains("capabilities.secrets"), "{err}");
    }

    #[test]
    fn tenant_display_name_is_bounded_too() {
        let text = format!("display-name = \"{}\"\n", "t".repeat(129));
        let err = TenantSettings::parse(&text, Ceilings::default()).unwrap_err();
        assert!(err.contains("display-name"), "{err}");
    }

    #[test]
    fn oversized_manifest_file_is_refused_without_reading_it_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.toml");
        std::fs::write(&path, "#".repeat(MAX_MANIFEST_BYTES * 4)).unwrap();
        let err = ActionManifest::load(&path, &Ceilings::default()).unwrap_err();
        assert!(err.to_string().contains("65536 bytes"), "{err}");
    }

    #[test]
    fn failure_word_must_be_a_plain_word() {
        assert!(check_failure_word("error").is_ok());
        assert!(check_failure_word("").is_err());
        assert!(check_failure_word("success").is_err());
        assert!(check_failure_word("a b").is_err());
    }
}
