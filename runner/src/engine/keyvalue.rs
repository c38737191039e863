//! `wasi:keyvalue` for components, served from the invocation's key-value grant.
//!
//! There is one bucket per invocation: `open("default")` (or `""`) gives the
//! namespace the manifest's `[capabilities] key-value` names. Without the grant
//! every call fails with an error naming that key.

use super::component::ComponentState;
use crate::capabilities::KV_NOT_GRANTED;
use crate::capabilities::kv::{KvBucket, KvError, MAX_KEYS_LISTED};
use wasmtime::component::{HasSelf, Linker, Resource};

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

type Answer<T> = wasmtime::Result<Result<T, store::Error>>;

/// Adds `wasi:keyvalue/{store,atomics,batch}` to the component linker.
pub(crate) fn add_to_linker(linker: &mut Linker<ComponentState>) -> wasmtime::Result<()> {
    store::add_to_linker::<_, HasSelf<ComponentState>>(linker, |s| s)?;
    atomics::add_to_linker::<_, HasSelf<ComponentState>>(linker, |s| s)?;
    batch::add_to_linker::<_, HasSelf<ComponentState>>(linker, |s| s)?;
    Ok(())
}

fn other(err: KvError) -> store::Error {
    store::Error::Other(err.0)
}

impl ComponentState {
    fn bucket(&self) -> Result<KvBucket, store::Error> {
        self.caps
            .kv
            .clone()
            .ok_or_else(|| store::Error::Other(KV_NOT_GRANTED.into()))
    }
}

impl store::Host for ComponentState {
    async fn open(&mut self, identifier: String) -> Answer<Resource<Bucket>> {
        if let Err(denied) = self.bucket() {
            return Ok(Err(denied));
        }
        if !matches!(identifier.as_str(), "" | "default") {
            return Ok(Err(store::Error::NoSuchStore));
        }
        Ok(Ok(self.table.push(Bucket)?))
    }
}

impl store::HostBucket for ComponentState {
    async fn get(&mut self, _: Resource<Bucket>, key: String) -> Answer<Option<Vec<u8>>> {
        let bucket = match self.bucket() {
            Ok(bucket) => bucket,
            Err(e) => return Ok(Err(e)),
        };
        Ok(bucket.get(&key).await.map_err(other))
    }

    async fn set(&mut self, _: Resource<Bucket>, key: String, value: Vec<u8>) -> Answer<()> {
        let bucket = match self.bucket() {
            Ok(bucket) => bucket,
            Err(e) => return Ok(Err(e)),
        };
        Ok(bucket.set(&key, &value).await.map_err(other))
    }

    async fn delete(&mut self, _: Resource<Bucket>, key: String) -> Answer<()> {
        let bucket = match self.bucket() {
            Ok(bucket) => bucket,
            Err(e) => return Ok(Err(e)),
        };
        Ok(bucket.delete(&key).await.map(|_| ()).map_err(other))
    }

    async fn exists(&mut self, _: Resource<Bucket>, key: String) -> Answer<bool> {
        let bucket = match self.bucket() {
            Ok(bucket) => bucket,
            Err(e) => return Ok(Err(e)),
        };
        Ok(bucket.get(&key).await.map(|v| v.is_some()).map_err(other))
    }

    /// Pages of [`MAX_KEYS_LISTED`] keys; the cursor is where the next page starts.
    async fn list_keys(
        &mut self,
        _: Resource<Bucket>,
        cursor: Option<u64>,
    ) -> Answer<store::KeyResponse> {
        let bucket = match self.bucket() {
            Ok(bucket) => bucket,
            Err(e) => return Ok(Err(e)),
        };
        let offset = usize::try_from(cursor.unwrap_or(0)).unwrap_or(usize::MAX);
        Ok(bucket
            .keys("", offset)
            .await
            .map(|keys| {
                let full = keys.len() == MAX_KEYS_LISTED;
                let cursor = full.then_some((offset + keys.len()) as u64);
                store::KeyResponse { keys, cursor }
            })
            .map_err(other))
    }

    async fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for ComponentState {
    async fn increment(&mut self, _: Resource<Bucket>, key: String, delta: u64) -> Answer<u64> {
        let bucket = match self.bucket() {
            Ok(bucket) => bucket,
            Err(e) => return Ok(Err(e)),
        };
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

impl batch::Host for ComponentState {
    async fn get_many(
        &mut self,
        _: Resource<Bucket>,
        keys: Vec<String>,
    ) -> Answer<Vec<Option<(String, Vec<u8>)>>> {
        let bucket = match self.bucket() {
            Ok(bucket) => bucket,
            Err(e) => return Ok(Err(e)),
        };
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
        let bucket = match self.bucket() {
            Ok(bucket) => bucket,
            Err(e) => return Ok(Err(e)),
        };
        for (key, value) in key_values {
            if let Err(e) = bucket.set(&key, &value).await {
                return Ok(Err(other(e)));
            }
        }
        Ok(Ok(()))
    }

    async fn delete_many(&mut self, _: Resource<Bucket>, keys: Vec<String>) -> Answer<()> {
        let bucket = match self.bucket() {
            Ok(bucket) => bucket,
            Err(e) => return Ok(Err(e)),
        };
        for key in keys {
            if let Err(e) = bucket.delete(&key).await {
                return Ok(Err(other(e)));
            }
        }
        Ok(Ok(()))
    }
}
