//! The tree endpoints: metadata, files, search, upload-init, create-folder,
//! delete and rename.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::bindings::docket::provider::types::{Document, Failure};
use crate::failure::{failed, forbidden, no_such};
use crate::listing::{self, Query};
use crate::record::{Entry, Record};
use crate::store::{Backend, Store};
use crate::{keys, names, tree};

/// Seconds since the Unix epoch, from the wall clock.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The file or folder `id`, or not-found.
pub fn existing(store: &Store<impl Backend>, id: &str) -> Result<Entry, Failure> {
    store.entry(id)?.ok_or_else(|| no_such(id))
}

/// The folder `id`: not-found when there is none, failed for a file.
fn folder(store: &Store<impl Backend>, id: &str) -> Result<Entry, Failure> {
    let entry = existing(store, id)?;
    if !entry.record.folder {
        return Err(failed(format!(
            "\"{}\" is a file, not a folder",
            entry.record.title
        )));
    }
    Ok(entry)
}

/// `metadata`: one file or folder.
pub fn metadata(store: &Store<impl Backend>, id: &str) -> Result<Document, Failure> {
    Ok(existing(store, id)?.document())
}

/// `files`: a folder's contents in listing order, paged.
pub fn files(
    store: &Store<impl Backend>,
    parent: &str,
    max: u32,
    offset: u32,
) -> Result<Vec<Document>, Failure> {
    folder(store, parent)?;
    let mut entries = store.children(parent)?;
    listing::sort(&mut entries);
    Ok(documents(listing::page(entries, max, offset)))
}

/// `search`: files and folders whose titles contain `query` (ignoring case),
/// in the whole drive or below `parent`, in listing order, paged.
pub fn search(
    store: &Store<impl Backend>,
    query: &str,
    parent: Option<&str>,
    max: u32,
    offset: u32,
) -> Result<Vec<Document>, Failure> {
    let top = parent.unwrap_or(keys::ROOT);
    folder(store, top)?;
    let Some(query) = Query::new(query) else {
        return Ok(Vec::new());
    };
    // Folder by folder through their indexes: one counter read and one
    // blob read per folder, not one record per entry.
    let mut entries = Vec::new();
    let mut seen = BTreeSet::from([top.to_owned()]);
    let mut folders = vec![top.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in store.children(&folder)? {
            if entry.record.folder && seen.insert(entry.id.clone()) {
                folders.push(entry.id.clone());
            }
            if query.matches(&entry.record.title) {
                entries.push(entry);
            }
        }
    }
    listing::sort(&mut entries);
    Ok(documents(listing::page(entries, max, offset)))
}

/// `upload-init`: a new empty file in folder `parent`, with Workfront's ids.
pub fn upload_init(
    store: &Store<impl Backend>,
    parent: &str,
    filename: &str,
    document_id: Option<String>,
    version_id: Option<String>,
) -> Result<Document, Failure> {
    let mut record = Record::new(parent, filename, false, now());
    record.workfront_document_id = document_id;
    record.workfront_version_id = version_id;
    create(store, record)
}

/// `create-folder`: a new empty folder in `parent`.
pub fn create_folder(
    store: &Store<impl Backend>,
    parent: &str,
    name: &str,
) -> Result<Document, Failure> {
    create(store, Record::new(parent, name, true, now()))
}

/// Adds `record` to its folder under a new id, unless its title is refused or
/// taken. The record is stored before it is linked into the folder, and the
/// folder's index is updated last, so an interrupted call leaves nothing
/// visible, or an entry only the markers show (listed once the folder's index
/// is next rebuilt from them).
fn create(store: &Store<impl Backend>, record: Record) -> Result<Document, Failure> {
    let parent = folder(store, &record.parent)?;
    names::validate(&record.title).map_err(failed)?;
    refuse_taken(store, &parent, &record.title, None)?;
    let entry = Entry {
        id: store.new_id()?,
        record,
    };
    store.put(&entry)?;
    if entry.record.folder {
        store.new_folder(&entry.id)?;
    }
    store.link(&entry.record.parent, &entry.id)?;
    store.changed(&entry.record.parent, &entry.id, Some(&entry.record))?;
    Ok(entry.document())
}

