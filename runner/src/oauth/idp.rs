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
/// Largest answer Docket reads from an identity provider (a discovery
/// document, its keys, a token response are a few KiB).
const MAX_IDP_RESPONSE_BYTES: usize = 256 * 1024;
/// How long a provider's discovery document (with its keys) is reused for
/// starting sign-ins, so anonymous hand-offs do not each cost the provider
/// two requests; finishing a sign-in always fetches it afresh (keys rotate).
const DISCOVERY_TTL: Duration = Duration::from_secs(300);
/// Issuers whose discovery documents are kept at once.
const MAX_CACHED_ISSUERS: usize = 1024;

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
    let client = client(outbound, settings, callback, Discovery::Cached).await?;
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
    let client = client(outbound, settings, callback, Discovery::Fresh).await?;
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
            // An address the provider does not vouch for may be one the user
            // typed in (Entra ID sends none): name users by `sub` there.
            if claims.email_verified() != Some(true) {
                return Err(IdpError::Unverified(
                    "the identity provider does not say this user's email address is verified \
                     (email_verified); the integration's administrator can name users by `sub` instead"
                        .into(),
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

/// Whether a recent discovery document will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Discovery {
    Cached,
    Fresh,
}

type DiscoveryCache =
    std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, CoreProviderMetadata)>>;

/// Discovery documents by issuer: public data, the same for every tenant
/// naming that issuer.
static DISCOVERED: std::sync::LazyLock<DiscoveryCache> = std::sync::LazyLock::new(Default::default);

/// The provider's client, from its discovery document.
async fn client(
    outbound: &OutboundClient,
    settings: &OAuthSettings,
    callback: &str,
    discovery: Discovery,
) -> Result<Client, IdpError> {
    let issuer = IssuerUrl::new(settings.issuer.clone())
        .map_err(|e| IdpError::Misconfigured(format!("issuer {:?}: {e}", settings.issuer)))?;
    outbound
        .destination_allowed(issuer.url())
        .map_err(IdpError::Misconfigured)?;
    let cached = (discovery == Discovery::Cached)
        .then(|| {
            let cache = DISCOVERED.lock().unwrap_or_else(|e| e.into_inner());
            cache
                .get(&settings.issuer)
                .filter(|(at, _)| at.elapsed() < DISCOVERY_TTL)
                .map(|(_, metadata)| metadata.clone())
        })
        .flatten();
    let metadata = match cached {
        Some(metadata) => metadata,
        None => {
            let http = Guarded::of(outbound);
            let discover = CoreProviderMetadata::discover_async(issuer, &http);
            let metadata = tokio::time::timeout(IDP_TIMEOUT, discover)
                .await
                .map_err(|_| {
                    IdpError::Unreachable("its discovery document did not come in time".into())
                })?
                .map_err(|e| IdpError::Unreachable(format!("discovery failed: {}", chain(&e))))?;
            let mut cache = DISCOVERED.lock().unwrap_or_else(|e| e.into_inner());
            if cache.len() >= MAX_CACHED_ISSUERS {
                cache.clear();
            }
            cache.insert(
                settings.issuer.clone(),
                (std::time::Instant::now(), metadata.clone()),
            );
            metadata
        }
    };
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
/// The answer is read up to [`MAX_IDP_RESPONSE_BYTES`], never further.
async fn send(
    http: &Guarded,
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, GuardError> {
    let url = url::Url::parse(&request.uri().to_string())
        .map_err(|e| GuardError(format!("{}: {e}", request.uri())))?;
    crate::capabilities::outbound::destination_allowed(http.allow_private, &url)
        .map_err(GuardError)?;
    let request = reqwest::Request::try_from(request).map_err(|e| GuardError(chain(&e)))?;
    let mut response = http
        .client
        .execute(request)
        .await
        .map_err(|e| GuardError(chain(&e)))?;
    let too_large = || {
        GuardError(format!(
            "{url} answered more than {} KiB",
            MAX_IDP_RESPONSE_BYTES / 1024
        ))
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_IDP_RESPONSE_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut answer = http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| GuardError(chain(&e)))? {
        if body.len() + chunk.len() > MAX_IDP_RESPONSE_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    answer.body(body).map_err(|e| GuardError(chain(&e)))
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
