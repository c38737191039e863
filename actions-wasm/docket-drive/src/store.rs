//! The tree in the key-value store: records, folder membership and new ids,
//! laid out as [`crate::keys`] describes, and each folder's listing index
//! ([`crate::index`]) in the blob store, over a [`Backend`] (the host's
//! bucket and blobs in [`crate::host`], maps in tests).

use std::collections::BTreeMap;

use crate::bindings::docket::provider::types::Failure;
use crate::failure::failed;
use crate::index::Index;
use crate::record::{Entry, Record};
use crate::{keys, tree};

/// The most children a rebuild of a folder's index reads every record of
/// (one key-value operation each, of the 1,000 a call may make by default).
pub const FULL_REBUILD_MAX: usize = 900;

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
    /// Deletes the blob at `key`, if there is one; answers whether there was.
    fn delete_blob(&self, key: &str) -> bool;
    /// The whole blob at `key`, if there is one.
    fn read_blob(&self, key: &str) -> Result<Option<Vec<u8>>, String>;
    /// Replaces the blob at `key` with `bytes`.
    fn write_blob(&self, key: &str, bytes: &[u8]) -> Result<(), String>;
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

    /// The children of folder `folder`, from its index when that is current
    /// (one counter read and one blob read, whatever their number), else
    /// rebuilt from the markers and records and stored again.
    pub fn children(&self, folder: &str) -> Result<Vec<Entry>, Failure> {
        let rev = self.revision(folder)?;
        match self.read_index(folder)? {
            Some(index) if index.current(rev) => Ok(index.into_entries()),
            stale => self.rebuild(folder, rev, stale),
        }
    }

    /// Records that child `id` of `folder` is now `record` (`None`: it is
    /// gone) in the folder's index. Called after the record and marker are
    /// written: takes the folder's next revision, then rewrites the index.
    pub fn changed(&self, folder: &str, id: &str, record: Option<&Record>) -> Result<(), Failure> {
        let rev = self.backend.increment(&keys::rev(folder)).map_err(kv)?;
        let mut index = match self.read_index(folder)? {
            Some(mut index) => {
                // Current only if nothing else changed the folder since the
                // index this one is made from.
                index.clean = index.current(rev - 1);
                index
            }
            // No index (a drive from before indexes, or a damaged one): every
            // change up to `rev` has written its keys by now.
            None => Index::new(rev, true, &self.scan(folder)?),
        };
        index.rev = rev;
        index.apply(id, record);
        self.write_index(folder, &index)
    }

    /// Gives the new folder `id` its empty, current index.
    pub fn new_folder(&self, id: &str) -> Result<(), Failure> {
        self.write_index(id, &Index::new(0, true, &[]))
    }

    /// Deletes what folder `id` keeps besides its record: its index and its
    /// revision counter.
    pub fn forget_folder(&self, id: &str) -> Result<(), Failure> {
        self.backend.delete_blob(&keys::index(id));
        self.backend.delete(&keys::rev(id)).map_err(kv)
    }

    /// Deletes the index and revision of `id` if it is a folder with an
    /// index (for a file, no key-value operation).
    pub fn forget_index(&self, id: &str) -> Result<(), Failure> {
        if self.backend.delete_blob(&keys::index(id)) {
            self.backend.delete(&keys::rev(id)).map_err(kv)?;
        }
        Ok(())
    }

    /// The folder's revision: how many changes of its contents began.
    fn revision(&self, folder: &str) -> Result<u64, Failure> {
        let Some(bytes) = self.backend.get(&keys::rev(folder)).map_err(kv)? else {
            return Ok(0);
        };
        std::str::from_utf8(&bytes)
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .ok_or_else(|| failed(format!("the revision of folder \"{folder}\" is damaged")))
    }

    /// The stored index of `folder`; `None` when there is none or it is
    /// damaged (either way it is rebuilt).
    fn read_index(&self, folder: &str) -> Result<Option<Index>, Failure> {
        let bytes = self.backend.read_blob(&keys::index(folder)).map_err(blob)?;
        Ok(bytes.and_then(|b| Index::from_bytes(&b).ok()))
    }

    fn write_index(&self, folder: &str, index: &Index) -> Result<(), Failure> {
        self.backend
            .write_blob(&keys::index(folder), &index.to_bytes())
            .map_err(blob)
    }

    /// The children of `folder` from the markers and records, stored as its
    /// index at `rev`, read before the markers: a change that took a later
    /// revision makes this index not current.
    ///
    /// Every record is read when there are at most [`FULL_REBUILD_MAX`]
    /// children. Past that (the call's key-value budget would not allow it)
    /// the markers still decide which children there are, but a child the
    /// `stale` index has keeps the record it has there: only the records of
    /// children it lacks are read. A rename or upload the stale index missed
    /// then shows its old title or size until that child changes again.
    fn rebuild(&self, folder: &str, rev: u64, stale: Option<Index>) -> Result<Vec<Entry>, Failure> {
        let ids = tree::children(folder, &self.links()?);
        let had_index = stale.is_some();
        let entries = match stale {
            Some(stale) if ids.len() > FULL_REBUILD_MAX => {
                let mut known: BTreeMap<String, Record> = stale.entries.into_iter().collect();
                let mut entries = Vec::with_capacity(ids.len());
                for id in ids {
                    match known.remove(&id) {
                        Some(record) => entries.push(Entry { id, record }),
                        None => entries.extend(self.entry(&id)?),
                    }
                }
                entries
            }
            _ => self.entries(&ids)?,
        };
        // An empty folder without an index needs none yet (so listing a new
        // drive's root writes nothing): its first change writes one.
        if had_index || !entries.is_empty() {
            self.write_index(folder, &Index::new(rev, true, &entries))?;
        }
        Ok(entries)
    }

    /// The children of `folder` from the markers and one record each.
    fn scan(&self, folder: &str) -> Result<Vec<Entry>, Failure> {
        self.entries(&tree::children(folder, &self.links()?))
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

/// A blob store error (about an index) as a failure.
fn blob(why: String) -> Failure {
    failed(format!("the blob store failed: {why}"))
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
        /// The keys of file blobs that exist (tests add them).
        pub blobs: RefCell<BTreeSet<String>>,
        /// Blobs written through [`Backend::write_blob`] (the indexes).
        pub data: RefCell<BTreeMap<String, Vec<u8>>>,
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
            // Decimal text, as the host stores counters.
            let old: u64 = values
                .get(key)
                .map_or(0, |v| std::str::from_utf8(v).unwrap().parse().unwrap());
            values.insert(key.to_owned(), (old + 1).to_string().into_bytes());
            Ok(old + 1)
        }

        fn delete_blob(&self, key: &str) -> bool {
            let file = self.blobs.borrow_mut().remove(key);
            self.data.borrow_mut().remove(key).is_some() || file
        }

        fn read_blob(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
            Ok(self.data.borrow().get(key).cloned())
        }

        fn write_blob(&self, key: &str, bytes: &[u8]) -> Result<(), String> {
            self.data
                .borrow_mut()
                .insert(key.to_owned(), bytes.to_vec());
            Ok(())
        }
    }
}
