//! Test guest: a document provider exporting only `metadata`, `files` and
//! `download` (its own world, `wit/world.wit`), behaving by id so the
//! black-box tests can probe the provider contract (tests/provider_contract.rs):
//!
//! - `metadata("crash")` panics; `"secret"` is forbidden; `"missing"` is not
//!   found; `"loop"` never returns; `"ctx"` answers a document whose title is
//!   the JSON of the context it got; any other id is a file of that name.
//! - `files(parent, max, offset)` answers exactly `max` synthetic files, the
//!   first numbered `offset`, ids `<parent>/<n>`.
//! - `download.open("liar")` declares 10 bytes and `write` writes 5; any
//!   other id declares and writes the 5 bytes `hello`.

/// The bindings of world `probe` (generated code: the only `unsafe` here).
#[allow(unsafe_code, missing_docs, clippy::too_many_arguments)]
mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "probe",
        generate_all,
    });
}

use bindings::docket::provider::types::{Content, Context, Document, Failure, Kind};
use bindings::exports::docket::provider as endpoints;
use bindings::wasi::io::streams::OutputStream;

struct Probe;

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
mod exports {
    use super::Probe;
    crate::bindings::export!(Probe with_types_in crate::bindings);
}

fn file(id: &str, title: String) -> Document {
    Document {
        id: id.to_owned(),
        title,
        kind: Kind::File,
        mime_type: Some("text/plain".into()),
        size: Some(5),
        date_modified: None,
        view_link: None,
        download_link: None,
        read_only: None,
    }
}

/// The context as JSON, for a test to read back.
pub fn context_json(ctx: &Context) -> String {
    let pairs = |list: &[(String, String)]| {
        list.iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect::<serde_json::Map<_, _>>()
    };
    serde_json::json!({
        "tenant": ctx.tenant,
        "username": ctx.username,
        "usernameVerified": ctx.username_verified,
        "params": pairs(&ctx.params),
        "config": pairs(&ctx.config),
        "requestId": ctx.request_id,
    })
    .to_string()
}

impl endpoints::metadata::Guest for Probe {
    fn metadata(ctx: Context, id: String) -> Result<Document, Failure> {
        match id.as_str() {
            "crash" => panic!("the probe crashes on purpose"),
            "secret" => Err(Failure::Forbidden("the probe keeps this one".into())),
            "missing" => Err(Failure::NotFound("the probe has no such thing".into())),
            "loop" => loop {
                std::hint::black_box(&id);
            },
            "ctx" => Ok(file("ctx", context_json(&ctx))),
            _ => Ok(file(&id, id.clone())),
        }
    }
}

impl endpoints::files::Guest for Probe {
    fn files(
        _: Context,
        parent_id: String,
        max: u32,
        offset: u32,
    ) -> Result<Vec<Document>, Failure> {
        Ok((offset..offset.saturating_add(max))
            .map(|n| file(&format!("{parent_id}/{n}"), n.to_string()))
            .collect())
    }
}

impl endpoints::download::Guest for Probe {
    fn open(_: Context, id: String) -> Result<Content, Failure> {
        let size = if id == "liar" { 10 } else { 5 };
        Ok(Content {
            mime_type: "text/plain".into(),
            size: Some(size),
            filename: Some("probe.txt".into()),
        })
    }

    /// Always 5 bytes: the liar declared 10.
    fn write(body: OutputStream) -> Result<(), String> {
        body.blocking_write_and_flush(b"hello")
            .map_err(|e| format!("{e:?}"))?;
        Ok(())
    }
}
