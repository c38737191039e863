//! Document providers on the command ABI: the endpoint and its parameters
//! arrive flattened into the JSON request (`"endpoint": "files"`, …), and
//! the success answer carries the endpoint's value beside `"status"`:
//! `"document"` (metadata, uploadInit, createFolder), `"documents"` (files,
//! search) or `"image"` (thumbnail, as `mimeType` and `base64`). Failures
//! are an action's. `download` and `upload` stream bodies, which only the
//! component ABI can do; a command module may not list them.

use super::call::{Document, Provided, ProviderCall};
use crate::engine::request::InvokeError;
use crate::names::DocEndpoint;
use base64::Engine as _;
use serde::Deserialize;

/// The endpoints a command module cannot answer.
pub const COMPONENT_ONLY: [DocEndpoint; 2] = [DocEndpoint::Download, DocEndpoint::Upload];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Image {
    mime_type: String,
    base64: String,
}

/// The provider's answer in a successful command response `text` (the same
/// JSON value the action contract reads: the whole of stdout, or its last line).
pub fn provided(call: &ProviderCall, text: &str) -> Result<Provided, InvokeError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .or_else(|_| {
            let last = text.lines().rev().find(|l| !l.trim().is_empty());
            serde_json::from_str(last.unwrap_or(""))
        })
        .map_err(|e| InvokeError::BadResponse(format!("stdout is not a JSON response: {e}")))?;
    let field = |key: &str| {
        value.get(key).cloned().ok_or_else(|| {
            InvokeError::BadResponse(format!(
                "a `{}` answer needs `{key}` beside \"status\": \"success\"",
                call.endpoint()
            ))
        })
    };
    let bad = |key: &str, e: serde_json::Error| {
        InvokeError::BadResponse(format!("`{key}` is not what the contract says: {e}"))
    };
    Ok(match call.endpoint() {
        DocEndpoint::Metadata | DocEndpoint::UploadInit | DocEndpoint::CreateFolder => {
            let document: Document =
                serde_json::from_value(field("document")?).map_err(|e| bad("document", e))?;
            Provided::Document(document)
        }
        DocEndpoint::Files | DocEndpoint::Search => {
            let documents: Vec<Document> =
                serde_json::from_value(field("documents")?).map_err(|e| bad("documents", e))?;
            Provided::Documents(documents)
        }
        DocEndpoint::Thumbnail => {
            let image: Image =
                serde_json::from_value(field("image")?).map_err(|e| bad("image", e))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(image.base64.trim())
                .map_err(|e| InvokeError::BadResponse(format!("`image.base64`: {e}")))?;
            Provided::Image {
                mime_type: image.mime_type,
                bytes,
            }
        }
        DocEndpoint::Delete | DocEndpoint::Rename => Provided::Done,
        DocEndpoint::Download | DocEndpoint::Upload => {
            return Err(InvokeError::Host(format!(
                "`{}` streams a body, which needs the component ABI",
                call.endpoint()
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::provider::call::DocumentKind;

    #[test]
    fn answers_by_endpoint() {
        let files = ProviderCall::Files {
            parent_id: "/".into(),
            max: 10,
            offset: 0,
        };
        let text = r#"{"status":"success","documents":[{"id":"1","title":"a.txt","kind":"file","size":3}]}"#;
        let Provided::Documents(docs) = provided(&files, text).unwrap() else {
            panic!("not a list");
        };
        assert_eq!(docs[0].kind, DocumentKind::File);
        assert_eq!(docs[0].size, Some(3));
        let thumb = ProviderCall::Thumbnail {
            id: "1".into(),
            size: 20,
        };
        let text = r#"{"status":"success","image":{"mimeType":"image/png","base64":"iVBORw=="}}"#;
        assert!(matches!(
            provided(&thumb, text).unwrap(),
            Provided::Image { bytes, .. } if bytes.starts_with(b"\x89PNG")
        ));
    }

    #[test]
    fn a_missing_or_misshapen_value_is_a_bad_response() {
        let meta = ProviderCall::Metadata { id: "1".into() };
        for text in [
            r#"{"status":"success"}"#,
            r#"{"status":"success","document":{"id":"1"}}"#,
            r#"{"status":"success","document":{"id":"1","title":"t","kind":"blob"}}"#,
        ] {
            assert!(
                matches!(provided(&meta, text), Err(InvokeError::BadResponse(_))),
                "{text}"
            );
        }
    }

    /// Bounded fuzzing of the answer mapping: answers built from random
    /// pieces of the contract's JSON never panic the parser, for every
    /// endpoint, and what parses has the endpoint's shape.
    #[test]
    fn arbitrary_answers_never_panic_the_mapping() {
        const PIECES: &[&str] = &[
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            "\"status\"",
            "\"success\"",
            "\"document\"",
            "\"documents\"",
            "\"image\"",
            "\"id\"",
            "\"title\"",
            "\"kind\"",
            "\"file\"",
            "\"folder\"",
            "\"size\"",
            "-1",
            "1e400",
            "18446744073709551616",
            "null",
            "true",
            "\"mimeType\"",
            "\"base64\"",
            "\"=\"",
            "\n",
            "\"é\"",
        ];
        let calls = [
            ProviderCall::Metadata { id: "1".into() },
            ProviderCall::Files {
                parent_id: "/".into(),
                max: 1,
                offset: 0,
            },
            ProviderCall::Thumbnail {
                id: "1".into(),
                size: 1,
            },
            ProviderCall::Delete { id: "1".into() },
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for round in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(state % 32) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push_str(PIECES[(state % PIECES.len() as u64) as usize]);
            }
            let call = &calls[round % calls.len()];
            if let Ok(provided) = provided(call, &text) {
                let shape_matches = matches!(
                    (call.endpoint(), &provided),
                    (DocEndpoint::Metadata, Provided::Document(_))
                        | (DocEndpoint::Files, Provided::Documents(_))
                        | (DocEndpoint::Thumbnail, Provided::Image { .. })
                        | (DocEndpoint::Delete, Provided::Done)
                );
                assert!(shape_matches, "{text:?} gave {provided:?}");
            }
        }
    }
}
