//! Snapshot tests of manifests as authors write them, in `runner/tests/ui/`:
//!
//! * `valid/*.toml`: each parses, and its `.json` holds the checked manifest;
//! * `invalid/*.toml`: each is refused, and its `.err` holds the exact message.
//!
//! A file named `tenant-*.toml` is read as a `tenant.toml`, one named
//! `file-*.toml` is loaded from disk (so the message names the file), one
//! named `command-*.toml` is also checked as a command module's manifest
//! ([`ActionManifest::check_command_module`]); the rest are action manifests parsed
//! under the default ceilings. Every
//! [`ManifestError`] variant is refused by at least one invalid file.
//!
//! `DOCKET_BLESS=1 cargo test -p docket --lib manifest::ui_tests` rewrites the
//! snapshots; review the diff before keeping it.

use super::{ActionManifest, ManifestError, ManifestFileError, TenantSettings};
use crate::limits::Ceilings;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui")
}

fn blessing() -> bool {
    std::env::var_os("DOCKET_BLESS").is_some_and(|v| v == "1")
}

/// The `.toml` files of `ui/<kind>`, sorted.
fn cases(kind: &str) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(ui_dir().join(kind))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no cases in tests/ui/{kind}");
    paths
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

/// Compares `actual` with the snapshot at `path`, or writes it when blessing.
/// Returns a description of the mismatch, if any.
fn compare(path: &Path, actual: &str) -> Option<String> {
    if blessing() {
        std::fs::write(path, actual).unwrap();
        return None;
    }
    match std::fs::read_to_string(path) {
        Ok(expected) if expected == actual => None,
        Ok(expected) => Some(format!(
            "{}:\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        )),
        Err(e) => Some(format!("{}: {e} (run with DOCKET_BLESS=1)", path.display())),
    }
}

/// Parses one case as its file name says: the value as JSON, or the refusal's
/// message and the [`ManifestError`] behind it.
fn run(path: &Path) -> Result<String, (String, Option<ManifestError>)> {
    let name = stem(path);
    let ceilings = Ceilings::default();
    if name.starts_with("file-") {
        return match ActionManifest::load(path, &ceilings) {
            Ok(manifest) => Ok(json(&manifest)),
            Err(err) => {
                // Name the file as the repository does, not as this machine does.
                let message = err
                    .to_string()
                    .replace(&format!("{}/", ui_dir().display()), "tests/ui/");
                let inner = match err {
                    ManifestFileError::Invalid { error, .. } => Some(error),
                    _ => None,
                };
                Err((message, inner))
            }
        };
    }
    let text = std::fs::read_to_string(path).unwrap();
    let parsed = if name.starts_with("tenant-") {
        TenantSettings::parse(&text, ceilings).map(|s| json(&s))
    } else if name.starts_with("command-") {
        ActionManifest::parse(&text, &ceilings)
            .and_then(|m| m.check_command_module().map(|()| json(&m)))
    } else {
        ActionManifest::parse(&text, &ceilings).map(|m| json(&m))
    };
    parsed.map_err(|err| (err.to_string(), Some(err)))
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap() + "\n"
}

/// The variant's name; the match is exhaustive, so a new variant must be
/// listed here and then covered by an invalid file.
fn variant(err: &ManifestError) -> &'static str {
    use ManifestError::*;
    match err {
        TooLarge { .. } => "TooLarge",
        TooLargeStream => "TooLargeStream",
        NotUtf8(_) => "NotUtf8",
        UnknownKey { .. } => "UnknownKey",
        Toml(_) => "Toml",
        UnsupportedVersion { .. } => "UnsupportedVersion",
        TooManyEntries { .. } => "TooManyEntries",
        BadHostPattern { .. } => "BadHostPattern",
        BadKeyValueScope { .. } => "BadKeyValueScope",
        BadSecretName(_) => "BadSecretName",
        OverCeiling(_) => "OverCeiling",
        OverOperatorCeiling(_) => "OverOperatorCeiling",
        ZeroLimit => "ZeroLimit",
        EmptyDisplayName => "EmptyDisplayName",
        DisplayNameTooLong { .. } => "DisplayNameTooLong",
        DisplayNameControlChars => "DisplayNameControlChars",
        ConfigKeyTooLong { .. } => "ConfigKeyTooLong",
        ConfigValueTooLong { .. } => "ConfigValueTooLong",
        ConfigValueType { .. } => "ConfigValueType",
        BadFailureWord { .. } => "BadFailureWord",
        FailureWordIsSuccess => "FailureWordIsSuccess",
        MissingModule => "MissingModule",
        BadKind { .. } => "BadKind",
        BadEndpoint { .. } => "BadEndpoint",
        ProviderOnly { .. } => "ProviderOnly",
        InstanceReuse { .. } => "InstanceReuse",
    }
}

const ALL_VARIANTS: [&str; 26] = [
    "InstanceReuse",
    "BadKind",
    "BadEndpoint",
    "ProviderOnly",
    "TooLarge",
    "TooLargeStream",
    "NotUtf8",
    "UnknownKey",
    "Toml",
    "UnsupportedVersion",
    "TooManyEntries",
    "BadHostPattern",
    "BadKeyValueScope",
    "BadSecretName",
    "OverCeiling",
    "OverOperatorCeiling",
    "ZeroLimit",
    "EmptyDisplayName",
    "DisplayNameTooLong",
    "DisplayNameControlChars",
    "ConfigKeyTooLong",
    "ConfigValueTooLong",
    "ConfigValueType",
    "BadFailureWord",
    "FailureWordIsSuccess",
    "MissingModule",
];

/// Each valid manifest parses to exactly its `.json` snapshot.
#[test]
fn valid_manifests_match_their_json_snapshots() {
    let mut failures = Vec::new();
    for path in cases("valid") {
        match run(&path) {
            Ok(actual) => failures.extend(compare(&path.with_extension("json"), &actual)),
            Err((message, _)) => failures.push(format!("{}: refused: {message}", path.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Each invalid manifest is refused with exactly the text of its `.err`
/// snapshot, and together they cover every [`ManifestError`] variant.
#[test]
fn invalid_manifests_match_their_error_snapshots() {
    let mut failures = Vec::new();
    let mut seen = BTreeSet::new();
    for path in cases("invalid") {
        match run(&path) {
            Ok(_) => failures.push(format!("{}: was accepted", path.display())),
            Err((message, error)) => {
                seen.extend(error.as_ref().map(variant));
                failures.extend(compare(
                    &path.with_extension("err"),
                    &format!("{message}\n"),
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let missing: Vec<_> = ALL_VARIANTS.iter().filter(|v| !seen.contains(*v)).collect();
    assert!(
        missing.is_empty(),
        "no invalid file refuses with {missing:?}"
    );
}

/// A snapshot without its manifest is stale: it would never be compared.
#[test]
fn every_snapshot_has_its_manifest() {
    for (kind, ext) in [("valid", "json"), ("invalid", "err")] {
        for entry in std::fs::read_dir(ui_dir().join(kind)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == ext) {
                let toml = path.with_extension("toml");
                assert!(
                    toml.exists(),
                    "{} has no {}",
                    path.display(),
                    toml.display()
                );
            }
        }
    }
}
