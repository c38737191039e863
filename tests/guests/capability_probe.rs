//! Shared by both test probes: exercises outbound HTTP and the key-value store
//! through the SDK when the request asks for it.
//!
//! `url=…` sends a request (`method`, `body`, `header=name:value`, `repeat=N` to
//! send it N times) and reports the status and body; `count=KEY` increments KEY;
//! `read=KEY` reads it; `secret=NAME` reports that granted secret (and the
//! `folder` config value); `leftovers=1` reports what this instance saw of
//! earlier calls (a static counter and a heap value both bumped per call),
//! `identity=1` the user and whether Docket verified them, and `trap=1`
//! panics, which traps the instance (after bumping what `leftovers` reports).

use docket_sdk::{Failure, HttpRequest, Outcome, Request, kv, send};

/// The answer to a capability probe, or `None` when the request asks for none.
pub fn probe(req: &Request) -> Option<Outcome> {
    if req.param("leftovers").is_some() {
        return Some(Ok(Some(leftovers())));
    }
    if req.param("trap").is_some() {
        // Leaves state behind first, so a test can tell whether the trapped
        // instance was ever entered again.
        leftovers();
        panic!("asked to trap");
    }
    if req.param("identity").is_some() {
        return Some(Ok(Some(format!(
            "user {:?} verified {}",
            req.username, req.username_verified
        ))));
    }
    if let Some(name) = req.param("secret") {
        return Some(Ok(Some(match req.secret(name) {
            Some(value) => format!(
                "secret {name} = {value}; config folder = {:?}",
                req.config("folder")
            ),
            None => format!("secret {name} is not available"),
        })));
    }
    if let Some(url) = req.param("url") {
        let mut request = HttpRequest {
            method: req.param("method").unwrap_or("GET").to_owned(),
            url: url.to_owned(),
            body: req.param("body").unwrap_or_default().to_owned(),
            ..HttpRequest::default()
        };
        if let Some((name, value)) = req.param("header").and_then(|h| h.split_once(':')) {
            request = request.header(name, value);
        }
        let repeat: u32 = req
            .param("repeat")
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let mut last = None;
        for _ in 0..repeat {
            match send(&request) {
                Ok(response) => last = Some(response),
                Err(e) => return Some(Err(Failure::failed(e))),
            }
        }
        let response = last?;
        return Some(Ok(Some(format!(
            "status {} body {}",
            response.status, response.body
        ))));
    }
    if let Some(key) = req.param("count") {
        return Some(match kv::increment(key, 1) {
            Ok(n) => Ok(Some(format!("count {n}"))),
            Err(e) => Err(Failure::failed(e)),
        });
    }
    if let Some(key) = req.param("read") {
        return Some(match kv::get(key) {
            Ok(value) => Ok(Some(format!("{key} = {value:?}"))),
            Err(e) => Err(Failure::failed(e)),
        });
    }
    None
}

static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
static HEAP: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// Bumps a static and a heap value; in a fresh instance both start empty.
fn leftovers() -> String {
    let before = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let mut heap = HEAP.lock().unwrap_or_else(|e| e.into_inner());
    let seen = heap.len();
    heap.push(before);
    format!("earlier calls seen: static {before}, heap {seen}")
}
