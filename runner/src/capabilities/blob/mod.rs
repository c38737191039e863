//! The `blob` capability: per-tenant object storage for document providers
//! (`[capabilities] blob = true`), named byte strings kept across calls,
//! restarts and versions (docs/architecture.md#document-providers).
//!
//! Blobs are files under one directory (`--blob-dir`, by default
//! `<data-dir>/blobs`; in cluster mode a directory every replica mounts):
//! `<dir>/<tenant>/<first two hex digits>/<SHA-256 of the key>`. A write goes
//! to a temporary file in the tenant's directory and is renamed over the old
//! blob once complete, so a failed or cut-off write replaces nothing and a
//! reader never sees half a blob. Each tenant's bytes are counted against
//! `--tenant-max-blob-mb`; the count starts from a walk of the tenant's
//! directory on first use in this process.
//!
//! The component ABI's host side is in [`component`]; command modules reach
//! the same operations through `host_call` (`blob.*`).

pub mod component;

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// Most bytes one `read` returns.
pub const MAX_READ_BYTES: u64 = 4 * 1024 * 1024;

/// Why a blob operation failed; worded for the guest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// No blob by that key.
    #[error("no blob by that key")]
    NotFound,
    /// The tenant's blob quota (or the request's byte limit) is used up.
    #[error("{0}")]
    QuotaExceeded(String),
    /// An empty or too long key.
    #[error("a blob key must be 1 to {MAX_KEY_BYTES} bytes")]
    InvalidKey,
    /// The manifest does not grant the capability.
    #[error("blob storage is not granted: set `[capabilities] blob = true` in the manifest")]
    NotGranted,
    /// The filesystem failed.
    #[error("blob storage failed: {0}")]
    Failed(String),
}

/// Where every tenant's blobs live, and how much each tenant holds.
pub struct BlobStore {
    root: PathBuf,
    max_bytes_per_tenant: u64,
    /// Bytes held per tenant, counted once per process then kept up to date.
    usage: Mutex<HashMap<String, u64>>,
}

impl BlobStore {
    /// A store under `root` (created on first write) allowing each tenant
    /// `max_bytes_per_tenant`.
    pub fn new(root: PathBuf, max_bytes_per_tenant: u64) -> Arc<Self> {
        Arc::new(Self {
            root,
            max_bytes_per_tenant,
            usage: Mutex::new(HashMap::new()),
        })
    }

    /// One tenant's blobs.
    pub fn bucket(self: &Arc<Self>, tenant: &str) -> BlobBucket {
        BlobBucket {
            store: self.clone(),
            tenant: tenant.to_owned(),
        }
    }

    /// Deletes every blob of `tenant` (the tenant was deleted).
    pub async fn delete_tenant(&self, tenant: &str) -> std::io::Result<()> {
        self.usage.lock().expect("blob usage").remove(tenant);
        match tokio::fs::remove_dir_all(self.tenant_dir(tenant)).await {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        }
    }

    fn tenant_dir(&self, tenant: &str) -> PathBuf {
        // Tenant names are checked (lower-case letters, digits, '-'), never a path.
        self.root.join(tenant)
    }

    /// Bytes `tenant` holds: counted from its directory the first time.
    async fn used(&self, tenant: &str) -> u64 {
        if let Some(used) = self.usage.lock().expect("blob usage").get(tenant) {
            return *used;
        }
        let dir = self.tenant_dir(tenant);
        let counted = tokio::task::spawn_blocking(move || directory_bytes(&dir))
            .await
            .unwrap_or(0);
        *self
            .usage
            .lock()
            .expect("blob usage")
            .entry(tenant.to_owned())
            .or_insert(counted)
    }

    fn adjust(&self, tenant: &str, added: u64, removed: u64) {
        let mut usage = self.usage.lock().expect("blob usage");
        let used = usage.entry(tenant.to_owned()).or_insert(0);
        *used = used.saturating_add(added).saturating_sub(removed);
    }
}

/// Sums the sizes of the files under `dir` (temporary files included: they
/// are what a write in progress holds).
fn directory_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => pending.push(entry.path()),
                Ok(meta) => total += meta.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// One tenant's blobs, as an invocation of its provider sees them.
#[derive(Clone)]
pub struct BlobBucket {
    store: Arc<BlobStore>,
    tenant: String,
}

impl std::fmt::Debug for BlobBucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobBucket")
            .field("tenant", &self.tenant)
            .finish()
    }
}

/// A write in progress: bytes go to a temporary file, counted against the
/// quota as they come; [`BlobWriter::commit`] replaces the blob with them.
/// Dropped without a commit, it removes the temporary file.
pub struct BlobWriter {
    bucket: BlobBucket,
    target: PathBuf,
    temp: PathBuf,
    file: Option<tokio::fs::File>,
    written: u64,
    /// The most this blob may hold: what the tenant has left, plus the bytes
    /// of the blob it replaces.
    allowance: u64,
}

impl BlobBucket {
    fn path(&self, key: &str) -> Result<PathBuf, BlobError> {
        if key.is_empty() || key.len() > MAX_KEY_BYTES {
            return Err(BlobError::InvalidKey);
        }
        let digest = hex::encode(Sha256::digest(key.as_bytes()));
        Ok(self
            .store
            .tenant_dir(&self.tenant)
            .join(&digest[..2])
            .join(digest))
    }

    /// The size of the blob at `key`, if any.
    pub async fn size(&self, key: &str) -> Result<Option<u64>, BlobError> {
        match tokio::fs::metadata(self.path(key)?).await {
            Ok(meta) => Ok(Some(meta.len())),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(failed(err)),
        }
    }

