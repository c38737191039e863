//! A real OpenID Connect provider for the black-box tests (npm `oidc-provider`,
//! run by `tests/oidc/idp.mjs`), and a browser-like HTTP client that signs in
//! at it: cookies kept, redirects followed one hop at a time, HTML forms
//! filled in and submitted.
//!
//! The provider accepts any login and password (its development
//! interactions), then asks for consent. The account's `sub` and `email` are
//! the login as typed, `email_verified` is true and `name` is the part before
//! any `@` with its first letter upper-cased (`Ada` for `ada@example.com`).
//! Clients authenticate with `client_secret_basic` or `client_secret_post`,
//! and must send PKCE (S256). The authorization response carries `iss` as
//! well as `code` and `state` (RFC 9207).

use super::repo_root;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long the provider may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How many redirects one navigation follows at most.
const MAX_HOPS: usize = 20;

/// A client registered at the provider.
#[derive(Clone, Debug)]
pub struct IdpClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
}

/// The provider, listening on `issuer` (`http://127.0.0.1:<port>`) until dropped.
pub struct Idp {
    pub issuer: String,
    child: Child,
    // Held open: the provider exits when its stdin reaches EOF.
    _stdin: ChildStdin,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Idp {
    /// Starts the provider with `clients` registered and the default token
    /// lifetimes.
    pub fn start(clients: &[IdpClient]) -> Idp {
        Self::start_with(clients, Value::Null)
    }

    /// Starts the provider with `clients` registered and `ttl` as its token
    /// lifetimes in seconds (`{"AccessToken": 60, "IdToken": 60, ...}`;
    /// `Value::Null` for the defaults).
    pub fn start_with(clients: &[IdpClient], ttl: Value) -> Idp {
        let clients: Vec<Value> = clients
            .iter()
            .map(|client| {
                serde_json::json!({
                    "client_id": client.client_id,
                    "client_secret": client.client_secret,
                    "redirect_uris": [client.redirect_uri],
                })
            })
            .collect();
        let mut config = serde_json::json!({ "clients": clients });
        if !ttl.is_null() {
            config["ttl"] = ttl;
        }
        Self::start_config(&config)
    }

    /// Starts the provider with a whole `tests/oidc/idp.mjs` config:
    /// `{"clients": [..], "ttl": {..}, "accounts": {"<login>": {claims}},
    /// "pkce_required": bool}`.
    pub fn start_config(config: &Value) -> Idp {
        let harness = repo_root().join("tests/oidc");
        if !harness.join("node_modules/oidc-provider").is_dir() {
            panic!(
                "{}/node_modules is missing: run `make test-tools` (npm ci in tests/oidc)",
                harness.display()
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("idp.json");
        std::fs::write(&config_path, serde_json::to_vec_pretty(config).unwrap()).unwrap();
        let log = dir.path().join("idp.log");
        let mut child = Command::new("node")
            .arg(harness.join("idp.mjs"))
            .arg(&config_path)
            .current_dir(&harness)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("starting `node tests/oidc/idp.mjs`: {e} (is node installed?)")
            });
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the OpenID provider did not start within {START_TIMEOUT:?}; its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        let issuer = serde_json::from_str::<Value>(&line)
            .ok()
            .and_then(|v| v["issuer"].as_str().map(str::to_owned));
        let Some(issuer) = issuer else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the OpenID provider did not announce its issuer (it printed {line:?}); its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        Idp {
            issuer,
            child,
            _stdin: stdin,
            log,
            _dir: dir,
        }
    }

    /// What the provider wrote to stderr so far (its errors).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Its discovery document, `/.well-known/openid-configuration`.
    pub async fn discovery(&self) -> Value {
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let response = reqwest::get(&url).await.unwrap();
        assert_eq!(response.status(), 200, "GET {url}");
        response.json().await.unwrap()
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a navigation ended.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// The last URL: the page's own, or the one a `stop` matched (status 0).
    pub url: String,
    /// The last response's status; 0 when a `stop` matched before requesting.
    pub status: u16,
    pub body: String,
    /// Every URL of the navigation in order: the first, each redirect's
    /// target, and last the one a `stop` matched (not requested).
    pub hops: Vec<String>,
}

/// A browser: one cookie jar, redirects followed by hand so that each hop is
/// seen (and the last one can be left unrequested).
#[derive(Clone)]
pub struct Browser {
    pub client: reqwest::Client,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Browser { client }
    }

    /// GET `url`, following redirects.
    pub async fn get(&self, url: &str) -> Page {
        self.navigate(reqwest::Method::GET, url, None, &|_| false)
            .await
    }

    /// POST `fields` form-encoded to `url`, following redirects.
    pub async fn post_form(&self, url: &str, fields: &[(&str, &str)]) -> Page {
        let fields = owned(fields);
        self.navigate(reqwest::Method::POST, url, Some(fields), &|_| false)
            .await
    }

    /// GET `url` following redirects, but stop before requesting the first
    /// URL (`url` itself included) for which `stop` is true: that URL is
    /// `page.url`, with status 0 and an empty body. If no hop matches, the
    /// page where the redirects ended (check `page.status == 0`).
    pub async fn follow_until(&self, url: &str, stop: impl Fn(&str) -> bool) -> Page {
        self.navigate(reqwest::Method::GET, url, None, &stop).await
    }

    /// POST `fields` to `url` and follow redirects like [`Browser::follow_until`].
    pub async fn post_form_until(
        &self,
        url: &str,
        fields: &[(&str, &str)],
        stop: impl Fn(&str) -> bool,
    ) -> Page {
        self.navigate(reqwest::Method::POST, url, Some(owned(fields)), &stop)
            .await
    }

    /// One GET, no redirect followed: the status, the `Location` header and
    /// the body.
    pub async fn get_no_follow(&self, url: &str) -> (u16, Option<String>, String) {
        let response = self
            .client
            .get(url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {url}: {e}"));
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .map(|value| value.to_str().unwrap().to_owned());
        (status, location, response.text().await.unwrap())
    }

    async fn navigate(
        &self,
        mut method: reqwest::Method,
        url: &str,
        mut form: Option<Vec<(String, String)>>,
        stop: &dyn Fn(&str) -> bool,
    ) -> Page {
        let mut url = url.to_owned();
        let mut hops = Vec::new();
        loop {
            hops.push(url.clone());
            if stop(&url) {
                return Page {
                    url,
                    status: 0,
                    body: String::new(),
                    hops,
                };
            }
            assert!(
                hops.len() <= MAX_HOPS + 1,
                "more than {MAX_HOPS} redirects: {hops:#?}"
            );
            let mut request = self.client.request(method.clone(), &url);
            if let Some(fields) = &form {
                request = request.form(fields);
            }
            let response = request
                .send()
                .await
                .unwrap_or_else(|e| panic!("{method} {url}: {e}; hops: {hops:#?}"));
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|value| value.to_str().unwrap().to_owned());
            let body = response.text().await.unwrap_or_default();
            match (status, location) {
                (301 | 302 | 303 | 307 | 308, Some(location)) => {
                    url = resolve(&url, &location);
                    // A browser repeats the method and body only for 307 and 308.
                    if !matches!(status, 307 | 308) {
                        method = reqwest::Method::GET;
                        form = None;
                    }
                }
                _ => {
                    return Page {
                        url,
                        status,
                        body,
                        hops,
                    };
                }
            }
        }
    }
}

fn owned(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

/// `reference` resolved against `base`.
pub fn resolve(base: &str, reference: &str) -> String {
    url::Url::parse(base)
        .and_then(|base| base.join(reference))
        .unwrap_or_else(|e| panic!("cannot resolve {reference:?} against {base:?}: {e}"))
        .to_string()
}

/// The first value of query parameter `name` in `url`.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// An HTML form: where it goes, how, and its named fields in document order.
#[derive(Clone, Debug)]
pub struct Form {
    /// The action resolved against the page's URL (the page itself without one).
    pub action: String,
    /// `GET` or `POST`.
    pub method: String,
    pub fields: Vec<(String, String)>,
}

impl Form {
    /// The value of the first field called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Sets field `name` to `value`, adding the field if the form lacks it.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        match self.fields.iter_mut().find(|(key, _)| key == name) {
            Some(field) => field.1 = value.to_owned(),
            None => self.fields.push((name.to_owned(), value.to_owned())),
        }
        self
    }

