//! Manifest files and directories: `manifests/<tenant>/tenant.toml` and
//! `manifests/<tenant>/*.toml`, read with the size cap and checked into
//! [`TenantManifests`]. Every error names its path ([`ManifestFileError`]).

use super::{
    ActionManifest, MAX_MANIFEST_BYTES, ManifestError, ManifestFileError, TENANT_FILE,
    TenantManifests, TenantSettings,
};
use crate::limits::Ceilings;
use crate::names::TenantName;
use std::path::{Path, PathBuf};

/// Loads every tenant directory under `dir`: `dir/<tenant>/*.toml`.
pub fn load_dir(dir: &Path, operator: Ceilings) -> Result<Vec<TenantManifests>, ManifestFileError> {
    let mut tenants = Vec::new();
    for tenant_dir in sorted_entries(dir)? {
        if !tenant_dir.is_dir() {
            continue;
        }
        let dir_name = tenant_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = TenantName::new(dir_name).map_err(|error| ManifestFileError::BadTenantDir {
            path: tenant_dir.clone(),
            error,
        })?;
        tenants.push(load_tenant(name, &tenant_dir, operator)?);
    }
    Ok(tenants)
}

fn load_tenant(
    name: TenantName,
    dir: &Path,
    operator: Ceilings,
) -> Result<TenantManifests, ManifestFileError> {
    let tenant_file = dir.join(TENANT_FILE);
    let settings = if tenant_file.exists() {
        TenantSettings::parse(&read(&tenant_file)?, operator).map_err(|error| {
            ManifestFileError::Invalid {
                path: tenant_file.clone(),
                error,
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
            return Err(ManifestFileError::DuplicateAction {
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

/// Reads a manifest file as UTF-8 text, refusing one over [`MAX_MANIFEST_BYTES`].
pub(super) fn read(path: &Path) -> Result<String, ManifestFileError> {
    use std::io::Read;
    let read_err = |source| ManifestFileError::Read {
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
    let invalid = |error| ManifestFileError::Invalid {
        path: path.to_owned(),
        error,
    };
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(invalid(ManifestError::TooLargeStream));
    }
    String::from_utf8(bytes).map_err(|e| invalid(ManifestError::NotUtf8(e)))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, ManifestFileError> {
    let read_err = |source| ManifestFileError::Read {
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
