//! `review-gate`: a reviewer signs off one review stage of a document version.
//!
//! Component ABI (world `docket:action/action`), built for `wasm32-wasip2`.
//! Config:
//! * `reviewers`: comma-separated Workfront usernames who may sign off;
//! * `stages`: comma-separated stage names (default `legal,brand,final`).
//!
//! The stage comes from the `stage` query parameter. Each failure kind has its
//! cause: a user who is not a reviewer is *forbidden*, a malformed document id is
//! *not found*, and a missing or unknown stage *fails*.

use docket_sdk::{Failure, Outcome, Request};

docket_sdk::component_action!(run);

const DEFAULT_STAGES: &str = "legal,brand,final";

/// Signs off the requested stage.
pub fn run(req: Request) -> Outcome {
    let reviewers = list(req.config("reviewers").unwrap_or(""));
    if !reviewers
        .iter()
        .any(|r| r.eq_ignore_ascii_case(&req.username))
    {
        let who = if req.username.is_empty() {
            "an anonymous user"
        } else {
            &req.username
        };
        return Err(Failure::forbidden(format!(
            "{who} is not a reviewer for this project"
        )));
    }
    if req.document_id.len() != 32 || !req.document_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Failure::not_found(format!(
            "document {:?} not found",
            req.document_id
        )));
    }
    let stages = list(req.config("stages").unwrap_or(DEFAULT_STAGES));
    let stage = req.param("stage").map(str::trim).unwrap_or("");
    if stage.is_empty() {
        return Err(Failure::failed(format!(
            "no review stage given; add stage=<{}> to the integration's request parameters",
            stages.join("|")
        )));
    }
    let Some(stage) = stages.iter().find(|s| s.eq_ignore_ascii_case(stage)) else {
        return Err(Failure::failed(format!(
            "unknown review stage {stage:?}; expected one of {}",
            stages.join(", ")
        )));
    };
    Ok(Some(format!(
        "{} review signed off by {} for version {} of document {}",
        capitalize(stage),
        req.username,
        req.document_version_id,
        req.document_id
    )))
}

fn list(text: &str) -> Vec<&str> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(user: &str, stage: Option<&str>) -> Request {
        let mut req = Request {
            action: "review-gate".into(),
            document_id: "5f0c8e2a9b1d4c3e8f7a6b5c4d3e2f10".into(),
            document_version_id: "v2".into(),
            username: user.into(),
            ..Request::default()
        };
        req.config.insert("reviewers".into(), "ann, bob".into());
        if let Some(stage) = stage {
            req.params.insert("stage".into(), stage.into());
        }
        req
    }

    #[test]
    fn a_reviewer_signs_off_a_known_stage() {
        let message = run(request("Bob", Some("legal"))).unwrap().unwrap();
        assert!(
            message.starts_with("Legal review signed off by Bob"),
            "{message}"
        );
    }

    #[test]
    fn each_failure_kind_has_its_cause() {
        assert!(matches!(
            run(request("eve", Some("legal"))),
            Err(Failure::Forbidden(_))
        ));
        let mut bad_doc = request("ann", Some("legal"));
        bad_doc.document_id = "x".into();
        assert!(matches!(run(bad_doc), Err(Failure::NotFound(_))));
        assert!(matches!(
            run(request("ann", Some("tax"))),
            Err(Failure::Failed(_))
        ));
        assert!(matches!(run(request("ann", None)), Err(Failure::Failed(_))));
    }
}
