//! The {{name}} action: greets the Workfront user who ran it.
//!
//! Build: `bash build.sh` (writes `{{name}}.wasm` beside the manifest); try it
//! with `docket invoke {{name}}.toml --document-id … --document-version-id … --username jane.doe`.

use docket_sdk::{Failure, Outcome, Request};

fn run(req: Request) -> Outcome {
    if req.username.is_empty() {
        return Err(Failure::forbidden("sign in to Workfront to run {{name}}"));
    }
    let greeting = req.config("greeting").unwrap_or("Hello");
    Ok(Some(format!(
        "{greeting}, {}: {{name}} ran on version {} of document {}",
        req.username, req.document_version_id, req.document_id
    )))
}

fn main() {
    docket_sdk::run_command(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_a_user() {
        let req = Request {
            document_id: "d".into(),
            ..Request::default()
        };
        assert!(run(req).is_err());
    }
}
