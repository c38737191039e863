//! The tree in the key-value store: records, folder membership and new ids,
//! laid out as [`crate::keys`] describes, over a [`Backend`] (the host's
//! bucket in [`crate::host`], a map in tests).

use crate::bindings::docket::provider::types::Failure;
use crate::failure::failed;
use crate::keys;
use crate::record::{Entry, Record};

/// What the store needs from the host: one key-value bucket, and deleting
/// blobs. Errors are the text users see.
pub trait Backend {
    /// The value at `key`, if any.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String>;
    /// Sets `key` to `value`.
    fn set(&self, key: &str, value: &[u8]) -> Result<(), String>;
    /// Deletes `key` (no error when it is absent).
    fn delete(&self, key: &str) -> Result<(), String>;
    /// One page of keys from `cursor`, and the next page's cursor.
    fn list_keys(&self, cursor: Option<u64>) -> Result<(Vec<String>, Option<u64>), String>;
    /// Adds 1 to the counter at `key`; answers its new value.
    fn increment(&self, key: &str) -> Result<u64, String>;
    /// Deletes the blob at `key`, if there is one.
    fn delete_blob(&self, key: &str);
}

/// The drive's tree over a backend, and the root folder's name.
pub struct Store<B> {
    backend: B,
    root_title: String,
}

impl<B: Backend> Store<B> {
    /// The tree in `backend`; the root folder is called `root_title`.
    pub fn new(backend: B, root_title: String) -> Self {
        Store {
            backend,
            root_title,
        }
    }

    /// The file or folder `id` ("/" always exists), if there is one.
    pub fn entry(&self, id: &str) -> Result<Option<Entry>, Failure> {
        if id == keys::ROOT {
            return Ok(Some(Entry::root(&self.root_title)));
        }
        if !keys::plausible(id) {
            return Ok(None);
        }
        let Some(bytes) = self.backend.get(&keys::doc(id)).map_err(kv)? else {
            return Ok(None);
        };
        let record = Record::from_bytes(&bytes)
            .map_err(|e| failed(format!("the record of \"{id}\" is damaged: {e}")))?;
        Ok(Some(Entry {
            id: id.to_owned(),
            record,
        }))
    }

    /// The entries of `ids`, in that order; ids without a record are skipped.
    pub fn entries(&self, ids: &[String]) -> Result<Vec<Entry>, Failure> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.entry(id)?);
        }
        Ok(out)
    }

    /// Stores `entry`'s record (not its place in the tree: see [`Store::link`]).
    pub fn put(&self, entry: &Entry) -> Result<(), Failure> {
        self.backend
            .set(&keys::doc(&entry.id), &entry.record.to_bytes())
            .map_err(kv)
    }

    /// Deletes the record of `id`.
    pub fn remove(&self, id: &str) -> Result<(), Failure> {
        self.backend.delete(&keys::doc(id)).map_err(kv)
    }

    /// Puts `id` in folder `parent`.
    pub fn link(&self, parent: &str, id: &str) -> Result<(), Failure> {
        self.backend.set(&keys::child(parent, id), &[]).map_err(kv)
    }

    /// Takes `id` out of folder `parent`.
    pub fn unlink(&self, parent: &str, id: &str) -> Result<(), Failure> {
        self.backend.delete(&keys::child(parent, id)).map_err(kv)
    }

    /// Every `(parent, id)` link of the tree, read from the keys alone.
    pub fn links(&self) -> Result<Vec<(String, String)>, Failure> {
        let mut links = Vec::new();
        let mut cursor = None;
        loop {
            let (keys, next) = self.backend.list_keys(cursor).map_err(kv)?;
            links.extend(keys.iter().filter_map(|key| {
                keys::parse_child(key).map(|(p, id)| (p.to_owned(), id.to_owned()))
            }));
            match next {
                Some(next) if !keys.is_empty() => cursor = Some(next),
                _ => return Ok(links),
            }
        }
    }

    /// A new id, never handed out before.
    pub fn new_id(&self) -> Result<String, Failure> {
        let n = self.backend.increment(keys::COUNTER).map_err(kv)?;
        Ok(keys::id_from_counter(n))
    }

    /// The backend, for tests.
    #[cfg(test)]
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Deletes the bytes of file `id`, if it has any.
    pub fn delete_bytes(&self, id: &str) {
        self.backend.delete_blob(&keys::blob(id));
    }
}

/// A key-value error as a failure.
fn kv(why: String) -> Failure {
    failed(format!("the key-value store failed: {why}"))
}

/// A backend in memory, for tests.
#[cfg(test)]
pub mod memory {
    use std::cell::RefCell;
    use std::collections::{BTreeMap, BTreeSet};

    use super::Backend;

    /// Keys listed per page: small, so that tests page.
    const PAGE: usize = 3;

    /// Values, counters and blobs in maps.
    #[derive(Default)]
    pub struct Memory {
        /// The key-value bucket.
        pub values: RefCell<BTreeMap<String, Vec<u8>>>,
        /// The blob keys that exist.
        pub blobs: RefCell<BTreeSet<String>>,
    }

    impl Backend for Memory {
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
            Ok(self.values.borrow().get(key).cloned())
        }

        fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
            self.values
                .borrow_mut()
                .insert(key.to_owned(), value.to_vec());
            Ok(())
        }

        fn delete(&self, key: &str) -> Result<(), String> {
            self.values.borrow_mut().remove(key);
            Ok(())
        }

        fn list_keys(&self, cursor: Option<u64>) -> Result<(Vec<String>, Option<u64>), String> {
            let start = cursor.unwrap_or(0) as usize;
            let values = self.values.borrow();
            let keys: Vec<String> = values.keys().skip(start).take(PAGE).cloned().collect();
            let next = (keys.len() == PAGE).then_some((start + PAGE) as u64);
            Ok((keys, next))
        }

        fn increment(&self, key: &str) -> Result<u64, String> {
            let mut values = self.values.borrow_mut();
            let old = values
                .get(key)
                .map_or(0, |v| u64::from_le_bytes(v.as_slice().try_into().unwrap()));
            values.insert(key.to_owned(), (old + 1).to_le_bytes().to_vec());
            Ok(old + 1)
        }

        fn delete_blob(&self, key: &str) {
            self.blobs.borrow_mut().remove(key);
        }
    }
}
