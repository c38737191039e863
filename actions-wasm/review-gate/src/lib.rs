//! `review-gate`: a reviewer signs off one review stage of a document version.
//!
//! Component ABI (world `docket:action/action`), built for `wasm32-wasip2`.
//! Config:
//! * `reviewers`: comma-separated Workfront usernames who may sign off;
//! * `stages`: comma-separated stage names (default `legal,brand,final`);
//! * `require-verified-user`: `"true"` to accept only a user verified by
//!   sign-in (Workfront's OAuth2 mode), `"false"` (the default) to accept the
//!   username as sent. In ApiKey mode anyone holding the tenant's key can send
//!   any username, so a real gate should set it (guest-sdk/CONTRACT.md,
//!   "Verified users").
//!
//! The stage comes from the `stage` query parameter. Each failure kind has its
//! cause: an unverified user when verification is required, or a user who is
//! not a reviewer, is *forbidden*; a malformed document id is *not found*; a
//! missing or unknown stage, or a `require-verified-user` that is neither
//! `true` nor `false`, *fails*.

use docket_sdk::{Failure, Outcome, Request};

docket_sdk::component_action!(run);

const DEFAULT_STAGES: &str = "legal,brand,final";

/// Signs off the requested stage.
pub fn run(req: Request) -> Outcome {
    if require_verified_user(&req)? && !req.username_verified {
        return Err(Failure::forbidden(
            "signing off a review stage requires a user verified by sign-in (OAuth2 mode); \
             this call's user was not verified",
        ));
    }
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

/// The `require-verified-user` config: absent is `false`; a value other than
/// `true` or `false` is a configuration error rather than a silent `false`.
fn require_verified_user(req: &Request) -> Result<bool, Failure> {
    let Some(value) = req.config("require-verified-user") else {
        return Ok(false);
    };
    match value.trim() {
        v if v.eq_ignore_ascii_case("true") => Ok(true),
        v if v.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(Failure::failed(format!(
            "config require-verified-user must be \"true\" or \"false\", not {other:?}"
        ))),
    }
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

    #[test]
    fn without_the_setting_an_unverified_user_may_sign_off() {
        let mut req = request("ann", Some("brand"));
        assert!(!req.username_verified);
        assert!(run(req.clone()).is_ok());
        req.config
            .insert("require-verified-user".into(), "false".into());
        assert!(run(req).is_ok());
    }

    #[test]
    fn requiring_a_verified_user_refuses_an_unverified_one() {
        let mut req = request("ann", Some("legal"));
        req.config
            .insert("require-verified-user".into(), "true".into());
        match run(req.clone()) {
            Err(Failure::Forbidden(message)) => assert!(
                message.contains("requires a user verified by sign-in (OAuth2 mode)")
                    && message.contains("this call's user was not verified"),
                "{message}"
            ),
            other => panic!("expected forbidden, got {other:?}"),
        }
        req.username_verified = true;
        let message = run(req.clone()).unwrap().unwrap();
        assert!(
            message.starts_with("Legal review signed off by ann"),
            "{message}"
        );
        // Verified is not enough: the user must still be a reviewer.
        req.username = "eve".into();
        assert!(matches!(run(req), Err(Failure::Forbidden(m)) if m.contains("not a reviewer")));
    }

    #[test]
    fn a_malformed_setting_fails_instead_of_opening_the_gate() {
        let mut req = request("ann", Some("legal"));
        req.config
            .insert("require-verified-user".into(), "yes".into());
        assert!(matches!(run(req), Err(Failure::Failed(m)) if m.contains("require-verified-user")));
    }
}
