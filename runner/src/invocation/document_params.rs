//! Workfront's document-endpoint parameters read into a [`ProviderCall`]:
//! what the server's document routes (`http/documents.rs`) and
//! `docket invoke --endpoint` both read, so a local run asks the provider
//! exactly what the server would. What is read is taken out of the
//! parameters; the rest is passed on to the provider.

use super::Refusal;
use crate::engine::provider::call::ProviderCall;
use crate::names::DocEndpoint;
use http::{HeaderMap, header};
use std::collections::BTreeMap;

/// `max` when Workfront sends none (the reference implementation's default).
pub const DEFAULT_MAX: u32 = 100;
/// The largest `max` passed on: a provider is never asked for more at once.
pub const MAX_MAX: u32 = 1000;
/// `size` of a thumbnail when Workfront sends none.
pub const DEFAULT_THUMBNAIL_SIZE: u32 = 200;

/// The call's parameters as the endpoint takes them; what Docket reads is
/// taken out of `params`, the rest is passed on to the provider.
pub fn read_call(
    endpoint: DocEndpoint,
    params: &mut BTreeMap<String, String>,
    headers: &HeaderMap,
) -> Result<ProviderCall, Refusal> {
    let mut take = |key: &str| params.remove(key).filter(|v| !v.is_empty());
    Ok(match endpoint {
        DocEndpoint::Metadata => ProviderCall::Metadata {
            id: required(take("id"), "id")?,
        },
        DocEndpoint::Files => ProviderCall::Files {
            parent_id: take("parentId").unwrap_or_else(|| "/".to_owned()),
            max: number(take("max"), "max", DEFAULT_MAX)?.clamp(1, MAX_MAX),
            offset: number(take("offset"), "offset", 0)?,
        },
        DocEndpoint::Search => ProviderCall::Search {
            query: take("query").unwrap_or_default(),
            parent_id: take("parentId"),
            max: number(take("max"), "max", DEFAULT_MAX)?.clamp(1, MAX_MAX),
            offset: number(take("offset"), "offset", 0)?,
        },
        DocEndpoint::Download => ProviderCall::Download {
            id: required(take("id"), "id")?,
        },
        DocEndpoint::Thumbnail => ProviderCall::Thumbnail {
            id: required(take("id"), "id")?,
            size: number(take("size"), "size", DEFAULT_THUMBNAIL_SIZE)?.clamp(1, 4096),
        },
        DocEndpoint::UploadInit => ProviderCall::UploadInit {
            parent_id: take("parentId").unwrap_or_else(|| "/".to_owned()),
            filename: required(take("filename"), "filename")?,
            document_id: take("documentId"),
            document_version_id: take("documentVersionId"),
        },
        DocEndpoint::Upload => ProviderCall::Upload {
            id: required(take("id"), "id")?,
            size: headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok()),
        },
        DocEndpoint::CreateFolder => ProviderCall::CreateFolder {
            parent_id: take("parentId").unwrap_or_else(|| "/".to_owned()),
            name: required(take("name"), "name")?,
        },
        // The page's table names documentId and folderId, its example `id`.
        DocEndpoint::Delete => {
            let id = take("id");
            let id = id
                .or_else(|| take("documentId"))
                .or_else(|| take("folderId"));
            ProviderCall::Delete {
                id: required(id, "id")?,
            }
        }
        DocEndpoint::Rename => ProviderCall::Rename {
            id: required(take("id"), "id")?,
            name: required(take("name"), "name")?,
        },
    })
}

fn required(value: Option<String>, key: &'static str) -> Result<String, Refusal> {
    value.ok_or(Refusal::MissingParameter(key))
}

fn number(value: Option<String>, key: &'static str, default: u32) -> Result<u32, Refusal> {
    match value {
        None => Ok(default),
        // A negative offset means the start, as in the reference.
        Some(text) if text.trim().starts_with('-') => text
            .trim()
            .parse::<i64>()
            .map(|_| 0)
            .map_err(|_| Refusal::NotANumber(key)),
        Some(text) => text
            .trim()
            .parse::<u64>()
            .map(|n| n.min(u32::MAX as u64) as u32)
            .map_err(|_| Refusal::NotANumber(key)),
    }
}