/// `rename`: a new title for a file or folder (not the root).
pub fn rename(store: &Store<impl Backend>, id: &str, name: &str) -> Result<(), Failure> {
    if id == keys::ROOT {
        return Err(forbidden("the root folder cannot be renamed"));
    }
    let mut entry = existing(store, id)?;
    names::validate(name).map_err(failed)?;
    let parent = folder(store, &entry.record.parent)?;
    refuse_taken(store, &parent, name, Some(id))?;
    entry.record.title = name.to_owned();
    entry.record.modified = Some(now());
    store.put(&entry)?;
    store.changed(&entry.record.parent, id, Some(&entry.record))
}

/// `delete`: a file, or a folder with everything in it (their bytes too).
/// The entry leaves its folder first, so an interrupted call leaves only
/// unreachable records behind.
pub fn delete(store: &Store<impl Backend>, id: &str) -> Result<(), Failure> {
    if id == keys::ROOT {
        return Err(forbidden("the root folder cannot be deleted"));
    }
    let entry = existing(store, id)?;
    let below = if entry.record.folder {
        tree::below(id, &store.links()?)
    } else {
        Vec::new()
    };
    store.unlink(&entry.record.parent, id)?;
    store.changed(&entry.record.parent, id, None)?;
    forget(store, id, entry.record.folder)?;
    if entry.record.folder {
        store.forget_folder(id)?;
    }
    for (parent, child) in below {
        store.unlink(&parent, &child)?;
        // Whether it is a folder is not in the keys; deleting a blob that
        // is not there is harmless, and only a folder has an index.
        forget(store, &child, false)?;
        store.forget_index(&child)?;
    }
    Ok(())
}

/// Deletes the record of `id` and, for a file, its bytes.
fn forget(store: &Store<impl Backend>, id: &str, folder: bool) -> Result<(), Failure> {
    if !folder {
        store.delete_bytes(id);
    }
    store.remove(id)
}

/// Fails when something in `folder` other than `except` is called `name`.
fn refuse_taken(
    store: &Store<impl Backend>,
    folder: &Entry,
    name: &str,
    except: Option<&str>,
) -> Result<(), Failure> {
    let siblings = store.children(&folder.id)?;
    match siblings
        .iter()
        .find(|s| Some(s.id.as_str()) != except && names::same(&s.record.title, name))
    {
        Some(taken) => Err(failed(format!(
            "a {} named \"{}\" already exists in \"{}\"",
            taken.record.kind_name(),
            taken.record.title,
            folder.record.title
        ))),
        None => Ok(()),
    }
}

/// The documents of `entries`.
fn documents(entries: Vec<Entry>) -> Vec<Document> {
    entries.iter().map(Entry::document).collect()
}