    /// Submits the form with `browser`, following redirects.
    pub async fn submit(&self, browser: &Browser) -> Page {
        self.submit_until(browser, |_| false).await
    }

    /// Submits the form, following redirects until `stop` matches a URL
    /// (not requested; see [`Browser::follow_until`]) or a page answers.
    pub async fn submit_until(&self, browser: &Browser, stop: impl Fn(&str) -> bool) -> Page {
        let fields: Vec<(&str, &str)> = self
            .fields
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        if self.method == "GET" {
            let mut url = url::Url::parse(&self.action).unwrap();
            url.query_pairs_mut().clear().extend_pairs(&fields);
            browser
                .navigate(reqwest::Method::GET, url.as_str(), None, &stop)
                .await
        } else {
            browser.post_form_until(&self.action, &fields, stop).await
        }
    }
}

/// The first form of `page_body`, a page at `base_url`; panics without one.
pub fn form(page_body: &str, base_url: &str) -> Form {
    forms(page_body, base_url)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no <form> on {base_url}:\n{}", excerpt(page_body)))
}

/// Every form of `page_body`, a page at `base_url`, with the fields a browser
/// would submit without a click: named `<input>`s (not submit, button, image,
/// reset or file inputs; checkboxes and radios only when checked; value "" when
/// absent, "on" for a checked box without one), `<textarea>`s and `<select>`s
/// (the selected or else the first option). Enough for server-rendered pages,
/// not a real HTML parser.
pub fn forms(page_body: &str, base_url: &str) -> Vec<Form> {
    let lower = page_body.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(start) = find_tag(&lower, "form", at) {
        let (attrs, open_end) = tag_attributes(page_body, start);
        let close = lower[open_end..]
            .find("</form")
            .map_or(page_body.len(), |i| open_end + i);
        let action = match attribute(&attrs, "action") {
            Some(action) if !action.is_empty() => resolve(base_url, action),
            _ => base_url.to_owned(),
        };
        let method = attribute(&attrs, "method")
            .unwrap_or("get")
            .to_ascii_uppercase();
        found.push(Form {
            action,
            method,
            fields: form_fields(&page_body[..close], &lower[..close], open_end),
        });
        at = close;
    }
    found
}

