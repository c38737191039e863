//! OAuth2 mode (docs/architecture.md#oauth2-mode): per tenant, Docket is the
//! OAuth2 provider Workfront's Custom Integration talks to, and federates
//! the user's sign-in to the tenant's OpenID Connect identity provider.
//!
//! ```text
//! Workfront ─▶ authorize ──(hand-off page)──▶ IdP sign-in ─▶ callback ─▶ consent
//!     ◀── redirect_uri?code&state ◀────────────────────────────────────────┘
//! Workfront ─▶ token (code | refresh_token) ─▶ access + refresh token
//! Workfront ─▶ customAction, Authorization: Bearer ─▶ the token's user, verified
//! ```
//!
//! Each step spends a one-time value kept by [`OAuthStore`] (the IdP
//! `state`, the consent form's id, the authorization code), so the flow
//! works across replicas and nothing can be replayed; a cookie binds a
//! sign-in to the browser that started it. The HTTP layer (`http/oauth.rs`)
//! only parses requests and renders what these functions return.

pub mod idp;
mod sign_in;
mod token;

pub use sign_in::{
    AfterIdp, BINDING_COOKIE, ConsentPage, Cookies, FlowError, HandOff, authorize,
    binding_cookie_name, consent, idp_returned,
};
pub use token::{ClientCredentials, TokenError, token};

use crate::app::App;
use serde::{Deserialize, Serialize};

/// The URLs a tenant's OAuth2 mode is reached at.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthUrls {
    /// Workfront's **Authentication URL**.
    pub authentication_url: String,
    /// Workfront's **Token Endpoint URL**.
    pub token_endpoint_url: String,
    /// The redirect URI to register at the identity provider.
    pub identity_provider_redirect_uri: String,
}

impl OAuthUrls {
    /// The URLs of `tenant` on this server.
    pub fn of(app: &App, tenant: &str) -> Self {
        let base = format!("{}/t/{tenant}/oauth", app.public_url);
        Self {
            authentication_url: format!("{base}/authorize"),
            token_endpoint_url: format!("{base}/token"),
            identity_provider_redirect_uri: format!("{base}/callback"),
        }
    }
}

/// What Workfront asked for, carried through the sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WorkfrontRequest {
    redirect_uri: String,
    state: String,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// An authorization code's grant.
#[derive(Debug, Serialize, Deserialize)]
struct CodeData {
    workfront: WorkfrontRequest,
    username: String,
    subject: String,
}
