//! `/console`: the web console's page and assets, embedded in the binary
//! at build time (`runner/build.rs` reads `console/dist`). The console is a
//! client of `/admin/v1` like any script (docs/architecture.md#the-console);
//! this module only serves its files, under a Content-Security-Policy that
//! allows nothing but this origin.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));

/// Only this origin's scripts, styles and API; no framing.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; \
    base-uri 'none'; form-action 'self'";

/// Each asset's strong ETag (SHA-256 of its bytes), computed once.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    CONSOLE_ASSETS
        .iter()
        .map(|(_, bytes)| format!("\"{}\"", hex::encode(&Sha256::digest(bytes)[..16])))
        .collect()
});

/// `GET /console`: the page.
pub async fn page(headers: HeaderMap) -> Response {
    match find("index.html") {
        Some(found) => serve(found, &headers),
        None => not_built(),
    }
}

/// `GET /console/assets/{file}`: a script, a style sheet, an image.
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match find(&file).filter(|_| file != "index.html") {
        Some(found) => serve(found, &headers),
        None => (StatusCode::NOT_FOUND, "no such console asset").into_response(),
    }
}

/// `GET /console/`: the page's one address.
pub async fn trailing_slash() -> Response {
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, "/console")],
    )
        .into_response()
}

fn find(name: &str) -> Option<usize> {
    CONSOLE_ASSETS.iter().position(|(file, _)| *file == name)
}

fn serve(index: usize, headers: &HeaderMap) -> Response {
    let (name, bytes) = CONSOLE_ASSETS[index];
    let etag = &ETAGS[index];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|sent| sent.as_bytes() == etag.as_bytes());
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type(name))], bytes).into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Revalidate every time: a new binary may serve new assets under the same names.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    response
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// What a binary built without `console/dist` answers: how to build it.
fn not_built() -> Response {
    let page = "<!doctype html><html lang=\"en\"><title>Docket console not built</title>\
        <h1>The console was not built into this binary</h1>\
        <p>Run <code>make console</code> (or <code>make run</code>), which builds \
        <code>console/dist</code> from npm packages, then rebuild Docket.</p></html>";
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_known_type_and_its_own_etag() {
        for (name, _) in CONSOLE_ASSETS {
            assert_ne!(content_type(name), "application/octet-stream", "{name}");
        }
        let mut etags = ETAGS.clone();
        etags.sort();
        etags.dedup();
        assert_eq!(etags.len(), CONSOLE_ASSETS.len());
    }
}
