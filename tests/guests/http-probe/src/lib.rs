//! Test guest: sends an outbound `wasi:http` request to the `host` parameter
//! (default `127.0.0.1:9`) and reports whether the sandbox let it out. With a
//! `secret` parameter, reports that secret instead (read through `wasi:config`).

use docket_sdk::{Failure, Outcome, Request};
use wasi::http::outgoing_handler;
use wasi::http::types::{Fields, OutgoingRequest, Scheme};

docket_sdk::component_action!(run);

#[path = "../../capability_probe.rs"]
mod capability_probe;

/// Tries the request; a denial is a `failed` failure quoting the error code.
pub fn run(req: Request) -> Outcome {
    if let Some(outcome) = capability_probe::probe(&req) {
        return outcome;
    }
    let authority = req.param("host").unwrap_or("127.0.0.1:9");
    let request = OutgoingRequest::new(Fields::new());
    let _ = request.set_scheme(Some(&Scheme::Http));
    let _ = request.set_authority(Some(authority));
    let _ = request.set_path_with_query(Some("/"));
    match outgoing_handler::handle(request, None) {
        Err(code) => Err(Failure::failed(format!("denied: {code:?}"))),
        Ok(future) => {
            future.subscribe().block();
            match future.get() {
                Some(Ok(Ok(response))) => {
                    Ok(Some(format!("ALLOWED: status {}", response.status())))
                }
                Some(Ok(Err(code))) => Err(Failure::failed(format!("denied: {code:?}"))),
                other => Err(Failure::failed(format!("unexpected: {other:?}"))),
            }
        }
    }
}
