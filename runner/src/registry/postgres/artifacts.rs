//! Module bytes and compiled artifacts in the database, and this replica's
//! disk cache of artifacts.
//!
//! Deserializing a compiled artifact runs its machine code, so a replica loads
//! only artifacts it can authenticate: each carries an HMAC-SHA256 over the
//! engine fingerprint, the module digest and the artifact bytes, keyed by a
//! key derived from the operator's secret key (`DOCKET_SECRETS_KEY`), which
//! the database does not hold. Someone who can write to the database can
//! delete or corrupt artifacts (replicas then recompile from the module
//! bytes) but cannot make a replica run code that no replica compiled. The
//! local copies carry the same MAC and are checked the same way.

use super::PgStore;
use crate::registry::ModuleDigest;
use crate::registry::keys::write_atomically;
use crate::registry::secrets::SecretBox;
use crate::registry::store::{StoreError, now_ms};
use crate::registry::traits::{BlobStore, StoreFuture};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::{Postgres, Row, Transaction};
use std::path::{Path, PathBuf};

const MAC_BYTES: usize = 32;

/// Compiled artifacts cached on this replica's disk (`{scratch}/artifacts`),
/// each file the artifact's MAC followed by its bytes.
pub(super) struct LocalArtifacts {
    dir: PathBuf,
    key: [u8; 32],
}

impl LocalArtifacts {
    pub(super) fn open(scratch: &Path, secrets: &SecretBox) -> Result<Self, StoreError> {
        let dir = scratch.join("artifacts");
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            key: secrets.artifact_key(),
        })
    }

    fn hmac(&self, digest: &ModuleDigest, engine: &str, bytes: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        // Lengths first, so no two different triples hash the same stream.
        for part in [engine.as_bytes(), digest.as_str().as_bytes()] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.update(bytes);
        mac
    }

    /// The MAC an artifact must carry.
    pub(super) fn mac(&self, digest: &ModuleDigest, engine: &str, bytes: &[u8]) -> Vec<u8> {
        self.hmac(digest, engine, bytes)
            .finalize()
            .into_bytes()
            .to_vec()
    }

    /// Whether `mac` authenticates the artifact (compared in constant time).
    pub(super) fn verify(
        &self,
        digest: &ModuleDigest,
        engine: &str,
        bytes: &[u8],
        mac: &[u8],
    ) -> bool {
        self.hmac(digest, engine, bytes).verify_slice(mac).is_ok()
    }

    /// Removes cached artifacts of modules the database no longer holds
    /// (deleted while this replica was away), so the scratch directory
    /// follows what is stored rather than everything ever loaded. Files
    /// modified at or after `listed` (when `stored` was read) are kept: they
    /// may be of a module deployed since.
    pub(super) fn retain(
        &self,
        stored: &std::collections::HashSet<String>,
        listed: std::time::SystemTime,
    ) -> std::io::Result<()> {
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let path = entry.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let digest = name.split('-').next().unwrap_or("");
            let older = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified < listed);
            if !stored.contains(digest) && older {
                let _ = std::fs::remove_file(&path);
            }
        }
        Ok(())
    }

    fn path(&self, digest: &ModuleDigest, engine: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{engine}.cwasm"))
    }

    /// The cached artifact, if there is one that authenticates.
    pub(super) fn read(&self, digest: &ModuleDigest, engine: &str) -> Option<Vec<u8>> {
        let mut file = std::fs::read(self.path(digest, engine)).ok()?;
        if file.len() < MAC_BYTES {
            return None;
        }
        let bytes = file.split_off(MAC_BYTES);
        if self.verify(digest, engine, &bytes, &file) {
            Some(bytes)
        } else {
            tracing::warn!(module = %digest, "cached artifact fails authentication; ignoring it");
            None
        }
    }

    /// Caches an artifact with its MAC; a failure only costs a later fetch.
    pub(super) fn write(&self, digest: &ModuleDigest, engine: &str, bytes: &[u8], mac: &[u8]) {
        let mut file = Vec::with_capacity(MAC_BYTES + bytes.len());
        file.extend_from_slice(mac);
        file.extend_from_slice(bytes);
        if let Err(err) = write_atomically(&self.path(digest, engine), &file) {
            tracing::warn!(module = %digest, error = %err, "could not cache the artifact on disk");
        }
    }
}

impl PgStore {
    /// Records an artifact for every replica (in the deploy's transaction)
    /// and caches it here.
    pub(super) async fn share_artifact(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        digest: &ModuleDigest,
        engine: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let mac = self.artifacts.mac(digest, engine, bytes);
        sqlx::query(
            "INSERT INTO artifacts (module, engine, bytes, mac, created_ms) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (module, engine) DO UPDATE SET bytes = excluded.bytes, \
             mac = excluded.mac, created_ms = excluded.created_ms",
        )
        .bind(digest.as_str())
        .bind(engine)
        .bind(bytes)
        .bind(&mac)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
        self.artifacts.write(digest, engine, bytes, &mac);
        Ok(())
    }
}

impl BlobStore for PgStore {
    fn module_abi<'a>(&'a self, digest: &'a ModuleDigest) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move {
            Ok(
                sqlx::query_scalar("SELECT abi FROM modules WHERE digest = $1")
                    .bind(digest.as_str())
                    .fetch_optional(&self.pool)
                    .await?,
            )
        })
    }

    fn read_module<'a>(&'a self, digest: &'a ModuleDigest) -> StoreFuture<'a, Vec<u8>> {
        Box::pin(async move {
            let bytes: Option<Vec<u8>> =
                sqlx::query_scalar("SELECT bytes FROM modules WHERE digest = $1")
                    .bind(digest.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
            bytes.ok_or_else(|| StoreError::Database(format!("module {digest} is not stored")))
        })
    }

    /// The artifact from this replica's disk, else from the database (then
    /// cached here); only one whose MAC verifies. While the database is known
    /// to be away, only the disk is read.
    fn read_artifact<'a>(
        &'a self,
        digest: &'a ModuleDigest,
        engine: &'a str,
    ) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            if let Some(bytes) = self.artifacts.read(digest, engine) {
                return Ok(Some(bytes));
            }
            // Known away: say so now rather than after the pool's timeout
            // (a load then tries the other tier's copy on this disk).
            if let Some(error) = self.health.report().error {
                return Err(StoreError::Unavailable(error));
            }
            let row =
                sqlx::query("SELECT bytes, mac FROM artifacts WHERE module = $1 AND engine = $2")
                    .bind(digest.as_str())
                    .bind(engine)
                    .fetch_optional(&self.pool)
                    .await?;
            let Some(row) = row else {
                return Ok(None);
            };
            let bytes: Vec<u8> = row.try_get("bytes")?;
            let mac: Vec<u8> = row.try_get("mac")?;
            if !self.artifacts.verify(digest, engine, &bytes, &mac) {
                tracing::warn!(module = %digest, "the database's artifact fails authentication (written without this cluster's key, or altered); recompiling");
                return Ok(None);
            }
            self.artifacts.write(digest, engine, &bytes, &mac);
            Ok(Some(bytes))
        })
    }

    fn save_artifact<'a>(
        &'a self,
        digest: &'a ModuleDigest,
        engine: &'a str,
        artifact: &'a [u8],
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await?;
            self.share_artifact(&mut tx, digest, engine, artifact)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }
}