/// The file `id`: not-found when there is none, failed for a folder.
pub fn file(store: &Store<impl Backend>, id: &str) -> Result<Entry, Failure> {
    let entry = existing(store, id)?;
    if entry.record.folder {
        return Err(failed(format!("\"{}\" is a folder", entry.record.title)));
    }
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::Memory;

    fn drive() -> Store<Memory> {
        Store::new(Memory::default(), "Test Drive".to_owned())
    }

    fn titles(docs: &[Document]) -> Vec<&str> {
        docs.iter().map(|d| d.title.as_str()).collect()
    }

    fn message(failure: Failure) -> (&'static str, String) {
        match failure {
            Failure::Forbidden(m) => ("forbidden", m),
            Failure::NotFound(m) => ("not-found", m),
            Failure::Failed(m) => ("failed", m),
        }
    }

    /// A new file, as if its bytes were uploaded.
    fn new_file(store: &Store<Memory>, parent: &str, name: &str) -> String {
        let id = upload_init(store, parent, name, None, None).unwrap().id;
        store.backend().blobs.borrow_mut().insert(keys::blob(&id));
        id
    }

    #[test]
    fn an_empty_drive_has_its_root() {
        let store = drive();
        let root = metadata(&store, "/").unwrap();
        assert_eq!((root.id.as_str(), root.title.as_str()), ("/", "Test Drive"));
        assert!(files(&store, "/", 100, 0).unwrap().is_empty());
        // Listing a new drive stores nothing.
        assert!(store.backend().data.borrow().is_empty());
        assert_eq!(
            message(metadata(&store, "9").unwrap_err()),
            ("not-found", "no file or folder with id \"9\"".to_owned())
        );
        assert_eq!(message(metadata(&store, "a:b").unwrap_err()).0, "not-found");
        assert_eq!(
            message(files(&store, "9", 100, 0).unwrap_err()).0,
            "not-found"
        );
    }

    #[test]
    fn files_lists_folders_first_by_title_and_pages() {
        let store = drive();
        new_file(&store, "/", "b.txt");
        create_folder(&store, "/", "Zeta").unwrap();
        let a = new_file(&store, "/", "A.png");
        create_folder(&store, "/", "alpha").unwrap();
        let all = files(&store, "/", 100, 0).unwrap();
        assert_eq!(titles(&all), ["alpha", "Zeta", "A.png", "b.txt"]);
        assert_eq!(all[2].mime_type.as_deref(), Some("image/png"));
        assert_eq!(
            titles(&files(&store, "/", 2, 1).unwrap()),
            ["Zeta", "A.png"]
        );
        assert!(files(&store, "/", 2, 4).unwrap().is_empty());
        assert_eq!(
            message(files(&store, &a, 100, 0).unwrap_err()),
            ("failed", "\"A.png\" is a file, not a folder".to_owned())
        );
    }

    #[test]
    fn upload_init_stores_workfront_ids_and_refuses_taken_or_bad_names() {
        let store = drive();
        let folder = create_folder(&store, "/", "Briefs").unwrap().id;
        let doc = upload_init(
            &store,
            &folder,
            "plan.pdf",
            Some("d1".into()),
            Some("v1".into()),
        )
        .unwrap();
        assert_eq!(doc.size, Some(0));
        assert!(doc.date_modified.unwrap().ends_with('Z'));
        let record = store.entry(&doc.id).unwrap().unwrap().record;
        assert_eq!(record.workfront_document_id.as_deref(), Some("d1"));
        assert_eq!(record.workfront_version_id.as_deref(), Some("v1"));
        assert_eq!(
            message(upload_init(&store, &folder, "PLAN.pdf", None, None).unwrap_err()),
            (
                "failed",
                "a file named \"plan.pdf\" already exists in \"Briefs\"".to_owned()
            )
        );
        // The same name elsewhere is fine.
        upload_init(&store, "/", "plan.pdf", None, None).unwrap();
        for bad in ["", "a/b", &"x".repeat(256)] {
            assert_eq!(
                message(upload_init(&store, "/", bad, None, None).unwrap_err()).0,
                "failed"
            );
        }
        assert_eq!(
            message(upload_init(&store, "77", "x", None, None).unwrap_err()).0,
            "not-found"
        );
        assert_eq!(
            message(create_folder(&store, "/", "briefs").unwrap_err()),
            (
                "failed",
                "a folder named \"Briefs\" already exists in \"Test Drive\"".to_owned()
            )
        );
    }

    #[test]
    fn search_matches_titles_in_the_drive_or_below_a_folder() {
        let store = drive();
        let reports = create_folder(&store, "/", "Reports").unwrap().id;
        let old = create_folder(&store, &reports, "Old reports").unwrap().id;
        new_file(&store, &reports, "Q1 report.pdf");
        new_file(&store, &old, "2019 REPORT.docx");
        new_file(&store, "/", "notes.txt");
        let all = search(&store, "report", None, 100, 0).unwrap();
        assert_eq!(
            titles(&all),
            [
                "Old reports",
                "Reports",
                "2019 REPORT.docx",
                "Q1 report.pdf"
            ]
        );
        let below = search(&store, "REPORT", Some(&reports), 100, 0).unwrap();
        assert_eq!(
            titles(&below),
            ["Old reports", "2019 REPORT.docx", "Q1 report.pdf"]
        );
        assert_eq!(
            titles(&search(&store, "report", None, 1, 2).unwrap()),
            ["2019 REPORT.docx"]
        );
        assert!(search(&store, "  ", None, 100, 0).unwrap().is_empty());
        assert!(search(&store, "zzz", None, 100, 0).unwrap().is_empty());
        assert_eq!(
            message(search(&store, "x", Some("99"), 100, 0).unwrap_err()).0,
            "not-found"
        );
    }

    #[test]
    fn rename_refuses_taken_names_but_not_a_change_of_case() {
        let store = drive();
        let a = new_file(&store, "/", "a.txt");
        new_file(&store, "/", "b.txt");
        assert_eq!(
            message(rename(&store, &a, "B.TXT").unwrap_err()),
            (
                "failed",
                "a file named \"b.txt\" already exists in \"Test Drive\"".to_owned()
            )
        );
        rename(&store, &a, "A.txt").unwrap();
        assert_eq!(metadata(&store, &a).unwrap().title, "A.txt");
        rename(&store, &a, "c.csv").unwrap();
        assert_eq!(
            metadata(&store, &a).unwrap().mime_type.as_deref(),
            Some("text/csv")
        );
        assert_eq!(message(rename(&store, &a, "x/y").unwrap_err()).0, "failed");
        assert_eq!(
            message(rename(&store, "/", "Root").unwrap_err()).0,
            "forbidden"
        );
        assert_eq!(
            message(rename(&store, "42", "x").unwrap_err()).0,
            "not-found"
        );
    }

    #[test]
    fn delete_removes_a_folder_with_its_contents_and_bytes() {
        let store = drive();
        let keep = new_file(&store, "/", "keep.txt");
        let top = create_folder(&store, "/", "Top").unwrap().id;
        let inner = create_folder(&store, &top, "Inner").unwrap().id;
        let f1 = new_file(&store, &top, "one.txt");
        let f2 = new_file(&store, &inner, "two.txt");
        delete(&store, &top).unwrap();
        for gone in [&top, &inner, &f1, &f2] {
            assert_eq!(message(metadata(&store, gone).unwrap_err()).0, "not-found");
        }
        assert_eq!(titles(&files(&store, "/", 100, 0).unwrap()), ["keep.txt"]);
        let blobs: Vec<String> = store.backend().blobs.borrow().iter().cloned().collect();
        assert_eq!(blobs, [keys::blob(&keep)]);
        let keys: Vec<String> = store.backend().values.borrow().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                keys::doc(&keep),
                keys::child("/", &keep),
                keys::COUNTER.to_owned(),
                keys::rev("/"),
            ]
        );
        let indexes: Vec<String> = store.backend().data.borrow().keys().cloned().collect();
        assert_eq!(indexes, [keys::index("/")]);

        delete(&store, &keep).unwrap();
        assert!(store.backend().blobs.borrow().is_empty());
        assert_eq!(message(delete(&store, &keep).unwrap_err()).0, "not-found");
        assert_eq!(message(delete(&store, "/").unwrap_err()).0, "forbidden");
    }

    /// The stored index of `folder`.
    fn stored_index(store: &Store<Memory>, folder: &str) -> crate::index::Index {
        let data = store.backend().data.borrow();
        crate::index::Index::from_bytes(&data[&keys::index(folder)]).unwrap()
    }

    #[test]
    fn listings_come_from_the_index_not_the_records() {
        let store = drive();
        let folder = create_folder(&store, "/", "Many").unwrap().id;
        let a = new_file(&store, &folder, "a.txt");
        new_file(&store, &folder, "b.txt");
        rename(&store, &a, "c.txt").unwrap();
        let index = stored_index(&store, &folder);
        assert!(index.current(3), "{index:?}");
        // The records are the truth, but a current index is all a listing reads.
        store.backend().values.borrow_mut().remove(&keys::doc(&a));
        assert_eq!(
            titles(&files(&store, &folder, 100, 0).unwrap()),
            ["b.txt", "c.txt"]
        );
    }

    #[test]
    fn an_index_that_missed_a_change_is_rebuilt_from_the_markers() {
        let store = drive();
        new_file(&store, "/", "a.txt");
        let before = store.backend().data.borrow()[&keys::index("/")].clone();
        new_file(&store, "/", "b.txt");
        // A racing writer overwrites the index with one made before b.txt,
        // tagged with its own, later revision: not clean.
        let mut stale = crate::index::Index::from_bytes(&before).unwrap();
        stale.rev = 3;
        stale.clean = false;
        store.backend().increment(&keys::rev("/")).unwrap();
        store
            .backend()
            .write_blob(&keys::index("/"), &stale.to_bytes())
            .unwrap();
        assert_eq!(
            titles(&files(&store, "/", 100, 0).unwrap()),
            ["a.txt", "b.txt"]
        );
        assert!(stored_index(&store, "/").current(3));
        // A newer change made from a current index stays current.
        new_file(&store, "/", "c.txt");
        assert!(stored_index(&store, "/").current(4));
        // An index left behind by an older writer (older revision) is not trusted.
        let mut old = stored_index(&store, "/");
        old.rev = 2;
        old.entries.clear();
        store
            .backend()
            .write_blob(&keys::index("/"), &old.to_bytes())
            .unwrap();
        assert_eq!(files(&store, "/", 100, 0).unwrap().len(), 3);
    }

    #[test]
    fn a_drive_without_indexes_is_indexed_on_first_use() {
        let store = drive();
        let folder = create_folder(&store, "/", "F").unwrap().id;
        new_file(&store, &folder, "x.txt");
        new_file(&store, "/", "y.txt");
        // As a drive written before indexes: markers and records only.
        store.backend().data.borrow_mut().clear();
        store
            .backend()
            .values
            .borrow_mut()
            .retain(|k, _| !k.starts_with("rev:"));
        assert_eq!(titles(&files(&store, "/", 100, 0).unwrap()), ["F", "y.txt"]);
        assert!(stored_index(&store, "/").current(0));
        // A change to a folder without an index rebuilds it too.
        new_file(&store, &folder, "z.txt");
        assert_eq!(
            titles(&files(&store, &folder, 100, 0).unwrap()),
            ["x.txt", "z.txt"]
        );
        assert_eq!(
            titles(&search(&store, "t", None, 100, 0).unwrap()),
            ["x.txt", "y.txt", "z.txt"]
        );
    }

    #[test]
    fn a_large_folder_is_repaired_from_the_markers_without_reading_every_record() {
        let store = drive();
        let folder = create_folder(&store, "/", "Large").unwrap().id;
        let n = crate::store::FULL_REBUILD_MAX + 2;
        // Its children written directly (creating them one by one rewrites
        // the index each time: slow in a debug build).
        let mut entries: Vec<Entry> = (0..n)
            .map(|i| Entry {
                id: store.new_id().unwrap(),
                record: Record::new(&folder, &format!("f{i:04}"), false, 0),
            })
            .collect();
        for entry in &entries {
            store.put(entry).unwrap();
            store.link(&folder, &entry.id).unwrap();
        }
        // Two racing writers: the index lost the last create, and is not clean.
        let lost = entries.pop().unwrap().id;
        let stale = crate::index::Index::new(0, false, &entries);
        store
            .backend()
            .write_blob(&keys::index(&folder), &stale.to_bytes())
            .unwrap();
        // The records of the others are not read: a damaged one goes unnoticed.
        let other = stale.entries[0].0.clone();
        store.backend().set(&keys::doc(&other), b"damaged").unwrap();
        let all = files(&store, &folder, 0, 0).unwrap();
        assert_eq!(all.len(), n);
        assert!(all.iter().any(|d| d.id == lost));
        assert!(stored_index(&store, &folder).clean);
    }
}
