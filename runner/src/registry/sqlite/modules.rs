//! Module rows (digest, size, ABI) and the recorded digests of compiled
//! artifacts; the bytes themselves are files ([`Blobs`](crate::registry::blobs::Blobs)).

use crate::registry::ModuleDigest;
use crate::registry::store::{Store, StoreError};
use sha2::{Digest, Sha256};

impl Store {
    /// The ABI recorded for a module, if stored.
    pub async fn module_abi(&self, digest: &ModuleDigest) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT abi FROM modules WHERE digest = ?")
                .bind(digest.as_str())
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// A module's bytes.
    pub fn read_module(&self, digest: &ModuleDigest) -> Result<Vec<u8>, StoreError> {
        Ok(self.blobs.read_module(digest)?)
    }

    /// A compiled artifact for `engine`, only if its bytes match the digest
    /// recorded when Docket wrote it.
    pub async fn read_artifact(
        &self,
        digest: &ModuleDigest,
        engine: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let expected: Option<String> = sqlx::query_scalar(
            "SELECT artifact_digest FROM artifacts WHERE module = ? AND engine = ?",
        )
        .bind(digest.as_str())
        .bind(engine)
        .fetch_optional(&self.pool)
        .await?;
        let Some(expected) = expected else {
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
    }

    /// Records a compiled artifact for an already stored module.
    pub async fn save_artifact(
        &self,
        digest: &ModuleDigest,
        engine: &str,
        artifact: &[u8],
    ) -> Result<(), StoreError> {
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
    }
}
