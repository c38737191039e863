//! The store's [`Backend`] on the host's imports: the key-value bucket
//! "default" (`wasi:keyvalue`), the blob store, and the config.

use crate::bindings::docket::provider::blob;
use crate::bindings::docket::provider::types::Failure;
use crate::bindings::wasi::config::store as config;
use crate::bindings::wasi::keyvalue::atomics;
use crate::bindings::wasi::keyvalue::store::{self, Bucket, Error};
use crate::failure::failed;
use crate::store::{Backend, Store};

/// The root folder's name when the manifest's config sets no `title`.
const DEFAULT_TITLE: &str = "Docket Drive";

/// The open bucket.
pub struct Host {
    bucket: Bucket,
}

/// The drive's store, with the root folder named by config `title`.
pub fn open() -> Result<Store<Host>, Failure> {
    let title = config::get("title")
        .ok()
        .flatten()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| DEFAULT_TITLE.to_owned());
    let bucket = store::open("default")
        .map_err(|e| failed(format!("the key-value store failed: {}", describe(e))))?;
    Ok(Store::new(Host { bucket }, title))
}

impl Backend for Host {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.bucket.get(key).map_err(describe)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.bucket.set(key, value).map_err(describe)
    }

    fn delete(&self, key: &str) -> Result<(), String> {
        self.bucket.delete(key).map_err(describe)
    }

    fn list_keys(&self, cursor: Option<u64>) -> Result<(Vec<String>, Option<u64>), String> {
        let page = self.bucket.list_keys(cursor).map_err(describe)?;
        Ok((page.keys, page.cursor))
    }

    fn increment(&self, key: &str) -> Result<u64, String> {
        atomics::increment(&self.bucket, key, 1).map_err(describe)
    }

    fn delete_blob(&self, key: &str) -> bool {
        // A blob left behind by a failed delete is unreachable, not wrong:
        // its record is gone. The store's error is not the user's.
        blob::delete(key).unwrap_or(false)
    }

    fn read_blob(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        let mut bytes = Vec::new();
        loop {
            let chunk = match blob::read(key, bytes.len() as u64, READ_CHUNK) {
                Ok(chunk) => chunk,
                Err(blob::Error::NotFound) if bytes.is_empty() => return Ok(None),
                Err(e) => return Err(describe_blob(e)),
            };
            let last = (chunk.len() as u64) < READ_CHUNK;
            bytes.extend_from_slice(&chunk);
            if last {
                return Ok(Some(bytes));
            }
        }
    }

    fn write_blob(&self, key: &str, bytes: &[u8]) -> Result<(), String> {
        blob::write(key, bytes).map_err(describe_blob)
    }
}

/// The most bytes one `blob.read` returns.
const READ_CHUNK: u64 = 4 << 20;

/// A blob error in words.
fn describe_blob(error: blob::Error) -> String {
    match error {
        blob::Error::QuotaExceeded(message) | blob::Error::Failed(message) => message,
        blob::Error::NotFound => "no such blob".to_owned(),
        blob::Error::InvalidKey => "invalid key".to_owned(),
    }
}

/// A key-value error in words.
fn describe(error: Error) -> String {
    match error {
        Error::NoSuchStore => "no such store".to_owned(),
        Error::AccessDenied => {
            "access denied (the manifest needs [capabilities] key-value)".to_owned()
        }
        Error::Other(message) => message,
    }
}
