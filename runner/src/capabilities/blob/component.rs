//! `docket:provider/blob` for components, served from the invocation's blob
//! grant. Without the grant every call fails with an error naming the
//! manifest key to set. `write-from` and `read-into` copy between a blob and
//! a WASI stream on the host, so a document passes from an upload into a blob
//! and from a blob into a download without the guest holding its bytes.

use super::{BlobBucket, BlobError, MAX_READ_BYTES, granted};
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, StreamError};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../guest-sdk/wit-provider",
        inline: "
            package docket:host-blob;
            world blob {
                import docket:provider/blob;
            }
        ",
        world: "docket:host-blob/blob",
        imports: { default: async | trappable },
        with: { "wasi:io": wasmtime_wasi::p2::bindings::io },
    });
}

use bindings::docket::provider::blob::{self as wit, Host};

/// Bytes copied per step between a blob and a stream.
const CHUNK_BYTES: usize = 64 * 1024;

/// What `docket:provider/blob` works on: the grant, if any, and the store's
/// resource table (where the streams it copies to and from live).
pub struct BlobView<'a> {
    /// The tenant's blobs; `None` when the manifest grants none.
    pub bucket: Option<&'a BlobBucket>,
    /// Where stream resources live.
    pub table: &'a mut ResourceTable,
}

struct HasBlob;

impl HasData for HasBlob {
    type Data<'a> = BlobView<'a>;
}

/// Adds `docket:provider/blob` to a component linker.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> BlobView<'_>,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<_, HasBlob>(linker, view)
}

type Answer<T> = wasmtime::Result<Result<T, wit::Error>>;

fn to_wit(err: BlobError) -> wit::Error {
    match err {
        BlobError::NotFound => wit::Error::NotFound,
        BlobError::QuotaExceeded(why) => wit::Error::QuotaExceeded(why),
        BlobError::InvalidKey => wit::Error::InvalidKey,
        other => wit::Error::Failed(other.to_string()),
    }
}

/// Answers with the bucket, or returns the refusal to the guest.
macro_rules! bucket {
    ($view:expr) => {
        match granted($view.bucket) {
            Ok(bucket) => bucket.clone(),
            Err(denied) => return Ok(Err(to_wit(denied))),
        }
    };
}

impl Host for BlobView<'_> {
    async fn size(&mut self, key: String) -> Answer<Option<u64>> {
        let bucket = bucket!(self);
        Ok(bucket.size(&key).await.map_err(to_wit))
    }

    async fn read(&mut self, key: String, offset: u64, len: u64) -> Answer<Vec<u8>> {
        let bucket = bucket!(self);
        Ok(bucket
            .read(&key, offset, len.min(MAX_READ_BYTES))
            .await
            .map_err(to_wit))
    }

    async fn write(&mut self, key: String, bytes: Vec<u8>) -> Answer<()> {
        let bucket = bucket!(self);
        Ok(bucket.write(&key, &bytes).await.map_err(to_wit))
    }

    async fn write_from(&mut self, key: String, body: Resource<DynInputStream>) -> Answer<u64> {
        let bucket = bucket!(self);
        let mut writer = match bucket.writer(&key).await {
            Ok(writer) => writer,
            Err(err) => return Ok(Err(to_wit(err))),
        };
        let stream = self.table.get_mut(&body)?;
        loop {
            match stream.blocking_read(CHUNK_BYTES).await {
                Ok(bytes) => {
                    if let Err(err) = writer.append(&bytes).await {
                        return Ok(Err(to_wit(err)));
                    }
                }
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(err)) => {
                    return Ok(Err(wit::Error::Failed(format!("{err:#}"))));
                }
                Err(StreamError::Trap(err)) => return Err(err),
            }
        }
        Ok(writer.commit().await.map_err(to_wit))
    }

    async fn read_into(&mut self, key: String, body: Resource<DynOutputStream>) -> Answer<u64> {
        use tokio::io::AsyncReadExt;
        let bucket = bucket!(self);
        let mut file = match bucket.open(&key).await {
            Ok(file) => file,
            Err(err) => return Ok(Err(to_wit(err))),
        };
        let stream = self.table.get_mut(&body)?;
        let mut sent = 0u64;
        let mut buffer = bytes::BytesMut::with_capacity(CHUNK_BYTES);
        loop {
            buffer.reserve(CHUNK_BYTES);
            match file.read_buf(&mut buffer).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(err) => return Ok(Err(wit::Error::Failed(err.to_string()))),
            }
            let chunk = buffer.split().freeze();
            sent += chunk.len() as u64;
            match stream.blocking_write_and_flush(chunk).await {
                Ok(()) => {}
                Err(StreamError::Closed) => {
                    return Ok(Err(wit::Error::Failed("the stream was closed".into())));
                }
                Err(StreamError::LastOperationFailed(err)) => {
                    return Ok(Err(wit::Error::Failed(format!("{err:#}"))));
                }
                Err(StreamError::Trap(err)) => return Err(err),
            }
        }
        Ok(Ok(sent))
    }

    async fn delete(&mut self, key: String) -> Answer<bool> {
        let bucket = bucket!(self);
        Ok(bucket.delete(&key).await.map_err(to_wit))
    }
}
