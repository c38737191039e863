//! `wasi:keyvalue` for components, served from the invocation's key-value grant.
//!
//! There is one bucket per invocation: `open("default")` (or `""`) gives the
//! namespace the manifest's `[capabilities] key-value` names. Without the grant
//! every call fails with an error naming that key.

use super::{KvBucket, KvError, granted};
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../guest-sdk/wit/deps/keyvalue",
        inline: "
            package docket:host;
            world keyvalue {
                include wasi:keyvalue/imports@0.2.0-draft;
            }
        ",
        world: "docket:host/keyvalue",
        imports: { default: async | trappable },
        with: { "wasi:keyvalue/store.bucket": super::Bucket },
    });
}

use bindings::wasi::keyvalue::{atomics, batch, store};

/// The host side of a `bucket` resource: the invocation's one namespace.
pub struct Bucket;

/// What `wasi:keyvalue` works on: the grant, if any, and the store's resource table.
pub struct KvView<'a> {
    /// The invocation's namespace; `None` when the manifest grants none.
    pub bucket: Option<&'a KvBucket>,
    /// Where `bucket` resources live.
    pub table: &'a mut ResourceTable,
}

struct HasKv;

impl HasData for HasKv {
    type Data<'a> = KvView<'a>;
}

/// Adds `wasi:keyvalue/{store,atomics,batch}` to a component linker; `view`
/// gives the [`KvView`] of a store's state.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> KvView<'_>,
) -> wasmtime::Result<()> {
    store::add_to_linker::<_, HasKv>(linker, view)?;
    atomics::add_to_linker::<_, HasKv>(linker, view)?;
    batch::add_to_linker::<_, HasKv>(linker, view)?;
    Ok(())
}

type Answer<T> = wasmtime::Result<Result<T, store::Error>>;

fn other(err: KvError) -> store::Error {
    store::Error::Other(err.0)
}

impl KvView<'_> {
    fn bucket(&self) -> Result<&KvBucket, store::Error> {
        granted(self.bucket).map_err(other)
    }
}

/// Answers with the bucket, or returns the refusal to the guest.
macro_rules! bucket {
    ($view:expr) => {
        match $view.bucket() {
            Ok(bucket) => bucket,
            Err(denied) => return Ok(Err(denied)),
        }
    };
}

impl store::Host for KvView<'_> {
    async fn open(&mut self, identifier: String) -> Answer<Resource<Bucket>> {
        bucket!(self);
        if !matches!(identifier.as_str(), "" | "default") {
            return Ok(Err(store::Error::NoSuchStore));
        }
        Ok(Ok(self.table.push(Bucket)?))
    }
}

impl store::HostBucket for KvView<'_> {
    async fn get(&mut self, _: Resource<Bucket>, key: String) -> Answer<Option<Vec<u8>>> {
        Ok(bucket!(self).get(&key).await.map_err(other))
    }

    async fn set(&mut self, _: Resource<Bucket>, key: String, value: Vec<u8>) -> Answer<()> {
        Ok(bucket!(self).set(&key, &value).await.map_err(other))
    }

    async fn delete(&mut self, _: Resource<Bucket>, key: String) -> Answer<()> {
        Ok(bucket!(self).delete(&key).await.map(drop).map_err(other))
    }

    async fn exists(&mut self, _: Resource<Bucket>, key: String) -> Answer<bool> {
        Ok(bucket!(self)
            .get(&key)
            .await
            .map(|v| v.is_some())
            .map_err(other))
    }

    /// Pages of [`super::MAX_KEYS_LISTED`] keys; the cursor is where the next page starts.
    async fn list_keys(
        &mut self,
        _: Resource<Bucket>,
        cursor: Option<u64>,
    ) -> Answer<store::KeyResponse> {
        let offset = usize::try_from(cursor.unwrap_or(0)).unwrap_or(usize::MAX);
        Ok(bucket!(self)
            .page("", offset)
            .await
            .map(|page| store::KeyResponse {
                keys: page.keys,
                cursor: page.next.map(|next| next as u64),
            })
            .map_err(other))
    }

    async fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for KvView<'_> {
    async fn increment(&mut self, _: Resource<Bucket>, key: String, delta: u64) -> Answer<u64> {
        let bucket = bucket!(self);
        let Ok(delta) = i64::try_from(delta) else {
            return Ok(Err(store::Error::Other(format!(
                "delta {delta} is too large"
            ))));
        };
        Ok(match bucket.increment(&key, delta).await {
            Ok(value) => u64::try_from(value)
                .map_err(|_| store::Error::Other(format!("the value of {key:?} is negative"))),
            Err(e) => Err(other(e)),
        })
    }
}

impl batch::Host for KvView<'_> {
    async fn get_many(
        &mut self,
        _: Resource<Bucket>,
        keys: Vec<String>,
    ) -> Answer<Vec<Option<(String, Vec<u8>)>>> {
        let bucket = bucket!(self);
        let mut values = Vec::with_capacity(keys.len());
        for key in keys {
            match bucket.get(&key).await {
                Ok(value) => values.push(value.map(|v| (key, v))),
                Err(e) => return Ok(Err(other(e))),
            }
        }
        Ok(Ok(values))
    }

    async fn set_many(
        &mut self,
        _: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Answer<()> {
        let bucket = bucket!(self);
        for (key, value) in key_values {
            if let Err(e) = bucket.set(&key, &value).await {
                return Ok(Err(other(e)));
            }
        }
        Ok(Ok(()))
    }

    async fn delete_many(&mut self, _: Resource<Bucket>, keys: Vec<String>) -> Answer<()> {
        let bucket = bucket!(self);
        for key in keys {
            if let Err(e) = bucket.delete(&key).await {
                return Ok(Err(other(e)));
            }
        }
        Ok(Ok(()))
    }
}