fn form_fields(body: &str, lower: &str, from: usize) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    let mut at = from;
    loop {
        let next = ["input", "textarea", "select"]
            .into_iter()
            .filter_map(|name| find_tag(lower, name, at).map(|i| (i, name)))
            .min();
        let Some((start, kind)) = next else {
            return fields;
        };
        let (attrs, open_end) = tag_attributes(body, start);
        at = open_end;
        let Some(name) = attribute(&attrs, "name") else {
            continue;
        };
        let value = match kind {
            "input" => {
                let kind = attribute(&attrs, "type")
                    .unwrap_or("text")
                    .to_ascii_lowercase();
                let checked = attribute(&attrs, "checked").is_some();
                match kind.as_str() {
                    "submit" | "button" | "image" | "reset" | "file" => continue,
                    "checkbox" | "radio" if !checked => continue,
                    "checkbox" | "radio" => attribute(&attrs, "value").unwrap_or("on").to_owned(),
                    _ => attribute(&attrs, "value").unwrap_or("").to_owned(),
                }
            }
            "textarea" => {
                let end = lower[at..].find("</textarea").map_or(at, |i| at + i);
                let text = decode_entities(&body[at..end]);
                at = end;
                text.strip_prefix('\n').map(str::to_owned).unwrap_or(text)
            }
            _ => {
                let end = lower[at..].find("</select").map_or(at, |i| at + i);
                let mut options = Vec::new();
                let mut option_at = at;
                while let Some(option) = find_tag(&lower[..end], "option", option_at) {
                    let (option_attrs, option_end) = tag_attributes(body, option);
                    let text_end = lower[option_end..end]
                        .find('<')
                        .map_or(end, |i| option_end + i);
                    let value = attribute(&option_attrs, "value")
                        .map(str::to_owned)
                        .unwrap_or_else(|| decode_entities(body[option_end..text_end].trim()));
                    options.push((attribute(&option_attrs, "selected").is_some(), value));
                    option_at = option_end;
                }
                at = end;
                let chosen = options
                    .iter()
                    .find(|(selected, _)| *selected)
                    .or(options.first());
                match chosen {
                    Some((_, value)) => value.clone(),
                    None => continue,
                }
            }
        };
        fields.push((name.to_owned(), value));
    }
}

/// Where the next `<name` tag (followed by whitespace, `>` or `/`) starts at
/// or after `from`; `lower` is the lower-cased page.
fn find_tag(lower: &str, name: &str, from: usize) -> Option<usize> {
    let needle = format!("<{name}");
    let mut at = from;
    while let Some(i) = lower.get(at..)?.find(&needle) {
        let start = at + i;
        let after = lower.as_bytes().get(start + needle.len()).copied();
        if matches!(after, Some(b' ' | b'\t' | b'\n' | b'\r' | b'>' | b'/')) {
            return Some(start);
        }
        at = start + needle.len();
    }
    None
}

