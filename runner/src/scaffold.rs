//! `docket new`: a new action project from the templates in `templates/<lang>/`,
//! with the language's helper from `guest-sdk/` copied into `docket/`; with
//! `--provider`, a document provider from `templates/provider-<lang>/`, with
//! the provider WIT (and, for JavaScript, `guest-sdk/js/provider.js`).
//!
//! Both trees are embedded in the binary, so the command works wherever Docket
//! is installed. In file names and contents, `{{name}}` becomes the action name.

use crate::names::ActionName;
use include_dir::{Dir, DirEntry, include_dir};
use std::path::{Path, PathBuf};

static TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../templates");
static SDK: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../guest-sdk");

/// The prefix of a provider template's directory in `templates/`.
const PROVIDER_PREFIX: &str = "provider-";

/// Where each template's helper lives in `guest-sdk/`, as (source, destination
/// in the project) pairs; a source is a directory or one file. Rust's SDK is
/// the crate at the root of `guest-sdk/`; its template brings a standalone
/// `docket/Cargo.toml`. Component toolchains also need the WIT, which is
/// copied rather than kept twice in the tree. A JavaScript provider's world
/// (`wit/world.wit`, componentize-js reads one directory) finds the provider
/// package and its dependencies in `wit/deps/`.
fn sdk_parts(template: &str) -> Vec<(&str, &str)> {
    match template {
        "rust" => vec![("src", "docket/src"), ("wit", "docket/wit")],
        "js" => vec![("js", "docket"), ("wit", "docket/wit")],
        "python" => vec![("python", "docket"), ("wit", "docket/wit")],
        "provider-rust" => vec![("wit-provider", "docket/wit-provider")],
        "provider-js" => vec![
            ("js/provider.js", "docket/provider.js"),
            (
                "wit-provider/provider.wit",
                "wit/deps/provider/provider.wit",
            ),
            ("wit-provider/deps", "wit/deps"),
        ],
        other => vec![(other, "docket")],
    }
}

/// Why a project could not be created.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// No template for this language.
    #[error("no template for language {lang:?}; choose one of: {}", available().join(", "))]
    UnknownLanguage {
        /// What was asked for.
        lang: String,
    },
    /// No provider template for this language.
    #[error(
        "no document-provider template for language {lang:?}; providers can be started in: {}",
        provider_languages().join(", ")
    )]
    UnknownProviderLanguage {
        /// What was asked for.
        lang: String,
    },
    /// Not a valid action name.
    #[error("{0}")]
    BadName(String),
    /// The target directory already has files.
    #[error("{0} already exists and is not empty; choose another --dir or name")]
    NotEmpty(PathBuf),
    /// Writing failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// The template directories in `templates/`, sorted.
fn templates() -> Vec<String> {
    let mut names: Vec<String> = TEMPLATES
        .dirs()
        .filter_map(|d| d.path().file_name()?.to_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// The languages with an action template, sorted.
pub fn available() -> Vec<String> {
    templates()
        .into_iter()
        .filter(|name| !name.starts_with(PROVIDER_PREFIX))
        .collect()
}

/// The languages with a document-provider template, sorted.
pub fn provider_languages() -> Vec<String> {
    templates()
        .iter()
        .filter_map(|name| name.strip_prefix(PROVIDER_PREFIX).map(str::to_owned))
        .collect()
}

/// Creates the project for action `name` in `lang` under `dir`; returns the
/// files written, relative to `dir`.
pub fn create(lang: &str, name: &str, dir: &Path) -> Result<Vec<PathBuf>, ScaffoldError> {
    if !available().iter().any(|l| l == lang) {
        return Err(ScaffoldError::UnknownLanguage { lang: lang.into() });
    }
    scaffold(lang, name, dir)
}

/// Creates the project for document provider `name` (its manifest says
/// `kind = "provider"`) in `lang` under `dir`; returns the files written,
/// relative to `dir`.
pub fn create_provider(lang: &str, name: &str, dir: &Path) -> Result<Vec<PathBuf>, ScaffoldError> {
    if !provider_languages().iter().any(|l| l == lang) {
        return Err(ScaffoldError::UnknownProviderLanguage { lang: lang.into() });
    }
    scaffold(&format!("{PROVIDER_PREFIX}{lang}"), name, dir)
}

/// Writes template `lang` (a directory of `templates/`) and its SDK parts.
fn scaffold(lang: &str, name: &str, dir: &Path) -> Result<Vec<PathBuf>, ScaffoldError> {
    let template = TEMPLATES
        .get_dir(lang)
        .ok_or_else(|| ScaffoldError::UnknownLanguage { lang: lang.into() })?;
    ActionName::new(name.to_owned()).map_err(|e| ScaffoldError::BadName(e.to_string()))?;
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(ScaffoldError::NotEmpty(dir.to_owned()));
    }
    let mut files = Vec::new();
    for file in all_files(template) {
        let relative = file.path().strip_prefix(lang).unwrap_or(file.path());
        let relative = PathBuf::from(relative.to_string_lossy().replace("{{name}}", name));
        let contents = match std::str::from_utf8(file.contents()) {
            Ok(text) => text.replace("{{name}}", name).into_bytes(),
            Err(_) => file.contents().to_vec(),
        };
        write(dir, &relative, &contents)?;
        files.push(relative);
    }
    for (source, destination) in sdk_parts(lang) {
        let part = match (SDK.get_file(source), SDK.get_dir(source)) {
            (Some(file), _) => vec![file],
            (None, Some(part)) => all_files(part),
            (None, None) => continue,
        };
        for file in part {
            let relative = match file.path().strip_prefix(source) {
                Ok(inner) if !inner.as_os_str().is_empty() => Path::new(destination).join(inner),
                _ => PathBuf::from(destination),
            };
            write(dir, &relative, file.contents())?;
            files.push(relative);
        }
    }
    files.sort();
    Ok(files)
}

fn all_files<'a>(dir: &'a Dir<'a>) -> Vec<&'a include_dir::File<'a>> {
    let mut files = Vec::new();
    for entry in dir.entries() {
        match entry {
            DirEntry::Dir(sub) => files.extend(all_files(sub)),
            DirEntry::File(file) => files.push(file),
        }
    }
    files
}

