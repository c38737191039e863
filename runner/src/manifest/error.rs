//! Why a manifest was refused: [`ManifestError`] for what is wrong with its text,
//! [`ManifestFileError`] for a file or directory of manifests (it names the path).
//!
//! Each message is the one an author reads in a deploy's answer or at start-up,
//! so the texts are part of Docket's behaviour: `runner/tests/ui/invalid/*.err`
//! holds them exactly.

use super::{
    MANIFEST_VERSION, MAX_CONFIG_KEY_BYTES, MAX_CONFIG_VALUE_BYTES, MAX_DISPLAY_NAME_CHARS,
    MAX_MANIFEST_BYTES,
};
use crate::limits::CeilingExceeded;
use crate::names::{ActionName, InvalidName};
use std::path::PathBuf;

/// What is wrong with a manifest's text (an action's, or a tenant's `tenant.toml`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The text is over [`MAX_MANIFEST_BYTES`]; checked before any parsing.
    #[error(
        "the manifest is {bytes} bytes, over the limit of {} bytes (64 KiB)",
        MAX_MANIFEST_BYTES
    )]
    TooLarge {
        /// The manifest's size.
        bytes: usize,
    },
    /// A manifest read as a stream was cut off past [`MAX_MANIFEST_BYTES`]; its
    /// full size is not known.
    #[error(
        "the manifest is over the limit of {} bytes (64 KiB)",
        MAX_MANIFEST_BYTES
    )]
    TooLargeStream,
    /// The file is not UTF-8 text.
    #[error("not UTF-8 text: {0}")]
    NotUtf8(std::string::FromUtf8Error),
    /// A key the format does not have, e.g. `timeout_ms` for `timeout-ms`.
    /// The message is the TOML parser's, which shows the line.
    #[error("{error}")]
    UnknownKey {
        /// The unknown key, as written.
        key: String,
        /// Its line, counted from 1.
        line: usize,
        /// The parser's error, for its message.
        error: Box<toml::de::Error>,
    },
    /// The TOML is malformed or breaks the schema (a wrong type, a missing or
    /// invalid `name`).
    #[error(transparent)]
    Toml(Box<toml::de::Error>),
    /// `manifest-version` is not one this build reads.
    #[error(
        "manifest-version = {version} is not supported; this Docket reads version {}",
        MANIFEST_VERSION
    )]
    UnsupportedVersion {
        /// The version the manifest declares.
        version: u32,
    },
    /// A list or table has more entries than it may.
    #[error("{field} has {count} entries, over the limit of {limit}")]
    TooManyEntries {
        /// The list or table, e.g. `capabilities.secrets`.
        field: &'static str,
        /// How many it has.
        count: usize,
        /// How many it may have.
        limit: usize,
    },
    /// An `allowed-outbound-hosts` entry is not a host pattern.
    #[error("capabilities.allowed-outbound-hosts: {why}")]
    BadHostPattern {
        /// The entry, as written.
        entry: String,
        /// What is wrong with it (naming the entry).
        why: String,
    },
    /// `key-value` is neither `"tenant"` nor `"action"`.
    #[error(
        "capabilities.key-value = {value:?}: use \"tenant\" (shared by the tenant's actions) or \
         \"action\" (this action's own)"
    )]
    BadKeyValueScope {
        /// The value, as written.
        value: String,
    },
    /// `kind` is neither `action` nor `provider`.
    #[error(
        "kind = {value:?}: must be \"action\" (a custom action, the default) or \
         \"provider\" (the tenant's document provider)"
    )]
    BadKind {
        /// The value, as written.
        value: String,
    },
    /// An `endpoints` entry is not a Workfront document endpoint.
    #[error(
        "endpoints: {value:?} is not a document endpoint; the endpoints are metadata, files, \
         search, download, thumbnail, uploadInit, upload, createFolder, delete and rename"
    )]
    BadEndpoint {
        /// The entry, as written.
        value: String,
    },
    /// `endpoints` or `capabilities.blob` in a manifest that is not a provider's.
    #[error("{key} is for document providers only: add kind = \"provider\"")]
    ProviderOnly {
        /// The key.
        key: &'static str,
    },
    /// A `capabilities.secrets` entry is not a secret name.
    #[error("capabilities.secrets: {0}")]
    BadSecretName(InvalidName),
    /// An action's limit is over its tenant's (or the operator's) ceiling.
    #[error(transparent)]
    OverCeiling(CeilingExceeded),
    /// A tenant's ceiling in `tenant.toml` is over the operator's.
    #[error("{0} set by the operator")]
    OverOperatorCeiling(CeilingExceeded),
    /// `timeout-ms`, `memory-mb`, `max-output-kb` or `instance-reuse` is 0.
    #[error(
        "limits: timeout-ms, memory-mb, max-output-kb and instance-reuse must be greater than 0"
    )]
    ZeroLimit,
    /// `instance-reuse` above 1 for a module that cannot reuse its instances
    /// (a command module, a document provider).
    #[error("limits.instance-reuse = {reuse} is for custom actions built as components: {why}")]
    InstanceReuse {
        /// What the manifest asked for.
        reuse: u32,
        /// Why this module cannot: what it is, and what to do.
        why: &'static str,
    },
    /// `display-name` is empty or blank.
    #[error("display-name must not be empty")]
    EmptyDisplayName,
    /// `display-name` is over [`MAX_DISPLAY_NAME_CHARS`].
    #[error(
        "display-name is {chars} characters, over the limit of {}",
        MAX_DISPLAY_NAME_CHARS
    )]
    DisplayNameTooLong {
        /// Its length, in characters.
        chars: usize,
    },
    /// `display-name` holds a control character (it is a one-line menu label).
    #[error("display-name must not contain control characters (newlines, tabs…)")]
    DisplayNameControlChars,
    /// A `[config]` key is over [`MAX_CONFIG_KEY_BYTES`].
    #[error(
        "config key {:?}… is {} bytes, over the limit of {}",
        key_start(.key),
        .key.len(),
        MAX_CONFIG_KEY_BYTES
    )]
    ConfigKeyTooLong {
        /// The key.
        key: String,
    },
    /// A `[config]` value is over [`MAX_CONFIG_VALUE_BYTES`].
    #[error(
        "config.{key} is {bytes} bytes, over the limit of {}",
        MAX_CONFIG_VALUE_BYTES
    )]
    ConfigValueTooLong {
        /// The key.
        key: String,
        /// The value's length, as the string the action receives.
        bytes: usize,
    },
    /// A `[config]` value is an array, table or date.
    #[error(
        "config.{key}: a {kind} is not allowed; config values are strings, numbers or booleans"
    )]
    ConfigValueType {
        /// The key.
        key: String,
        /// The TOML type given, e.g. `array`.
        kind: &'static str,
    },
    /// `failure-word` is not 1-32 characters of `A-Z a-z 0-9 - _`.
    #[error("failure-word {word:?}: use 1-32 characters of A-Z, a-z, 0-9, '-' and '_'")]
    BadFailureWord {
        /// The word, as written.
        word: String,
    },
    /// `failure-word` is `"success"`, which Workfront would read as a success.
    #[error("failure-word must not be \"success\"")]
    FailureWordIsSuccess,
    /// A manifest file has no `module` key.
    #[error("missing key `module` (the path of the .wasm file)")]
    MissingModule,
}

