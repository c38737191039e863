//! Docket Drive: an example Docket document provider.
//!
//! A component of world `docket:provider/provider` (guest-sdk/wit-provider),
//! built for `wasm32-wasip2`. It answers every Workfront Document Webhooks
//! endpoint from a drive of its own: the folder tree in the key-value store
//! ([`keys`] describes the layout), each file's bytes in the tenant's blob
//! store. Config (`[config]` in the manifest): `title`, the root folder's
//! name (default "Docket Drive").
//!
//! The pure parts (names, listing order and pages, search matching, MIME
//! types, timestamps, thumbnail geometry and rendering, the stored record)
//! call no imports and are tested natively, as are [`store`] and [`drive`]
//! over a map; [`host`] and [`content`] use the imports.

mod content;
mod drive;
mod failure;
mod fit;
mod host;
mod index;
mod keys;
mod listing;
mod mime;
mod names;
mod record;
mod rfc3339;
mod store;
mod thumbnail;
mod tree;

/// The bindings of world `provider` (generated code: the only `unsafe` here).
#[allow(unsafe_code, missing_docs, clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../guest-sdk/wit-provider",
        world: "provider",
        generate_all,
    });
}

use bindings::docket::provider::types::{Content, Context, Document, Failure, Image};
use bindings::exports::docket::provider as endpoints;
use bindings::wasi::io::streams::{InputStream, OutputStream};

/// The provider; each endpoint opens the store and hands over to [`drive`]
/// or [`content`].
struct DocketDrive;

/// The component's exports, generated around [`DocketDrive`]. Only on wasm:
/// a native `cdylib` (for `cargo test`) cannot export names with ':'.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod exports {
    use super::DocketDrive;
    crate::bindings::export!(DocketDrive with_types_in crate::bindings);
}

impl endpoints::metadata::Guest for DocketDrive {
    fn metadata(_: Context, id: String) -> Result<Document, Failure> {
        drive::metadata(&host::open()?, &id)
    }
}

impl endpoints::files::Guest for DocketDrive {
    fn files(
        _: Context,
        parent_id: String,
        max: u32,
        offset: u32,
    ) -> Result<Vec<Document>, Failure> {
        drive::files(&host::open()?, &parent_id, max, offset)
    }
}

impl endpoints::search::Guest for DocketDrive {
    fn search(
        _: Context,
        query: String,
        parent_id: Option<String>,
        max: u32,
        offset: u32,
    ) -> Result<Vec<Document>, Failure> {
        drive::search(&host::open()?, &query, parent_id.as_deref(), max, offset)
    }
}

impl endpoints::download::Guest for DocketDrive {
    fn open(_: Context, id: String) -> Result<Content, Failure> {
        content::open(&host::open()?, &id)
    }

    fn write(body: OutputStream) -> Result<(), String> {
        content::write(body)
    }
}

impl endpoints::thumbnail::Guest for DocketDrive {
    fn thumbnail(_: Context, id: String, size: u32) -> Result<Image, Failure> {
        content::thumbnail(&host::open()?, &id, size)
    }
}

impl endpoints::upload_init::Guest for DocketDrive {
    fn upload_init(
        _: Context,
        parent_id: String,
        filename: String,
        document_id: Option<String>,
        document_version_id: Option<String>,
    ) -> Result<Document, Failure> {
        drive::upload_init(
            &host::open()?,
            &parent_id,
            &filename,
            document_id,
            document_version_id,
        )
    }
}

impl endpoints::upload::Guest for DocketDrive {
    fn upload(
        _: Context,
        id: String,
        body: InputStream,
        _size: Option<u64>,
    ) -> Result<(), Failure> {
        content::upload(&host::open()?, &id, body)
    }
}

impl endpoints::create_folder::Guest for DocketDrive {
    fn create_folder(_: Context, parent_id: String, name: String) -> Result<Document, Failure> {
        drive::create_folder(&host::open()?, &parent_id, &name)
    }
}

impl endpoints::delete::Guest for DocketDrive {
    fn delete(_: Context, id: String) -> Result<(), Failure> {
        drive::delete(&host::open()?, &id)
    }
}

impl endpoints::rename::Guest for DocketDrive {
    fn rename(_: Context, id: String, name: String) -> Result<(), Failure> {
        drive::rename(&host::open()?, &id, &name)
    }
}
