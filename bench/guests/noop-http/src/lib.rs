//! Benchmark guest: the least a `wasi:http/proxy` component can do, so `make
//! bench` can put `wasmtime serve` beside Docket's trivial component. Every
//! request gets 200 with the same JSON and content type as the bare axum
//! baseline (`bench/baseline`) and a successful Docket action.

// Only for WebAssembly: the export macro names its symbol `wasi:http/…`,
// which a host linker's version script cannot take, and `cargo build
// --workspace` builds every member for the host too.
#[cfg(target_arch = "wasm32")]
mod proxy {
    use wasip2::http::types::{
        Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
    };

    wasip2::http::proxy::export!(Noop);

    /// The body every request gets: a successful Docket action's answer.
    const BODY: &[u8] = br#"{"status":"success"}"#;

    struct Noop;

    impl wasip2::exports::http::incoming_handler::Guest for Noop {
        fn handle(_request: IncomingRequest, response_out: ResponseOutparam) {
            let headers = Fields::from_list(&[
                ("content-type".to_string(), b"application/json".to_vec()),
                (
                    "content-length".to_string(),
                    BODY.len().to_string().into_bytes(),
                ),
            ])
            .expect("valid headers");
            let response = OutgoingResponse::new(headers);
            let body = response.body().expect("the body, taken once");
            ResponseOutparam::set(response_out, Ok(response));
            let out = body.write().expect("the body's stream, taken once");
            out.blocking_write_and_flush(BODY).expect("write the body");
            drop(out);
            OutgoingBody::finish(body, None).expect("finish the body");
        }
    }
}
