//! Garbage collection: module rows and files no version refers to any more.

use crate::registry::ModuleDigest;
use crate::registry::blobs::Blobs;
use crate::registry::store::{SqliteStore, StoreError};
use std::collections::HashSet;

impl SqliteStore {
    /// Deletes modules no version refers to any more, files first: a crash in
    /// between leaves a row whose file a later deploy of the same bytes rewrites.
    pub(super) async fn collect_garbage(&self) -> Result<(), StoreError> {
        let unreferenced: Vec<String> = sqlx::query_scalar(
            "SELECT digest FROM modules WHERE digest NOT IN (SELECT module FROM versions)",
        )
        .fetch_all(&self.pool)
        .await?;
        for digest in unreferenced {
            let digest = ModuleDigest::from_stored(digest);
            self.blobs.remove_module(&digest)?;
            sqlx::query("DELETE FROM modules WHERE digest = ?")
                .bind(digest.as_str())
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Starts [`sweep_stray_files`] in the background, [`SWEEP_AFTER`] from
    /// now: after the start rather than on its path (at 100,000 versions the
    /// scan of every module and artifact file took most of the time to ready).
    pub(super) fn sweep_stray_files_later(&self) {
        let pool = self.pool.clone();
        let blobs = self.blobs.clone();
        let writes = self.writes.clone();
        tokio::spawn(async move {
            tokio::time::sleep(SWEEP_AFTER).await;
            match sweep_stray_files(&pool, &blobs, &writes).await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "removed files no module refers to"),
                Err(err) => tracing::warn!(error = %err, "could not sweep stray module files"),
            }
        });
    }
}

/// How long after the store opens its stray files are swept: long enough
/// that the sweep does not compete with the start for the cores (short under
/// test, where a test waits for it).
#[cfg(not(test))]
const SWEEP_AFTER: std::time::Duration = std::time::Duration::from_secs(5);
#[cfg(test)]
const SWEEP_AFTER: std::time::Duration = std::time::Duration::from_millis(50);

/// Removes files no module row refers to: left by a deploy that crashed
/// before its transaction, or by an engine upgrade (old artifacts). Returns
/// how many it removed.
///
/// Safe while the store serves: the directories are listed without the
/// write lock, but a candidate is removed only if, under the lock, its digest
/// is still not a module row. Deploys write their files and commit their rows
/// under that lock, so a deploy of the same bytes either committed first (the
/// digest is known, the file kept) or runs after the removal and writes the
/// file again (`write_module` writes a missing file). Files created after the
/// listing are not candidates at all.
pub(super) async fn sweep_stray_files(
    pool: &sqlx::SqlitePool,
    blobs: &Blobs,
    writes: &tokio::sync::Mutex<()>,
) -> Result<usize, StoreError> {
    let known = module_digests(pool).await?;
    let lister = blobs.clone();
    let candidates = tokio::task::spawn_blocking(move || lister.strays(&known))
        .await
        .map_err(|e| StoreError::Database(format!("sweeping stray files: {e}")))??;
    if candidates.is_empty() {
        return Ok(0);
    }
    let _write = writes.lock().await;
    let known = module_digests(pool).await?;
    let mut removed = 0;
    for (digest, path) in candidates {
        if !known.contains(&digest) && std::fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

async fn module_digests(pool: &sqlx::SqlitePool) -> Result<HashSet<String>, StoreError> {
    Ok(
        sqlx::query_scalar::<_, String>("SELECT digest FROM modules")
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use crate::names::TenantName;
    use crate::registry::secrets::SecretBox;
    use crate::registry::store::SqliteStore;
    use crate::registry::{BlobStore, ModuleDigest, QuotaOverrides, Quotas, TenantStore};
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn stray_files_are_swept_after_the_start_and_stored_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let acme = TenantName::new("acme").unwrap();
        let bytes = b"module bytes".to_vec();
        let digest = ModuleDigest::of(&bytes);
        {
            let store = SqliteStore::open(dir.path(), Quotas::default(), SecretBox::new([7; 32]))
                .await
                .unwrap();
            store
                .create_tenant(&acme, None, QuotaOverrides::default())
                .await
                .unwrap();
            crate::registry::conformance::deploy(&store, &acme, "greet", &bytes)
                .await
                .unwrap();
            store
                .save_artifact(&digest, "engine", b"compiled")
                .await
                .unwrap();
        }
        // Left by a deploy that crashed before its transaction.
        let stray = dir.path().join("modules").join("ab12.wasm");
        let stray_artifact = dir.path().join("artifacts").join("ab12-engine.cwasm");
        std::fs::write(&stray, b"x").unwrap();
        std::fs::write(&stray_artifact, b"x").unwrap();

        let _again = SqliteStore::open(dir.path(), Quotas::default(), SecretBox::new([7; 32]))
            .await
            .unwrap();
        let started = Instant::now();
        while stray.exists() || stray_artifact.exists() {
            assert!(started.elapsed() < Duration::from_secs(3), "never swept");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let stored = |dir: &str| std::fs::read_dir(dir).unwrap().count();
        let root = dir.path().to_string_lossy().into_owned();
        assert_eq!(stored(&format!("{root}/modules")), 1);
        assert_eq!(stored(&format!("{root}/artifacts")), 1);
    }
}