fn write(dir: &Path, relative: &Path, contents: &[u8]) -> Result<(), ScaffoldError> {
    let path = dir.join(relative);
    let io = |source| ScaffoldError::Io {
        path: path.clone(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(&path, contents).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_names_its_action_and_brings_its_helper() {
        assert!(
            available().contains(&"rust".to_owned()),
            "{:?}",
            available()
        );
        for lang in available() {
            let dir = tempfile::tempdir().unwrap();
            let files = create(&lang, "my-action", dir.path()).unwrap();
            let manifest = dir.path().join("my-action.toml");
            let text = std::fs::read_to_string(&manifest)
                .unwrap_or_else(|e| panic!("{lang}: {}: {e}", manifest.display()));
            assert!(text.contains("name = \"my-action\""), "{lang}: {text}");
            assert!(
                files.iter().any(|f| f.starts_with("docket")),
                "{lang}: no helper in {files:?}"
            );
            for file in &files {
                let bytes = std::fs::read(dir.path().join(file)).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                assert!(
                    !text.contains("{{name}}"),
                    "{lang}: {} keeps a placeholder",
                    file.display()
                );
            }
        }
    }

    #[test]
    fn every_provider_template_is_a_provider_with_the_provider_wit() {
        assert_eq!(provider_languages(), ["js", "rust"]);
        for lang in provider_languages() {
            let dir = tempfile::tempdir().unwrap();
            let files = create_provider(&lang, "my-drive", dir.path()).unwrap();
            let text = std::fs::read_to_string(dir.path().join("my-drive.toml")).unwrap();
            assert!(text.contains("name = \"my-drive\""), "{lang}: {text}");
            assert!(text.contains("kind = \"provider\""), "{lang}: {text}");
            assert!(
                files.iter().any(|f| f.ends_with("provider/provider.wit")
                    || f.ends_with("wit-provider/provider.wit")),
                "{lang}: no provider WIT in {files:?}"
            );
            assert!(
                files.iter().any(|f| f.ends_with("deps/io/io.wit")),
                "{lang}: no wasi:io in {files:?}"
            );
            for file in &files {
                let bytes = std::fs::read(dir.path().join(file)).unwrap();
                assert!(
                    !String::from_utf8_lossy(&bytes).contains("{{name}}"),
                    "{lang}: {} keeps a placeholder",
                    file.display()
                );
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let js = create_provider("js", "p", dir.path()).unwrap();
        assert!(js.contains(&PathBuf::from("docket/provider.js")), "{js:?}");
        let err = create_provider("go", "p", tempfile::tempdir().unwrap().path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("js, rust"), "{err}");
        // A provider template is not an action language.
        assert!(!available().iter().any(|l| l.starts_with(PROVIDER_PREFIX)));
        let err = create("provider-rust", "p", tempfile::tempdir().unwrap().path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("no template for language"), "{err}");
    }

    #[test]
    fn refuses_unknown_languages_bad_names_and_full_directories() {
        let dir = tempfile::tempdir().unwrap();
        let err = create("cobol", "x", dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("choose one of") && err.contains("rust"),
            "{err}"
        );
        assert!(create("rust", "no spaces", dir.path()).is_err());
        std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
        let err = create("rust", "ok", dir.path()).unwrap_err().to_string();
        assert!(err.contains("not empty"), "{err}");
    }
}
