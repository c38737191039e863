//! `archive`: files a Workfront document version under an archive folder.
//!
//! Command ABI (WASI preview 1), built for `wasm32-wasip1`. Config:
//! * `folder`: the archive root (default `Archive`);
//! * `allowed-users`: optional comma-separated Workfront usernames allowed to archive.
//!
//! An optional `subfolder` query parameter (set as a request parameter on the
//! Workfront integration, or added by hand) files the document one level deeper.

use docket_sdk::{Failure, Outcome, Request};

fn main() {
    docket_sdk::run_command(run)
}

fn run(req: Request) -> Outcome {
    if let Some(allowed) = req.config("allowed-users") {
        let permitted = allowed
            .split(',')
            .map(str::trim)
            .any(|user| !user.is_empty() && user.eq_ignore_ascii_case(&req.username));
        if !permitted {
            let who = if req.username.is_empty() {
                "anonymous users"
            } else {
                &req.username
            };
            return Err(Failure::forbidden(format!(
                "{who} may not archive documents; ask an admin to add you to allowed-users"
            )));
        }
    }
    check_workfront_id("document", &req.document_id)?;
    check_workfront_id("document version", &req.document_version_id)?;

    let root = req.config("folder").unwrap_or("Archive").trim_matches('/');
    let mut destination = vec![root.to_owned()];
    if let Some(sub) = req
        .param("subfolder")
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if sub.contains(['/', '\\']) || sub == "." || sub == ".." {
            return Err(Failure::failed(format!(
                "subfolder {sub:?} must be a single folder name"
            )));
        }
        destination.push(sub.to_owned());
    }
    destination.push(req.document_id.clone());
    let destination = destination.join("/");

    eprintln!(
        "archive: request {} files {}@{} under {destination}",
        req.request_id, req.document_id, req.document_version_id
    );
    let by = if req.username.is_empty() {
        String::new()
    } else {
        format!(" for {}", req.username)
    };
    Ok(Some(format!(
        "Archived version {} of document {} to {destination}{by}",
        req.document_version_id, req.document_id
    )))
}

/// Workfront object ids are 32 lowercase hexadecimal characters; anything else
/// cannot name a document, so the action says "not found" rather than guessing.
fn check_workfront_id(what: &str, id: &str) -> Result<(), Failure> {
    let well_formed = id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if well_formed {
        Ok(())
    } else {
        Err(Failure::not_found(format!(
            "{what} {id:?} not found: Workfront ids are 32 hexadecimal characters"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "5f0c8e2a9b1d4c3e8f7a6b5c4d3e2f10";
    const VER: &str = "7a6b5c4d3e2f10fedcba98765432100a";

    fn request() -> Request {
        Request {
            action: "archive".into(),
            document_id: DOC.into(),
            document_version_id: VER.into(),
            username: "jane".into(),
            ..Request::default()
        }
    }

    #[test]
    fn files_under_the_configured_folder_and_subfolder() {
        let mut req = request();
        req.config.insert("folder".into(), "/Records/".into());
        req.params.insert("subfolder".into(), "2026".into());
        let message = run(req).unwrap().unwrap();
        assert!(
            message.contains(&format!("to Records/2026/{DOC} for jane")),
            "{message}"
        );
    }

    #[test]
    fn refuses_users_outside_the_allow_list() {
        let mut req = request();
        req.config.insert("allowed-users".into(), "ann, bob".into());
        assert!(matches!(run(req), Err(Failure::Forbidden(_))));
    }

    #[test]
    fn malformed_ids_are_not_found_and_path_tricks_fail() {
        let mut req = request();
        req.document_id = "nope".into();
        assert!(matches!(run(req), Err(Failure::NotFound(_))));
        let mut req = request();
        req.params.insert("subfolder".into(), "../etc".into());
        assert!(matches!(run(req), Err(Failure::Failed(_))));
    }
}
