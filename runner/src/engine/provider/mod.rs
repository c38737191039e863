//! Document providers on the component ABI: a component exporting some of
//! world `docket:provider/provider`'s interfaces, one per Workfront document
//! endpoint (docs/architecture.md#document-providers). Which it exports is
//! read once, when it is pre-instantiated; an endpoint it leaves out is
//! answered 501 before anything runs.

pub mod body;
pub mod call;
pub mod command;

use super::component::{ComponentState, new_store};
use super::request::{ActionRequest, FailureKind, InvokeError, Outcome};
use super::{Engine, GuestIo, classify};
use crate::capabilities::Capabilities;
use crate::limits::Limits;
use crate::names::DocEndpoint;
use body::Body;
use call::{Content, Document, DocumentKind, Provided, ProviderCall};
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;
use wasmtime::component::InstancePre;
use wasmtime_wasi::p2::DynOutputStream;

mod bindings {
    wasmtime::component::bindgen!({
        path: "../guest-sdk/wit-provider",
        inline: "
            package docket:host-provider;
            world provider {
                export docket:provider/metadata;
                export docket:provider/files;
                export docket:provider/search;
                export docket:provider/download;
                export docket:provider/thumbnail;
                export docket:provider/upload-init;
                export docket:provider/upload;
                export docket:provider/create-folder;
                export docket:provider/delete;
                export docket:provider/rename;
            }
        ",
        world: "docket:host-provider/provider",
        exports: { default: async },
        with: { "wasi:io": wasmtime_wasi::p2::bindings::io },
    });
}

use bindings::docket::provider::types as wit;
use bindings::exports::docket::provider as ep;

/// The export indices of the interfaces a provider component implements.
#[derive(Default)]
struct Exports {
    metadata: Option<ep::metadata::GuestIndices>,
    files: Option<ep::files::GuestIndices>,
    search: Option<ep::search::GuestIndices>,
    download: Option<ep::download::GuestIndices>,
    thumbnail: Option<ep::thumbnail::GuestIndices>,
    upload_init: Option<ep::upload_init::GuestIndices>,
    upload: Option<ep::upload::GuestIndices>,
    create_folder: Option<ep::create_folder::GuestIndices>,
    delete: Option<ep::delete::GuestIndices>,
    rename: Option<ep::rename::GuestIndices>,
}

/// A pre-instantiated provider component and the endpoints it answers.
pub(crate) struct ProviderPre {
    pre: InstancePre<ComponentState>,
    exports: Exports,
}

impl ProviderPre {
    /// The provider in `pre`, or `None` when it exports no provider interface.
    pub(crate) fn new(pre: &InstancePre<ComponentState>) -> Option<Self> {
        let exports = Exports {
            metadata: ep::metadata::GuestIndices::new(pre).ok(),
            files: ep::files::GuestIndices::new(pre).ok(),
            search: ep::search::GuestIndices::new(pre).ok(),
            download: ep::download::GuestIndices::new(pre).ok(),
            thumbnail: ep::thumbnail::GuestIndices::new(pre).ok(),
            upload_init: ep::upload_init::GuestIndices::new(pre).ok(),
            upload: ep::upload::GuestIndices::new(pre).ok(),
            create_folder: ep::create_folder::GuestIndices::new(pre).ok(),
            delete: ep::delete::GuestIndices::new(pre).ok(),
            rename: ep::rename::GuestIndices::new(pre).ok(),
        };
        let provider = Self {
            pre: pre.clone(),
            exports,
        };
        (!provider.endpoints().is_empty()).then_some(provider)
    }

    /// The pre-instantiated component.
    pub(crate) fn instance_pre(&self) -> &InstancePre<ComponentState> {
        &self.pre
    }

    /// The endpoints it exports, in [`DocEndpoint::ALL`]'s order.
    pub(crate) fn endpoints(&self) -> Vec<DocEndpoint> {
        let e = &self.exports;
        let exported = [
            e.metadata.is_some(),
            e.files.is_some(),
            e.search.is_some(),
            e.download.is_some(),
            e.thumbnail.is_some(),
            e.upload_init.is_some(),
            e.upload.is_some(),
            e.create_folder.is_some(),
            e.delete.is_some(),
            e.rename.is_some(),
        ];
        DocEndpoint::ALL
            .into_iter()
            .zip(exported)
            .filter_map(|(endpoint, exported)| exported.then_some(endpoint))
            .collect()
    }
}

