//! Reading and writing the cookies Docket sets: OAuth2 mode's sign-in
//! binding (`http/oauth.rs`) and the console's session (`http/console_session.rs`).

use crate::app::App;
use axum::http::{HeaderMap, header};

/// The cookie a console session travels in.
pub const SESSION: &str = "docket_session";

/// The value of cookie `name`, if the request sent one.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// A `Set-Cookie` value no script can read, sent back only to `path`, and
/// `Secure` when the server is reached over https (`--public-url`).
pub fn set(
    app: &App,
    name: &str,
    value: &str,
    path: &str,
    same_site: &str,
    max_age: u64,
) -> String {
    let secure = match app.public_url.starts_with("https://") {
        true => "; Secure",
        false => "",
    };
    format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}"
    )
}
