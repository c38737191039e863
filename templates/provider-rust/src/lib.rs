//! {{name}}: a Docket document provider (component ABI, world
//! `docket:provider`, whose WIT is in `docket/wit-provider/`).
//!
//! It answers Workfront's `metadata` and `files` from a small tree kept in
//! this file; Docket answers 501 for the endpoints it does not export, and
//! lists only `metadata` and `files` in `serviceInfo`. To answer another
//! endpoint, export its interface in the world below (e.g.
//! `export docket:provider/download;`) and implement its `Guest` trait. The
//! tree logic is plain Rust: `cargo test` runs its tests natively.

/// The bindings of this provider's world (generated code).
#[allow(unsafe_code, missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "docket/wit-provider",
        inline: "
            package local:provider;

            world provider {
                include docket:provider/imports;
                export docket:provider/metadata;
                export docket:provider/files;
            }
        ",
        world: "local:provider/provider",
        generate_all,
    });
}

use bindings::docket::provider::types::{Context, Document, Failure, Kind};
use bindings::exports::docket::provider as endpoints;

/// One file or folder of the tree: its id (a path; the root is "/"), the
/// folder it is in, its name, and a file's text.
struct Entry {
    id: &'static str,
    parent: &'static str,
    title: &'static str,
    text: Option<&'static str>,
}

/// The tree: replace it with calls to your document store.
const TREE: &[Entry] = &[
    Entry {
        id: "/reports",
        parent: "/",
        title: "Reports",
        text: None,
    },
    Entry {
        id: "/reports/q1.txt",
        parent: "/reports",
        title: "q1.txt",
        text: Some("First quarter: on track.\n"),
    },
    Entry {
        id: "/reports/q2.txt",
        parent: "/reports",
        title: "q2.txt",
        text: Some("Second quarter: ahead.\n"),
    },
    Entry {
        id: "/readme.txt",
        parent: "/",
        title: "readme.txt",
        text: Some("Hello from {{name}}.\n"),
    },
];

fn document(entry: &Entry) -> Document {
    Document {
        id: entry.id.to_owned(),
        title: entry.title.to_owned(),
        kind: if entry.text.is_some() {
            Kind::File
        } else {
            Kind::Folder
        },
        mime_type: entry.text.map(|_| "text/plain".to_owned()),
        size: entry.text.map(|text| text.len() as u64),
        date_modified: None,
        view_link: None,
        download_link: None,
        read_only: Some(true),
    }
}

/// The root folder, titled by the manifest's `[config] title`.
fn root(title: &str) -> Document {
    Document {
        id: "/".to_owned(),
        title: title.to_owned(),
        kind: Kind::Folder,
        mime_type: None,
        size: None,
        date_modified: None,
        view_link: None,
        download_link: None,
        read_only: Some(true),
    }
}

/// `metadata?id=`: one file or folder.
pub fn metadata(title: &str, id: &str) -> Result<Document, Failure> {
    if id == "/" {
        return Ok(root(title));
    }
    TREE.iter()
        .find(|entry| entry.id == id)
        .map(document)
        .ok_or_else(|| Failure::NotFound(format!("no file or folder {id}")))
}

/// `files?parentId=&max=&offset=`: a folder's contents, folders first, then
/// files, each by title; `offset` skipped, at most `max`.
pub fn files(parent_id: &str, max: u32, offset: u32) -> Result<Vec<Document>, Failure> {
    if parent_id != "/" {
        match TREE.iter().find(|entry| entry.id == parent_id) {
            None => return Err(Failure::NotFound(format!("no folder {parent_id}"))),
            Some(entry) if entry.text.is_some() => {
                return Err(Failure::Failed(format!(
                    "{parent_id} is a file, not a folder"
                )));
            }
            Some(_) => {}
        }
    }
    let mut children: Vec<&Entry> = TREE.iter().filter(|e| e.parent == parent_id).collect();
    children.sort_by_key(|e| (e.text.is_some(), e.title));
    Ok(children
        .into_iter()
        .skip(offset as usize)
        .take(max as usize)
        .map(document)
        .collect())
}

/// A value of the manifest's `[config]` table.
fn config<'a>(ctx: &'a Context, key: &str) -> Option<&'a str> {
    ctx.config
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

struct Provider;

/// The component's exports. Only on wasm: a native build (for `cargo test`)
/// cannot export names with ':'.
#[cfg(target_arch = "wasm32")]
mod exports {
    use super::Provider;
    crate::bindings::export!(Provider with_types_in crate::bindings);
}

impl endpoints::metadata::Guest for Provider {
    fn metadata(ctx: Context, id: String) -> Result<Document, Failure> {
        metadata(config(&ctx, "title").unwrap_or("{{name}}"), &id)
    }
}

impl endpoints::files::Guest for Provider {
    fn files(
        _: Context,
        parent_id: String,
        max: u32,
        offset: u32,
    ) -> Result<Vec<Document>, Failure> {
        files(&parent_id, max, offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn titles(docs: &[Document]) -> Vec<&str> {
        docs.iter().map(|d| d.title.as_str()).collect()
    }

    #[test]
    fn the_root_lists_folders_first_then_pages() {
        assert_eq!(
            titles(&files("/", 100, 0).unwrap()),
            ["Reports", "readme.txt"]
        );
        assert_eq!(titles(&files("/reports", 1, 1).unwrap()), ["q2.txt"]);
        assert!(files("/reports", 10, 5).unwrap().is_empty());
    }

    #[test]
    fn unknown_ids_are_not_found() {
        assert!(matches!(metadata("t", "/nope"), Err(Failure::NotFound(_))));
        assert!(matches!(files("/nope", 10, 0), Err(Failure::NotFound(_))));
        assert_eq!(metadata("Drive", "/").unwrap().title, "Drive");
    }
}