    /// Up to `len` bytes (at most [`MAX_READ_BYTES`]) from `offset`.
    pub async fn read(&self, key: &str, offset: u64, len: u64) -> Result<Vec<u8>, BlobError> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let mut file = self.open(key).await?;
        file.seek(std::io::SeekFrom::Start(offset))
            .await
            .map_err(failed)?;
        let mut bytes = Vec::new();
        file.take(len.min(MAX_READ_BYTES))
            .read_to_end(&mut bytes)
            .await
            .map_err(failed)?;
        Ok(bytes)
    }

    /// Opens the blob at `key` for reading.
    pub async fn open(&self, key: &str) -> Result<tokio::fs::File, BlobError> {
        match tokio::fs::File::open(self.path(key)?).await {
            Ok(file) => Ok(file),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(BlobError::NotFound),
            Err(err) => Err(failed(err)),
        }
    }

    /// Starts replacing the blob at `key`.
    pub async fn writer(&self, key: &str) -> Result<BlobWriter, BlobError> {
        let target = self.path(key)?;
        let dir = self.store.tenant_dir(&self.tenant);
        tokio::fs::create_dir_all(target.parent().expect("a blob path has a parent"))
            .await
            .map_err(failed)?;
        let temp = dir.join(format!(".write-{}", hex::encode(rand::random::<[u8; 8]>())));
        let file = tokio::fs::File::create(&temp).await.map_err(failed)?;
        let used = self.store.used(&self.tenant).await;
        // The blob replaced gives its bytes back.
        let replaced = self.size(key).await?.unwrap_or(0);
        Ok(BlobWriter {
            bucket: self.clone(),
            target,
            temp,
            file: Some(file),
            written: 0,
            allowance: (self.store.max_bytes_per_tenant + replaced).saturating_sub(used),
        })
    }

    /// Replaces the blob at `key` with `bytes`.
    pub async fn write(&self, key: &str, bytes: &[u8]) -> Result<(), BlobError> {
        let mut writer = self.writer(key).await?;
        writer.append(bytes).await?;
        writer.commit().await.map(|_| ())
    }

    /// Deletes the blob at `key`; false when there was none.
    pub async fn delete(&self, key: &str) -> Result<bool, BlobError> {
        let path = self.path(key)?;
        let size = self.size(key).await?.unwrap_or(0);
        match tokio::fs::remove_file(path).await {
            Ok(()) => {
                self.store.adjust(&self.tenant, 0, size);
                Ok(true)
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(err) => Err(failed(err)),
        }
    }
}

impl BlobWriter {
    /// Appends `bytes`, refusing past the tenant's quota.
    pub async fn append(&mut self, bytes: &[u8]) -> Result<(), BlobError> {
        let len = bytes.len() as u64;
        if self.written + len > self.allowance {
            return Err(BlobError::QuotaExceeded(format!(
                "the tenant's blob storage is full ({} bytes, --tenant-max-blob-mb)",
                self.bucket.store.max_bytes_per_tenant
            )));
        }
        let file = self.file.as_mut().expect("a writer's file until commit");
        file.write_all(bytes).await.map_err(failed)?;
        self.written += len;
        Ok(())
    }

    /// Bytes appended so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Makes the bytes written the blob; returns how many there are.
    pub async fn commit(mut self) -> Result<u64, BlobError> {
        let mut file = self.file.take().expect("a writer's file until commit");
        file.flush().await.map_err(failed)?;
        file.sync_data().await.map_err(failed)?;
        drop(file);
        let old = tokio::fs::metadata(&self.target)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        tokio::fs::rename(&self.temp, &self.target)
            .await
            .map_err(failed)?;
        let store = &self.bucket.store;
        store.adjust(&self.bucket.tenant, self.written, old);
        Ok(self.written)
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

fn failed(err: std::io::Error) -> BlobError {
    BlobError::Failed(err.to_string())
}

/// The invocation's bucket, or the refusal naming the manifest key to set.
pub fn granted(bucket: Option<&BlobBucket>) -> Result<&BlobBucket, BlobError> {
    bucket.ok_or(BlobError::NotGranted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_replace_atomically_and_count_against_the_quota() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path().to_path_buf(), 10);
        let bucket = store.bucket("acme");
        bucket.write("a", b"12345").await.unwrap();
        assert_eq!(bucket.size("a").await.unwrap(), Some(5));
        // Replacing a blob frees its old bytes.
        bucket.write("a", b"123456789").await.unwrap();
        assert_eq!(bucket.read("a", 2, 3).await.unwrap(), b"345");
        let full = bucket.write("b", b"xy").await.unwrap_err();
        assert!(matches!(full, BlobError::QuotaExceeded(_)), "{full:?}");
        // The refused write replaced nothing and left no temporary file.
        assert_eq!(bucket.size("b").await.unwrap(), None);
        assert_eq!(directory_bytes(dir.path()), 9);
        assert!(bucket.delete("a").await.unwrap());
        bucket.write("b", b"0123456789").await.unwrap();
        assert!(!bucket.delete("nothing").await.unwrap());
    }

    #[tokio::test]
    async fn tenants_never_share_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path().to_path_buf(), 1 << 20);
        store.bucket("acme").write("k", b"acme's").await.unwrap();
        let other = store.bucket("globex");
        assert_eq!(other.size("k").await.unwrap(), None);
        assert_eq!(other.read("k", 0, 10).await, Err(BlobError::NotFound));
        store.delete_tenant("acme").await.unwrap();
        assert_eq!(store.bucket("acme").size("k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn keys_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let bucket = BlobStore::new(dir.path().to_path_buf(), 1 << 20).bucket("acme");
        assert_eq!(bucket.size("").await, Err(BlobError::InvalidKey));
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        assert_eq!(bucket.write(&long, b"x").await, Err(BlobError::InvalidKey));
    }
}
