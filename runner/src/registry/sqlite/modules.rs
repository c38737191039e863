//! Module rows (digest, size, ABI) and the recorded digests of compiled
//! artifacts; the bytes themselves are files ([`Blobs`](crate::registry::blobs::Blobs)).

use crate::registry::store::SqliteStore;
use crate::registry::traits::{BlobStore, StoreFuture};
use crate::registry::{CheckedArtifact, ModuleDigest};
use sha2::{Digest, Sha256};

impl SqliteStore {
    /// The SHA-256 recorded when Docket wrote the artifact, if it did.
    async fn artifact_digest(
        &self,
        digest: &ModuleDigest,
        engine: &str,
    ) -> Result<Option<String>, crate::registry::StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT artifact_digest FROM artifacts WHERE module = ? AND engine = ?",
        )
        .bind(digest.as_str())
        .bind(engine)
        .fetch_optional(&self.pool)
        .await?)
    }
}

impl BlobStore for SqliteStore {
    /// The ABI recorded for a module, if stored.
    fn module_abi<'a>(&'a self, digest: &'a ModuleDigest) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move {
            Ok(
                sqlx::query_scalar("SELECT abi FROM modules WHERE digest = ?")
                    .bind(digest.as_str())
                    .fetch_optional(&self.pool)
                    .await?,
            )
        })
    }

    /// A module's bytes.
    fn read_module<'a>(&'a self, digest: &'a ModuleDigest) -> StoreFuture<'a, Vec<u8>> {
        Box::pin(async move { Ok(self.blobs.read_module(digest)?) })
    }

    /// A compiled artifact for `engine`, only if its bytes match the digest
    /// recorded when Docket wrote it.
    fn read_artifact<'a>(
        &'a self,
        digest: &'a ModuleDigest,
        engine: &'a str,
    ) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let Some(expected) = self.artifact_digest(digest, engine).await? else {
                return Ok(None);
            };
            let Some(bytes) = self.blobs.read_artifact(digest, engine) else {
                return Ok(None);
            };
            if hex::encode(Sha256::digest(&bytes)) != expected {
                tracing::warn!(module = %digest, "compiled artifact does not match its recorded digest; recompiling");
                return Ok(None);
            }
            Ok(Some(bytes))
        })
    }

    /// The artifact's file, open, only if the bytes read through that handle
    /// match the digest recorded when Docket wrote it: the file is then
    /// memory-mapped, and since artifact files are only ever replaced by
    /// rename, the mapped inode keeps the bytes that were checked.
    fn open_artifact<'a>(
        &'a self,
        digest: &'a ModuleDigest,
        engine: &'a str,
    ) -> StoreFuture<'a, Option<CheckedArtifact>> {
        Box::pin(async move {
            use std::io::{Read, Seek};
            let Some(expected) = self.artifact_digest(digest, engine).await? else {
                return Ok(None);
            };
            let Some(mut file) = self.blobs.open_artifact(digest, engine) else {
                return Ok(None);
            };
            let mut hasher = Sha256::new();
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                match file.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) => hasher.update(&buffer[..n]),
                    Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => return Ok(None),
                }
            }
            if hex::encode(hasher.finalize()) != expected {
                tracing::warn!(module = %digest, "compiled artifact does not match its recorded digest; recompiling");
                return Ok(None);
            }
            if file.rewind().is_err() {
                return Ok(None);
            }
            Ok(Some(CheckedArtifact::File(file)))
        })
    }

    /// Records a compiled artifact for an already stored module.
    fn save_artifact<'a>(
        &'a self,
        digest: &'a ModuleDigest,
        engine: &'a str,
        artifact: &'a [u8],
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.blobs.write_artifact(digest, engine, artifact)?;
            sqlx::query(
                "INSERT OR REPLACE INTO artifacts (module, engine, artifact_digest) VALUES (?, ?, ?)",
            )
            .bind(digest.as_str())
            .bind(engine)
            .bind(hex::encode(Sha256::digest(artifact)))
            .execute(&self.pool)
            .await?;
            Ok(())
        })
    }
}
