//! Workfront's Token Endpoint: an authorization code or a refresh token,
//! with the integration's client credentials, for a new token pair.

use super::{CodeData, WorkfrontRequest};
use crate::app::App;
use crate::registry::StoreError;
use crate::registry::keys::KeyHash;
use crate::registry::oauth::{NewGrant, PendingKind, Refreshed, Taken, TokenPair};
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;

/// Why the token endpoint refused, as RFC 6749 §5.2 words it.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Client authentication failed (401).
    #[error("{0}")]
    InvalidClient(String),
    /// The code or refresh token is not good (400).
    #[error("{0}")]
    InvalidGrant(String),
    /// A parameter is missing or wrong (400).
    #[error("{0}")]
    InvalidRequest(String),
    /// Not `authorization_code` or `refresh_token` (400).
    #[error("{0}")]
    UnsupportedGrantType(String),
    /// The tenant is suspended (400).
    #[error("{0}")]
    UnauthorizedClient(String),
    /// The store failed (500 / 503).
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl TokenError {
    /// The `error` code of the JSON answer.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::InvalidClient(_) => "invalid_client",
            TokenError::InvalidGrant(_) => "invalid_grant",
            TokenError::InvalidRequest(_) => "invalid_request",
            TokenError::UnsupportedGrantType(_) => "unsupported_grant_type",
            TokenError::UnauthorizedClient(_) => "unauthorized_client",
            TokenError::Store(StoreError::Unavailable(_)) => "temporarily_unavailable",
            TokenError::Store(_) => "server_error",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            TokenError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
            TokenError::Store(StoreError::Unavailable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            TokenError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// The client credentials a token request carried (form, query or HTTP Basic).
#[derive(Debug, Default)]
pub struct ClientCredentials {
    /// `client_id`.
    pub id: Option<String>,
    /// `client_secret`.
    pub secret: Option<String>,
}

/// `POST …/oauth/token`: `authorization_code` or `refresh_token`.
pub async fn token(
    app: &App,
    tenant: &str,
    params: &BTreeMap<String, String>,
    credentials: ClientCredentials,
) -> Result<TokenPair, TokenError> {
    // One answer for every client failure, so it tells nothing of whether
    // the tenant exists or has OAuth2 mode on.
    let wrong_client = || {
        TokenError::InvalidClient(
            "client authentication failed: give this integration's client_id and client_secret (form fields or HTTP Basic)".into(),
        )
    };
    let (Some(id), Some(secret)) = (credentials.id, credentials.secret) else {
        return Err(wrong_client());
    };
    let found = app.tenant(tenant).ok_or_else(wrong_client)?;
    let client = app
        .store
        .oauth_client(&found.name)
        .await?
        .ok_or_else(wrong_client)?;
    let id_matches: bool = id.as_bytes().ct_eq(client.client_id.as_bytes()).into();
    if !id_matches
        || !crate::registry::keys::matches_any(std::slice::from_ref(&client.secret_hash), &secret)
    {
        return Err(wrong_client());
    }
    if found.suspended {
        return Err(TokenError::UnauthorizedClient(
            "this tenant is suspended".into(),
        ));
    }
    let settings = &client.settings;
    let required = |name: &str| {
        params
            .get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| TokenError::InvalidRequest(format!("`{name}` is required")))
    };
    match required("grant_type")?.as_str() {
        "authorization_code" => {
            let code = required("code")?;
            let grant: CodeData = match app
                .store
                .take_pending(&found.name, PendingKind::Code, code)
                .await?
            {
                Taken::Fresh(data) => serde_json::from_str(&data).map_err(|e| {
                    TokenError::Store(StoreError::Database(format!("a malformed grant: {e}")))
                })?,
                Taken::Spent => {
                    let revoked = app
                        .store
                        .revoke_family(&found.name, &KeyHash::of(code).to_hex())
                        .await?;
                    tracing::warn!(tenant = %found.name, revoked, "an authorization code was presented twice; its tokens are revoked");
                    return Err(TokenError::InvalidGrant(
                        "this authorization code was already used; the tokens issued for it are revoked".into(),
                    ));
                }
                Taken::Missing => {
                    return Err(TokenError::InvalidGrant(
                        "unknown or expired authorization code".into(),
                    ));
                }
            };
            if let Some(uri) = params.get("redirect_uri")
                && uri != &grant.workfront.redirect_uri
            {
                return Err(TokenError::InvalidGrant(
                    "redirect_uri differs from the one the code was issued for".into(),
                ));
            }
            check_pkce(&grant.workfront, params.get("code_verifier"))?;
            let pair = app
                .store
                .issue_tokens(
                    &found.name,
                    NewGrant {
                        tenant_id: &found.id,
                        username: &grant.username,
                        subject: &grant.subject,
                        family: &KeyHash::of(code).to_hex(),
                        access_seconds: settings.access_token_seconds,
                        refresh_seconds: settings.refresh_token_seconds,
                    },
                )
                .await?;
            Ok(pair)
        }
        "refresh_token" => {
            let refresh = required("refresh_token")?;
            match app
                .store
                .refresh_tokens(
                    &found.name,
                    &found.id,
                    refresh,
                    settings.access_token_seconds,
                    settings.refresh_token_seconds,
                )
                .await?
            {
                Refreshed::Rotated(pair) => Ok(pair),
                Refreshed::Reused => {
                    tracing::warn!(tenant = %found.name, "a spent refresh token was presented; its grant is revoked");
                    Err(TokenError::InvalidGrant(
                        "this refresh token was already used; every token of its grant is revoked, so the user must connect again".into(),
                    ))
                }
                Refreshed::Invalid => Err(TokenError::InvalidGrant(
                    "unknown, expired or revoked refresh token".into(),
                )),
            }
        }
        other => Err(TokenError::UnsupportedGrantType(format!(
            "grant_type {other:?} is not supported (authorization_code or refresh_token)"
        ))),
    }
}

fn check_pkce(request: &WorkfrontRequest, verifier: Option<&String>) -> Result<(), TokenError> {
    let Some(challenge) = &request.code_challenge else {
        return Ok(());
    };
    let verifier = verifier.ok_or_else(|| {
        TokenError::InvalidGrant(
            "this code was issued with PKCE: `code_verifier` is required".into(),
        )
    })?;
    let expected = match request.code_challenge_method.as_deref() {
        Some("S256") => openidconnect::PkceCodeChallenge::from_code_verifier_sha256(
            &openidconnect::PkceCodeVerifier::new(verifier.clone()),
        )
        .as_str()
        .to_owned(),
        _ => verifier.clone(),
    };
    if bool::from(expected.as_bytes().ct_eq(challenge.as_bytes())) {
        Ok(())
    } else {
        Err(TokenError::InvalidGrant(
            "code_verifier does not match the code challenge".into(),
        ))
    }
}
