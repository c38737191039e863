//! A folder's listing index: every child's id and record in one blob
//! (`index/<folder>`), so `files` reads one blob instead of one record per
//! child.
//!
//! The index is a copy: the `in:` markers and `doc:` records stay the truth,
//! and an index that may have missed a change is rebuilt from them. Each
//! change of a folder's contents first writes its record and marker, then
//! takes the next value of the folder's revision counter (`rev:<folder>`),
//! then rewrites the index tagged with that value. The index is *current*
//! when it is tagged with the counter's value and was written from an index
//! that was current one revision before (`clean`); two changes racing in one
//! folder leave it not current, and the next reader rebuilds it.

use serde::{Deserialize, Serialize};

use crate::record::{Entry, Record};

/// What `index/<folder>` holds, as JSON.
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// The folder's revision this index was written at.
    pub rev: u64,
    /// Whether it was written from the index of revision `rev - 1` (or
    /// rebuilt from the markers), so it misses no change up to `rev`.
    pub clean: bool,
    /// The children, as `[id, record]` pairs, in no particular order.
    pub entries: Vec<(String, Record)>,
}

impl Index {
    /// An index of `entries` at revision `rev`.
    pub fn new(rev: u64, clean: bool, entries: &[Entry]) -> Self {
        Index {
            rev,
            clean,
            entries: entries
                .iter()
                .map(|e| (e.id.clone(), e.record.clone()))
                .collect(),
        }
    }

    /// Whether it holds every change up to the folder's revision `rev`.
    pub fn current(&self, rev: u64) -> bool {
        self.clean && self.rev == rev
    }

    /// Its entries.
    pub fn into_entries(self) -> Vec<Entry> {
        self.entries
            .into_iter()
            .map(|(id, record)| Entry { id, record })
            .collect()
    }

    /// Puts `entry` in (replacing one with its id) or, with `None`, takes
    /// `id` out.
    pub fn apply(&mut self, id: &str, entry: Option<&Record>) {
        self.entries.retain(|(i, _)| i != id);
        if let Some(record) = entry {
            self.entries.push((id.to_owned(), record.clone()));
        }
    }

    /// Its JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A stored index, or why it cannot be read.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_applies_changes() {
        let a = Record::new("/", "a.txt", false, 1);
        let b = Record::new("/", "B", true, 2);
        let mut index = Index::new(
            3,
            true,
            &[Entry {
                id: "1".into(),
                record: a.clone(),
            }],
        );
        index.apply("2", Some(&b));
        let mut renamed = a.clone();
        renamed.title = "c.txt".into();
        index.apply("1", Some(&renamed));
        assert_eq!(index.entries, [("2".into(), b), ("1".into(), renamed)]);
        index.apply("2", None);
        index.apply("9", None);
        assert_eq!(index.entries.len(), 1);
        let back = Index::from_bytes(&index.to_bytes()).unwrap();
        assert_eq!(back, index);
        assert!(back.current(3));
        assert!(!back.current(4));
        assert!(!Index::default().current(1));
        assert!(Index::from_bytes(b"[").is_err());
    }
}
