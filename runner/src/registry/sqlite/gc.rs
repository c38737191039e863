//! Garbage collection: module rows and files no version refers to any more.

use crate::registry::ModuleDigest;
use crate::registry::store::{SqliteStore, StoreError};

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

    /// Removes files no module row refers to: left by a deploy that crashed
    /// before its transaction, or by an engine upgrade (old artifacts).
    pub(super) async fn remove_unreferenced_files(&self) -> Result<(), StoreError> {
        let known: std::collections::HashSet<String> =
            sqlx::query_scalar::<_, String>("SELECT digest FROM modules")
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .collect();
        self.blobs.remove_all_but(&known)?;
        Ok(())
    }
}
