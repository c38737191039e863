//! Module bytes and compiled artifacts as content-addressed files under
//! `--data-dir`: `modules/{digest}.wasm` and `artifacts/{digest}-{engine}.cwasm`.
//!
//! Files are written atomically (by rename) and never changed in place, so a
//! reader sees a whole file or none. Which files are still wanted is the
//! records' business; this module only reads, writes and removes them.

use super::ModuleDigest;
use super::keys;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The two blob directories under the data directory.
#[derive(Debug, Clone)]
pub struct Blobs {
    /// Module bytes, one file per digest.
    modules_dir: PathBuf,
    /// Compiled artifacts, one file per digest and engine fingerprint.
    artifacts_dir: PathBuf,
}

impl Blobs {
    /// Opens (creating if needed) the blob directories under `data_dir`.
    pub fn open(data_dir: &Path) -> std::io::Result<Self> {
        let modules_dir = data_dir.join("modules");
        let artifacts_dir = data_dir.join("artifacts");
        std::fs::create_dir_all(&modules_dir)?;
        std::fs::create_dir_all(&artifacts_dir)?;
        Ok(Self {
            modules_dir,
            artifacts_dir,
        })
    }

    fn module_path(&self, digest: &ModuleDigest) -> PathBuf {
        self.modules_dir.join(format!("{digest}.wasm"))
    }

    fn artifact_path(&self, digest: &ModuleDigest, engine: &str) -> PathBuf {
        self.artifacts_dir.join(format!("{digest}-{engine}.cwasm"))
    }

    /// A module's bytes.
    pub fn read_module(&self, digest: &ModuleDigest) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.module_path(digest))
    }

    /// Writes a module's bytes unless a file for its digest is already there
    /// (same digest, same bytes).
    pub fn write_module(&self, digest: &ModuleDigest, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.module_path(digest);
        if !path.exists() {
            keys::write_atomically(&path, bytes)?;
        }
        Ok(())
    }

    /// A compiled artifact's bytes, `None` when there is no readable file.
    pub fn read_artifact(&self, digest: &ModuleDigest, engine: &str) -> Option<Vec<u8>> {
        std::fs::read(self.artifact_path(digest, engine)).ok()
    }

    /// A compiled artifact's file, open for reading; `None` when there is none.
    pub fn open_artifact(&self, digest: &ModuleDigest, engine: &str) -> Option<std::fs::File> {
        std::fs::File::open(self.artifact_path(digest, engine)).ok()
    }

    /// Writes (or replaces) a compiled artifact.
    pub fn write_artifact(
        &self,
        digest: &ModuleDigest,
        engine: &str,
        bytes: &[u8],
    ) -> std::io::Result<()> {
        keys::write_atomically(&self.artifact_path(digest, engine), bytes)
    }

    /// Removes a module's file and every artifact compiled from it.
    pub fn remove_module(&self, digest: &ModuleDigest) -> std::io::Result<()> {
        let _ = std::fs::remove_file(self.module_path(digest));
        for entry in std::fs::read_dir(&self.artifacts_dir)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with(&format!("{digest}-")) {
                let _ = std::fs::remove_file(&path);
            }
        }
        Ok(())
    }

    /// Every file whose digest is not in `known`, with that digest: left by
    /// a deploy that crashed before its transaction, or by an engine upgrade.
    /// Only lists; the caller removes what is still unknown under its lock.
    pub fn strays(&self, known: &HashSet<String>) -> std::io::Result<Vec<(String, PathBuf)>> {
        let mut strays = Vec::new();
        for dir in [&self.modules_dir, &self.artifacts_dir] {
            for entry in std::fs::read_dir(dir)? {
                let path = entry?.path();
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let digest = name.split(['.', '-']).next().unwrap_or("");
                if !known.contains(digest) {
                    strays.push((digest.to_owned(), path));
                }
            }
        }
        Ok(strays)
    }
}