/// A provider's answer before it is checked against the limits.
type Answer = Result<Provided, wit::Failure>;

/// Runs one call of a provider component.
pub(crate) async fn run(
    engine: &Engine,
    pre: &ProviderPre,
    limits: &Limits,
    request: &ActionRequest,
    caps: Arc<Capabilities>,
    io: &GuestIo,
    deadline: Instant,
) -> Result<Outcome, InvokeError> {
    let Some(call) = &request.provider else {
        return Err(InvokeError::Host(
            "a provider was called without an endpoint".into(),
        ));
    };
    let wasmtime = pre.pre.engine();
    let mut store = new_store(engine, wasmtime, limits, request, &caps, io, deadline);
    let instance = pre
        .pre
        .instantiate_async(&mut store)
        .instrument(tracing::debug_span!("instantiate"))
        .await
        .map_err(classify)?;
    io.mark_instantiated();
    let ctx = context(request);
    let missing = || {
        InvokeError::Host(format!(
            "the provider does not export {}",
            call.endpoint().interface()
        ))
    };
    let e = &pre.exports;
    let s = &mut store;
    let answer: Answer = async {
        Ok(match call {
            ProviderCall::Metadata { id } => {
                let guest = e.metadata.as_ref().ok_or_else(missing)?;
                let guest = guest.load(&mut *s, &instance).map_err(classify)?;
                let found = guest.call_metadata(&mut *s, &ctx, id).await;
                found.map_err(classify)?.map(document)
            }
            ProviderCall::Files {
                parent_id,
                max,
                offset,
            } => {
                let guest = e.files.as_ref().ok_or_else(missing)?;
                let guest = guest.load(&mut *s, &instance).map_err(classify)?;
                let listed = guest
                    .call_files(&mut *s, &ctx, parent_id, *max, *offset)
                    .await;
                listed.map_err(classify)?.map(documents)
            }
            ProviderCall::Search {
                query,
                parent_id,
                max,
                offset,
            } => {
                let guest = e.search.as_ref().ok_or_else(missing)?;
                let guest = guest.load(&mut *s, &instance).map_err(classify)?;
                let found = guest
                    .call_search(&mut *s, &ctx, query, parent_id.as_deref(), *max, *offset)
                    .await;
                found.map_err(classify)?.map(documents)
            }
            ProviderCall::Thumbnail { id, size } => {
                let guest = e.thumbnail.as_ref().ok_or_else(missing)?;
                let guest = guest.load(&mut *s, &instance).map_err(classify)?;
                let image = guest.call_thumbnail(&mut *s, &ctx, id, *size).await;
                image.map_err(classify)?.map(|image| Provided::Image {
                    mime_type: image.mime_type,
                    bytes: image.bytes,
                })
            }
            ProviderCall::UploadInit {
                parent_id,
                filename,
                document_id,
                document_version_id,
            } => {
                let guest = e.upload_init.as_ref().ok_or_else(missing)?;
                let guest = guest.load(&mut *s, &instance).map_err(classify)?;
                let created = guest
                    .call_upload_init(
                        &mut *s,
                        &ctx,
                        parent_id,
                        filename,
                        document_id.as_deref(),
                        document_version_id.as_deref(),
                    )
                    .await;
                created.map_err(classify)?.map(document)
            }
            ProviderCall::CreateFolder { parent_id, name } => {
                let guest = e.create_folder.as_ref().ok_or_else(missing)?;
                let guest = guest.load(&mut *s, &instance).map_err(classify)?;
                let created = guest
                    .call_create_folder(&mut *s, &ctx, parent_id, name)
                    .await;
                created.map_err(classify)?.map(document)
            }
            ProviderCall::Delete { id } => {
                let guest = e.delete.as_ref().ok_or_else(missing)?;
                let guest = guest.load(&mut *s, &instance).map_err(classify)?;
                let deleted = guest.call_delete(&mut *s, &ctx, id).await;
                deleted.map_err(classify)?.map(|()| Provided::Done)
            }
            ProviderCall::Rename { id, name } => {
                let guest = e.rename.as_ref().ok_or_else(missing)?;
                let guest = guest.load(&mut *s, &instance).map_err(classify)?;
                let renamed = guest.call_rename(&mut *s, &ctx, id, name).await;
                renamed.map_err(classify)?.map(|()| Provided::Done)
            }
            ProviderCall::Upload { id, size } => {
                let guest = e.upload.as_ref().ok_or_else(missing)?;
                let guest = guest.load(&mut *s, &instance).map_err(classify)?;
                let Some(Body::Upload(source)) = request.body.take() else {
                    return Err(InvokeError::Host("an upload without its body".into()));
                };
                let body: wasmtime_wasi::p2::DynInputStream = Box::new(source);
                let body = s.data_mut().table.push(body).map_err(host)?;
                let uploaded = guest.call_upload(&mut *s, &ctx, id, body, *size).await;
                uploaded.map_err(classify)?.map(|()| Provided::Done)
            }
            ProviderCall::Download { id } => {
                let guest = e.download.as_ref().ok_or_else(missing)?;
                let guest = guest.load(&mut *s, &instance).map_err(classify)?;
                let Some(Body::Download(mut sink)) = request.body.take() else {
                    return Err(InvokeError::Host("a download without its sink".into()));
                };
                let opened = guest.call_open(&mut *s, &ctx, id).await.map_err(classify)?;
                let content = match opened {
                    Ok(content) => content,
                    Err(failure) => return Ok(Err(failure)),
                };
                let declared = content.size;
                sink.start(Content {
                    mime_type: content.mime_type,
                    size: content.size,
                    filename: content.filename,
                });
                let stream: DynOutputStream = Box::new(sink.stream());
                let stream = s.data_mut().table.push(stream).map_err(host)?;
                let written = guest.call_write(&mut *s, stream).await.map_err(classify)?;
                let sent = sink.sent();
                match written {
                    Err(why) => Err(wit::Failure::Failed(why)),
                    Ok(()) if declared.is_some_and(|size| size != sent) => {
                        Err(wit::Failure::Failed(format!(
                            "the provider declared {} bytes and wrote {sent}",
                            declared.unwrap_or_default()
                        )))
                    }
                    Ok(()) => {
                        sink.finish();
                        Ok(Provided::Streamed { bytes: sent })
                    }
                }
            }
        })
    }
    .instrument(tracing::debug_span!("run"))
    .await?;
    let outcome = match answer {
        Ok(provided) => Outcome::Provided(provided),
        Err(wit::Failure::Forbidden(message)) => failure(FailureKind::Forbidden, message),
        Err(wit::Failure::NotFound(message)) => failure(FailureKind::NotFound, message),
        Err(wit::Failure::Failed(message)) => failure(FailureKind::Failed, message),
    };
    if let Outcome::Failure { message, .. } = &outcome
        && message.len() > limits.max_output_bytes()
    {
        return Err(InvokeError::Limit(super::LimitHit::Output));
    }
    Ok(outcome)
}

