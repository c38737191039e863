//! A file's bytes in the blob store: download, upload and thumbnails.

use std::sync::Mutex;

use crate::bindings::docket::provider::blob::{self, Error};
use crate::bindings::docket::provider::types::{Content, Failure, Image};
use crate::bindings::wasi::io::streams::{InputStream, OutputStream};
use crate::drive::{self, now};
use crate::failure::{failed, not_found};
use crate::store::{Backend, Store};
use crate::{keys, mime, thumbnail};

/// The largest file the drive makes a thumbnail of.
const MAX_THUMBNAIL_SOURCE: u64 = 32 << 20;
/// The most bytes one `blob.read` returns.
const READ_CHUNK: u64 = 4 << 20;

/// The blob key `download.open` found, for `download.write` on the same instance.
static OPENED: Mutex<Option<String>> = Mutex::new(None);

/// `download.open`: what file `id` is; remembers it for [`write`].
pub fn open(store: &Store<impl Backend>, id: &str) -> Result<Content, Failure> {
    let entry = drive::file(store, id)?;
    let key = keys::blob(id);
    // A file whose bytes were never uploaded is empty.
    let size = blob::size(&key)
        .map_err(|e| failed(describe(e)))?
        .unwrap_or(0);
    *OPENED.lock().unwrap_or_else(|e| e.into_inner()) = Some(key);
    Ok(Content {
        mime_type: mime::from_name(&entry.record.title).to_owned(),
        size: Some(size),
        filename: Some(entry.record.title),
    })
}

/// `download.write`: the opened file's bytes into `body`, copied by the host.
pub fn write(body: OutputStream) -> Result<(), String> {
    let key = OPENED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .ok_or("download.write was called without a successful download.open")?;
    let written = match blob::read_into(&key, &body) {
        Ok(_) | Err(Error::NotFound) => Ok(()),
        Err(e) => Err(describe(e)),
    };
    drop(body);
    written
}

/// `upload`: replaces file `id`'s bytes with `body`, then records the new
/// size and time.
pub fn upload(store: &Store<impl Backend>, id: &str, body: InputStream) -> Result<(), Failure> {
    let mut entry = drive::file(store, id)?;
    let stored = blob::write_from(&keys::blob(id), &body).map_err(|e| failed(describe(e)));
    drop(body);
    entry.record.size = Some(stored?);
    entry.record.modified = Some(now());
    store.put(&entry)?;
    store.changed(&entry.record.parent, id, Some(&entry.record))
}

/// `thumbnail`: a PNG of a PNG or JPEG file, fit to a `size`×`size` box.
pub fn thumbnail(store: &Store<impl Backend>, id: &str, size: u32) -> Result<Image, Failure> {
    let entry = drive::file(store, id)?;
    let title = &entry.record.title;
    let Some(format) = thumbnail::format_for(mime::from_name(title)) else {
        return Err(not_found(format!(
            "no thumbnail for \"{title}\": only PNG and JPEG files have one"
        )));
    };
    let bytes = read_all(&keys::blob(id), title)?;
    if bytes.is_empty() {
        return Err(not_found(format!(
            "no thumbnail for \"{title}\": it is empty"
        )));
    }
    let png = thumbnail::render(&bytes, format, size)
        .map_err(|e| not_found(format!("no thumbnail for \"{title}\": {e}")))?;
    Ok(Image {
        mime_type: "image/png".to_owned(),
        bytes: png,
    })
}

/// The whole blob at `key` (empty when there is none), refusing large ones.
fn read_all(key: &str, title: &str) -> Result<Vec<u8>, Failure> {
    let size = blob::size(key)
        .map_err(|e| failed(describe(e)))?
        .unwrap_or(0);
    if size > MAX_THUMBNAIL_SOURCE {
        return Err(failed(format!(
            "\"{title}\" is too large for a thumbnail ({size} bytes, at most {MAX_THUMBNAIL_SOURCE})"
        )));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    while (bytes.len() as u64) < size {
        let offset = bytes.len() as u64;
        let chunk = match blob::read(key, offset, READ_CHUNK.min(size - offset)) {
            Ok(chunk) => chunk,
            Err(Error::NotFound) => break,
            Err(e) => return Err(failed(describe(e))),
        };
        if chunk.is_empty() {
            break;
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// A blob error as the text users see; a used-up quota keeps the host's words.
fn describe(error: Error) -> String {
    match error {
        Error::QuotaExceeded(message) => message,
        Error::NotFound => "the file's bytes are missing from the blob store".to_owned(),
        Error::InvalidKey => "the blob store refused the file's key".to_owned(),
        Error::Failed(message) => format!("the blob store failed: {message}"),
    }
}
