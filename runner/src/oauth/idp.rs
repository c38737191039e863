//! Signing a user in at the tenant's OpenID Connect identity provider, as a
//! relying party: discovery, the authorization request (with PKCE and a
//! nonce), and the code exchange with the ID token verified against the
//! provider's published keys (issuer, audience, expiry, nonce, signature),
//! all by the `openidconnect` crate. Every request goes through the outbound
//! client's SSRF guard, follows no redirect and is bounded in time.

use crate::capabilities::outbound::OutboundClient;
use crate::registry::oauth::OAuthSettings;
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreResponseType};
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
};
use std::time::Duration;

/// Longest one request to the identity provider may take.
const IDP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a sign-in at the identity provider failed, worded for the user's page
/// (and the log).
#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    /// The tenant's settings cannot be used (bad issuer URL, refused address).
    #[error("the identity provider is not set up correctly: {0}")]
    Misconfigured(String),
    /// The provider could not be reached or answered wrongly.
    #[error("the identity provider could not be reached or answered wrongly: {0}")]
    Unreachable(String),
    /// The provider's answer did not prove who the user is.
    #[error("the sign-in could not be verified: {0}")]
    Unverified(String),
}

/// Where to send the browser, and what the callback needs to finish.
pub struct SignInRequest {
    /// The identity provider's authorization URL.
    pub url: String,
    /// The `state` sent there (the sign-in's one-time key).
    pub state: String,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier for the code exchange.
    pub pkce_verifier: String,
}

/// The user the identity provider vouched for.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The provider's stable subject identifier.
    pub subject: String,
    /// The name actions see, from the configured claim.
    pub username: String,
}

/// The claims a tenant may name users by.
pub const USERNAME_CLAIMS: [&str; 3] = ["email", "preferred_username", "sub"];

/// Discovers the provider and builds the authorization request.
pub async fn begin(
    outbound: &OutboundClient,
    settings: &OAuthSettings,
    callback: &str,
) -> Result<SignInRequest, IdpError> {
    let client = client(outbound, settings, callback).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    Ok(SignInRequest {
        url: url.to_string(),
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
    })
}

/// Exchanges the provider's code and verifies the ID token it returns.
pub async fn finish(
    outbound: &OutboundClient,
    settings: &OAuthSettings,
    callback: &str,
    code: &str,
    nonce: &str,
    pkce_verifier: &str,
) -> Result<SignedIn, IdpError> {
    let client = client(outbound, settings, callback).await?;
    let http = Guarded::of(outbound);
    let exchange = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|e| IdpError::Misconfigured(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
        .request_async(&http);
    let tokens = tokio::time::timeout(IDP_TIMEOUT, exchange)
        .await
        .map_err(|_| IdpError::Unreachable("its token endpoint did not answer in time".into()))?
        .map_err(|e| IdpError::Unreachable(format!("the code exchange failed: {}", chain(&e))))?;
    let id_token = tokens
        .extra_fields()
        .id_token()
        .ok_or_else(|| IdpError::Unverified("no ID token in the provider's answer".into()))?;
    let claims = id_token
        .claims(&client.id_token_verifier(), &Nonce::new(nonce.to_owned()))
        .map_err(|e| IdpError::Unverified(chain(&e)))?;
    let subject = claims.subject().as_str().to_owned();
    let username = match settings.username_claim.as_str() {
        "email" => {
            if claims.email_verified() == Some(false) {
                return Err(IdpError::Unverified(
                    "the identity provider says this user's email address is not verified".into(),
                ));
            }
            claims.email().map(|e| e.as_str().to_owned())
        }
        "preferred_username" => claims.preferred_username().map(|u| u.as_str().to_owned()),
        _ => Some(subject.clone()),
    }
    .filter(|name| !name.is_empty())
    .ok_or_else(|| {
        IdpError::Unverified(format!(
            "the ID token has no `{}` claim (the tenant names users by it; ask for the scope that carries it, or name users by `sub`)",
            settings.username_claim
        ))
    })?;
    Ok(SignedIn { subject, username })
}

type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// The provider's client, from its discovery document (fetched each time:
/// sign-ins are rare, and a provider's keys rotate).
async fn client(
    outbound: &OutboundClient,
    settings: &OAuthSettings,
    callback: &str,
) -> Result<Client, IdpError> {
    let issuer = IssuerUrl::new(settings.issuer.clone())
        .map_err(|e| IdpError::Misconfigured(format!("issuer {:?}: {e}", settings.issuer)))?;
    outbound
        .destination_allowed(issuer.url())
        .map_err(IdpError::Misconfigured)?;
    let http = Guarded::of(outbound);
    let discover = CoreProviderMetadata::discover_async(issuer, &http);
    let metadata = tokio::time::timeout(IDP_TIMEOUT, discover)
        .await
        .map_err(|_| IdpError::Unreachable("its discovery document did not come in time".into()))?
        .map_err(|e| IdpError::Unreachable(format!("discovery failed: {}", chain(&e))))?;
    // The browser goes to the authorization endpoint: it must be https too.
    outbound
        .destination_allowed(metadata.authorization_endpoint().url())
        .map_err(IdpError::Misconfigured)?;
    let redirect = RedirectUrl::new(callback.to_owned())
        .map_err(|e| IdpError::Misconfigured(format!("callback URL {callback:?}: {e}")))?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(settings.idp_client_id.clone()),
        settings.idp_client_secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(redirect))
}

/// The relying party's HTTP client: [`send`] for every request. Owns what
/// it uses, so the futures that borrow it are `Send` for any lifetime.
struct Guarded {
    client: reqwest::Client,
    allow_private: bool,
}

impl Guarded {
    fn of(outbound: &OutboundClient) -> Self {
        Self {
            client: outbound.guarded().clone(),
            allow_private: outbound.settings().allow_private,
        }
    }
}

impl<'c> openidconnect::AsyncHttpClient<'c> for Guarded {
    type Error = GuardError;
    type Future = std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<openidconnect::HttpResponse, GuardError>>
                + Send
                + 'c,
        >,
    >;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(send(self, request))
    }
}

/// A request refused by the guard, or failed on its way.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct GuardError(String);

/// Sends one of the relying party's requests (discovery, keys, code
/// exchange): each URL checked like an action's outbound request first.
async fn send(
    http: &Guarded,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, GuardError> {
    use openidconnect::AsyncHttpClient;
    let url = url::Url::parse(&request.uri().to_string())
        .map_err(|e| GuardError(format!("{}: {e}", request.uri())))?;
    crate::capabilities::outbound::destination_allowed(http.allow_private, &url)
        .map_err(GuardError)?;
    http.client
        .call(request)
        .await
        .map_err(|e| GuardError(chain(&e)))
}

/// An error with its causes, on one line.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