fn failure(kind: FailureKind, message: String) -> Outcome {
    Outcome::Failure { kind, message }
}

fn host(err: impl std::fmt::Display) -> InvokeError {
    InvokeError::Host(err.to_string())
}

fn context(request: &ActionRequest) -> wit::Context {
    let pairs = |map: &std::collections::BTreeMap<String, String>| {
        map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    let mut config: Vec<(String, String)> = pairs(&request.config);
    config.extend(pairs(&request.secrets));
    wit::Context {
        tenant: request.tenant.clone(),
        username: request.username.clone(),
        username_verified: request.username_verified,
        params: pairs(&request.params),
        config,
        request_id: request.request_id.clone(),
    }
}

fn document(doc: wit::Document) -> Provided {
    Provided::Document(from_wit(doc))
}

fn documents(docs: Vec<wit::Document>) -> Provided {
    Provided::Documents(docs.into_iter().map(from_wit).collect())
}

fn from_wit(doc: wit::Document) -> Document {
    Document {
        id: doc.id,
        title: doc.title,
        kind: match doc.kind {
            wit::Kind::File => DocumentKind::File,
            wit::Kind::Folder => DocumentKind::Folder,
        },
        mime_type: doc.mime_type,
        size: doc.size,
        date_modified: doc.date_modified,
        view_link: doc.view_link,
        download_link: doc.download_link,
        read_only: doc.read_only,
    }
}
