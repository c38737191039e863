//! What the drive stores about a file or folder, and how Workfront sees it.

use serde::{Deserialize, Serialize};

use crate::bindings::docket::provider::types::{Document, Kind};
use crate::{keys, mime, rfc3339};

/// One file or folder as stored under `doc:<id>` (JSON).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Record {
    /// The id of the folder it is in.
    pub parent: String,
    /// Its name.
    pub title: String,
    /// A folder (true) or a file.
    pub folder: bool,
    /// A file's size in bytes (0 until its bytes are uploaded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Last change, in seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<u64>,
    /// Workfront's document id, from `uploadInit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workfront_document_id: Option<String>,
    /// Workfront's document version id, from `uploadInit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workfront_version_id: Option<String>,
}

/// A record with its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The drive's id ("/" for the root folder).
    pub id: String,
    /// What is stored about it.
    pub record: Record,
}

impl Record {
    /// A new empty folder or file in `parent`, changed at `now`.
    pub fn new(parent: &str, title: &str, folder: bool, now: u64) -> Self {
        Record {
            parent: parent.to_owned(),
            title: title.to_owned(),
            folder,
            size: (!folder).then_some(0),
            modified: Some(now),
            workfront_document_id: None,
            workfront_version_id: None,
        }
    }

    /// The root folder, named `title`.
    pub fn root(title: &str) -> Self {
        Record {
            parent: String::new(),
            title: title.to_owned(),
            folder: true,
            size: None,
            modified: None,
            workfront_document_id: None,
            workfront_version_id: None,
        }
    }

    /// Its JSON for the key-value store.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A stored record, or why it cannot be read.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }

    /// "file" or "folder", for messages.
    pub fn kind_name(&self) -> &'static str {
        if self.folder { "folder" } else { "file" }
    }
}

impl Entry {
    /// The root folder, named `title`.
    pub fn root(title: &str) -> Self {
        Entry {
            id: keys::ROOT.to_owned(),
            record: Record::root(title),
        }
    }

    /// The document Workfront is sent. The links are left to Docket.
    pub fn document(&self) -> Document {
        let r = &self.record;
        Document {
            id: self.id.clone(),
            title: r.title.clone(),
            kind: if r.folder { Kind::Folder } else { Kind::File },
            mime_type: (!r.folder).then(|| mime::from_name(&r.title).to_owned()),
            size: if r.folder {
                None
            } else {
                Some(r.size.unwrap_or(0))
            },
            date_modified: r.modified.map(rfc3339::format),
            view_link: None,
            download_link: None,
            read_only: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_as_json() {
        let mut r = Record::new("/", "a.png", false, 1_796_637_600);
        r.workfront_document_id = Some("6543".into());
        let bytes = r.to_bytes();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap(),
            r#"{"parent":"/","title":"a.png","folder":false,"size":0,"modified":1796637600,"workfront-document-id":"6543"}"#
        );
        assert_eq!(Record::from_bytes(&bytes), Ok(r));
        assert!(Record::from_bytes(b"nope").is_err());
    }

    #[test]
    fn documents_of_files_and_folders() {
        let file = Entry {
            id: "7".into(),
            record: Record::new("/", "Plan.PDF", false, 1_796_637_600),
        };
        let doc = file.document();
        assert_eq!(doc.id, "7");
        assert!(matches!(doc.kind, Kind::File));
        assert_eq!(doc.mime_type.as_deref(), Some("application/pdf"));
        assert_eq!(doc.size, Some(0));
        assert_eq!(doc.date_modified.as_deref(), Some("2026-12-07T10:00:00Z"));
        assert_eq!(doc.view_link, None);

        let root = Entry::root("Docket Drive").document();
        assert_eq!(root.id, "/");
        assert_eq!(root.title, "Docket Drive");
        assert!(matches!(root.kind, Kind::Folder));
        assert_eq!(
            (root.mime_type, root.size, root.date_modified),
            (None, None, None)
        );
    }
}
