//! What a document provider is asked and what it answers, independent of
//! the ABI: the command ABI serializes [`ProviderCall`] into its JSON input
//! and parses [`Provided`] from its output; components get the same as WIT
//! records.

use crate::names::DocEndpoint;
use serde::{Deserialize, Serialize};

/// One call of a provider: the endpoint and its parameters, as Docket read
/// them from Workfront's query string. Serialized for the command ABI as
/// `{"endpoint": "files", "parentId": "/", "max": 100, "offset": 0, …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "endpoint",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ProviderCall {
    /// `metadata?id=`.
    Metadata {
        /// The file or folder ("/" is the root).
        id: String,
    },
    /// `files?parentId=&max=&offset=`.
    Files {
        /// The folder.
        parent_id: String,
        /// At most this many items.
        max: u32,
        /// Items skipped first.
        offset: u32,
    },
    /// `search?query=&parentId=&max=&offset=`.
    Search {
        /// The search term.
        query: String,
        /// The folder to search in, when Workfront sends one.
        #[serde(skip_serializing_if = "Option::is_none")]
        parent_id: Option<String>,
        /// At most this many items.
        max: u32,
        /// Items skipped first.
        offset: u32,
    },
    /// `download?id=`.
    Download {
        /// The file.
        id: String,
    },
    /// `thumbnail?id=&size=`.
    Thumbnail {
        /// The file.
        id: String,
        /// The width asked for, in pixels.
        size: u32,
    },
    /// `uploadInit?parentId=&filename=&documentId=&documentVersionId=`.
    UploadInit {
        /// The folder the file goes in.
        parent_id: String,
        /// The file's name.
        filename: String,
        /// Workfront's document id, when sent.
        #[serde(skip_serializing_if = "Option::is_none")]
        document_id: Option<String>,
        /// Workfront's document version id, when sent.
        #[serde(skip_serializing_if = "Option::is_none")]
        document_version_id: Option<String>,
    },
    /// `upload?id=` with the bytes as the request body.
    Upload {
        /// The file `uploadInit` created.
        id: String,
        /// The body's `Content-Length`, when sent.
        #[serde(skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
    },
    /// `createFolder?parentId=&name=`.
    CreateFolder {
        /// The folder the new one goes in.
        parent_id: String,
        /// The new folder's name.
        name: String,
    },
    /// `delete?id=`.
    Delete {
        /// The file or folder.
        id: String,
    },
    /// `rename?id=&name=`.
    Rename {
        /// The file or folder.
        id: String,
        /// Its new name.
        name: String,
    },
}

impl ProviderCall {
    /// The endpoint called.
    pub fn endpoint(&self) -> DocEndpoint {
        match self {
            ProviderCall::Metadata { .. } => DocEndpoint::Metadata,
            ProviderCall::Files { .. } => DocEndpoint::Files,
            ProviderCall::Search { .. } => DocEndpoint::Search,
            ProviderCall::Download { .. } => DocEndpoint::Download,
            ProviderCall::Thumbnail { .. } => DocEndpoint::Thumbnail,
            ProviderCall::UploadInit { .. } => DocEndpoint::UploadInit,
            ProviderCall::Upload { .. } => DocEndpoint::Upload,
            ProviderCall::CreateFolder { .. } => DocEndpoint::CreateFolder,
            ProviderCall::Delete { .. } => DocEndpoint::Delete,
            ProviderCall::Rename { .. } => DocEndpoint::Rename,
        }
    }
}

/// A file or folder, as a provider describes it (the WIT `document`
/// record; the command ABI's JSON uses the same camelCase names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Document {
    /// The provider's id.
    pub id: String,
    /// Its name.
    pub title: String,
    /// `"file"` or `"folder"`.
    pub kind: DocumentKind,
    /// MIME type.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// Size in bytes.
    #[serde(default)]
    pub size: Option<u64>,
    /// RFC 3339 timestamp of the last change.
    #[serde(default)]
    pub date_modified: Option<String>,
    /// Where a browser views it.
    #[serde(default)]
    pub view_link: Option<String>,
    /// Where a browser downloads it.
    #[serde(default)]
    pub download_link: Option<String>,
    /// Read-only to this user.
    #[serde(default)]
    pub read_only: Option<bool>,
}

/// File or folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentKind {
    /// A file.
    File,
    /// A folder.
    Folder,
}

/// What a download is, said before its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Content {
    /// Its `Content-Type`.
    pub mime_type: String,
    /// Its length, when known.
    #[serde(default)]
    pub size: Option<u64>,
    /// The file name for `Content-Disposition`.
    #[serde(default)]
    pub filename: Option<String>,
}

/// A provider's successful answer, by endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provided {
    /// `metadata`, `uploadInit`, `createFolder`.
    Document(Document),
    /// `files`, `search`.
    Documents(Vec<Document>),
    /// `thumbnail`.
    Image {
        /// Its `Content-Type`.
        mime_type: String,
        /// The image.
        bytes: Vec<u8>,
    },
    /// `download`: the bytes went out through the body stream.
    Streamed {
        /// How many.
        bytes: u64,
    },
    /// `upload`, `delete`, `rename`.
    Done,
}