/// The start of a long config key: the message shows no more of it.
fn key_start(key: &str) -> String {
    key.chars().take(32).collect()
}

impl ManifestError {
    /// The parser's error as a [`ManifestError`]: [`ManifestError::UnknownKey`]
    /// when it is about an unknown key, with the key and its line.
    pub(super) fn from_toml(error: toml::de::Error, text: &str) -> Self {
        let key = error
            .message()
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split_once('`'))
            .map(|(key, _)| key.to_owned());
        match (key, error.span()) {
            (Some(key), Some(span)) => {
                let before = text.get(..span.start).unwrap_or(text);
                let line = before.matches('\n').count() + 1;
                Self::UnknownKey {
                    key,
                    line,
                    error: Box::new(error),
                }
            }
            _ => Self::Toml(Box::new(error)),
        }
    }
}

/// Why a file or directory of manifests could not be used. Each variant names
/// the path.
#[derive(Debug, thiserror::Error)]
pub enum ManifestFileError {
    /// The file or directory could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The manifest's text is refused.
    #[error("{path}: {error}")]
    Invalid {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong with it.
        error: ManifestError,
    },
    /// A tenant directory's name is not a tenant name.
    #[error("{path}: {error} (the directory name is the tenant name)")]
    BadTenantDir {
        /// The directory.
        path: PathBuf,
        /// Why the name is refused.
        error: InvalidName,
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