/// The attributes of the tag starting at `start` (names lower-cased, values
/// entity-decoded) and the index just past its `>`.
fn tag_attributes(body: &str, start: usize) -> (Vec<(String, Option<String>)>, usize) {
    let bytes = body.as_bytes();
    let mut i = start + 1;
    while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
        i += 1;
    }
    let mut attrs = Vec::new();
    loop {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        if i >= bytes.len() {
            return (attrs, bytes.len());
        }
        if bytes[i] == b'>' {
            return (attrs, i + 1);
        }
        let name_start = i;
        while i < bytes.len()
            && !bytes[i].is_ascii_whitespace()
            && !matches!(bytes[i], b'=' | b'>' | b'/')
        {
            i += 1;
        }
        let name = body[name_start..i].to_ascii_lowercase();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            let value = if i < bytes.len() && matches!(bytes[i], b'"' | b'\'') {
                let quote = bytes[i];
                let value_start = i + 1;
                let end = body[value_start..]
                    .find(quote as char)
                    .map_or(body.len(), |j| value_start + j);
                i = (end + 1).min(body.len());
                &body[value_start..end]
            } else {
                let value_start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                    i += 1;
                }
                &body[value_start..i]
            };
            attrs.push((name, Some(decode_entities(value))));
        } else {
            attrs.push((name, None));
        }
    }
}

/// The value of attribute `name` ("" for one without a value).
fn attribute<'a>(attrs: &'a [(String, Option<String>)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_deref().unwrap_or(""))
}

/// `text` with the character references a server's escaping produces decoded.
pub fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let decoded = rest.find(';').filter(|&end| end <= 10).and_then(|end| {
            let entity = &rest[1..end];
            let ch = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => {
                    let code = if let Some(hex) = entity
                        .strip_prefix("#x")
                        .or_else(|| entity.strip_prefix("#X"))
                    {
                        u32::from_str_radix(hex, 16).ok()
                    } else {
                        entity.strip_prefix('#').and_then(|dec| dec.parse().ok())
                    };
                    code.and_then(char::from_u32)
                }
            };
            ch.map(|ch| (ch, end))
        });
        match decoded {
            Some((ch, end)) => {
                out.push(ch);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Signs in as `login` (any password) at the provider whose login form
/// `page` is, grants consent if asked, and follows redirects until `stop`
/// matches a URL, typically the relying party's callback: that URL is
/// returned in `page.url` (status 0), not requested. A `page` that already
/// stopped there, or an IdP that remembers the session and goes straight to
/// consent, works too.
pub async fn sign_in_at_idp(
    browser: &Browser,
    page: Page,
    login: &str,
    stop: impl Fn(&str) -> bool,
) -> Page {
    let mut page = page;
    let mut hops = page.hops.clone();
    for _ in 0..4 {
        if page.status == 0 && stop(&page.url) {
            page.hops = hops;
            return page;
        }
        assert_eq!(
            page.status,
            200,
            "expected the OpenID provider's sign-in or consent page at {}; hops: {hops:#?}\n{}",
            page.url,
            excerpt(&page.body)
        );
        let mut form = forms(&page.body, &page.url)
            .into_iter()
            .find(|form| form.get("prompt").is_some())
            .unwrap_or_else(|| {
                panic!(
                    "no sign-in or consent form at {}; hops: {hops:#?}\n{}",
                    page.url,
                    excerpt(&page.body)
                )
            });
        match form.get("prompt") {
            Some("login") => {
                form.set("login", login).set("password", "any password");
            }
            Some("consent") => {}
            other => panic!("unexpected interaction {other:?} at {}", page.url),
        }
        page = form.submit_until(browser, &stop).await;
        hops.extend(page.hops.iter().cloned());
    }
    panic!(
        "signing in at the OpenID provider did not reach the callback; hops: {hops:#?}\nlast page ({}, {}):\n{}",
        page.url,
        page.status,
        excerpt(&page.body)
    );
}

/// The claims of a JWT (its payload, not verified).
pub fn jwt_payload(token: &str) -> Value {
    let payload = token
        .split('.')
        .nth(1)
        .unwrap_or_else(|| panic!("not a JWT: {token:?}"));
    serde_json::from_slice(&base64url_decode(payload))
        .unwrap_or_else(|e| panic!("JWT payload is not JSON: {e}"))
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Unpadded base64url.
pub fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(BASE64URL[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Decodes base64url, padded or not; panics on anything else.
pub fn base64url_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut count) = (0u32, 0);
    for ch in text.trim_end_matches('=').bytes() {
        let value = BASE64URL
            .iter()
            .position(|&c| c == ch)
            .unwrap_or_else(|| panic!("not base64url: {text:?}"));
        bits = bits << 6 | value as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    out
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce_pair() -> (String, String) {
    use sha2::Digest;
    let verifier = base64url_encode(&rand::random::<[u8; 32]>());
    let challenge = base64url_encode(&sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn excerpt(body: &str) -> &str {
    let mut end = body.len().min(2000);
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    &body[..end]
}
