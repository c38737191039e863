//! The browser steps of OAuth2 mode: Workfront's hand-off (`authorize`),
//! the identity provider's return (`idp_returned`) and the consent form
//! (`consent`), each spending the one-time value the step before kept, and
//! the cookie that binds a sign-in to its browser.

use super::idp;
use super::{CodeData, OAuthUrls, WorkfrontRequest};
use crate::app::App;
use crate::names::TenantName;
use crate::registry::keys::KeyHash;
use crate::registry::oauth::{OAuthClient, PendingKind, Taken, new_opaque};
use crate::registry::{StoreError, Tenant};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// How long a sign-in may take from Workfront's hand-off to consent.
const SIGN_IN_TTL_MS: i64 = 10 * 60 * 1000;

/// How long an authorization code is good for (Workfront exchanges it at once).
const CODE_TTL_MS: i64 = 2 * 60 * 1000;

/// Longest `state` Docket carries back to Workfront, in bytes.
const MAX_STATE_LEN: usize = 2048;

/// Sign-ins one tenant may have in progress at once (each lives at most
/// [`SIGN_IN_TTL_MS`]): anonymous hand-offs cannot fill the database.
const MAX_SIGN_INS_IN_PROGRESS: u64 = 10_000;

/// The prefix of the cookies that bind sign-ins to their browser: one per
/// sign-in, so two at once in one browser (two tabs, a retry) do not undo
/// each other.
pub const BINDING_COOKIE: &str = "docket_oauth_";

/// The binding cookie's name for the sign-in the identity provider knows by
/// `state`.
pub fn binding_cookie_name(state: &str) -> String {
    format!("{BINDING_COOKIE}{}", &KeyHash::of(state).to_hex()[..16])
}

/// Reads a cookie of the request by name.
pub type Cookies<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// Why a browser step of the flow stopped, worded for the user's page.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// No such tenant, or it has not turned OAuth2 mode on.
    #[error("this sign-in link is not set up: there is no OAuth2 integration at this address")]
    NotSetUp,
    /// The operator suspended the tenant.
    #[error("this integration is suspended; ask your Workfront administrator")]
    Suspended,
    /// A request that is not what Workfront sends.
    #[error("{0}")]
    BadRequest(String),
    /// The one-time value is unknown, expired, altered or spent.
    #[error("{0}")]
    Expired(&'static str),
    /// The sign-in was started in another browser.
    #[error(
        "this sign-in was started in another browser (or its cookie was blocked); start again from Workfront in this browser"
    )]
    OtherBrowser,
    /// The identity provider failed (the detail goes to the log).
    #[error("{}", idp_wording(.0))]
    Idp(#[from] idp::IdpError),
    /// The store failed (the detail goes to the log).
    #[error("Docket could not keep this sign-in just now; try again in a minute")]
    Store(#[from] StoreError),
    /// Too many sign-ins of this integration are in progress.
    #[error("too many sign-ins to this integration are in progress; try again in a few minutes")]
    Busy,
}

/// What the user's page says of an identity provider's failure: whose
/// problem it is, never the internals.
fn idp_wording(err: &idp::IdpError) -> &'static str {
    match err {
        idp::IdpError::Misconfigured(_) | idp::IdpError::Unreachable(_) => {
            "your organization's sign-in service could not be reached or is not set up correctly; tell your Workfront administrator"
        }
        idp::IdpError::Unverified(_) => {
            "your organization's sign-in service did not confirm who you are, so Docket cannot connect you; tell your Workfront administrator"
        }
    }
}

impl FlowError {
    /// The detail for the log, beyond what the page says.
    pub fn detail(&self) -> Option<String> {
        match self {
            FlowError::Idp(err) => Some(err.to_string()),
            FlowError::Store(err) => Some(err.to_string()),
            _ => None,
        }
    }

    /// The HTTP status of the error page.
    pub fn status(&self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            FlowError::NotSetUp => StatusCode::NOT_FOUND,
            FlowError::Suspended => StatusCode::FORBIDDEN,
            FlowError::BadRequest(_) | FlowError::Expired(_) | FlowError::OtherBrowser => {
                StatusCode::BAD_REQUEST
            }
            FlowError::Idp(idp::IdpError::Misconfigured(_) | idp::IdpError::Unreachable(_)) => {
                StatusCode::BAD_GATEWAY
            }
            FlowError::Idp(idp::IdpError::Unverified(_)) => StatusCode::FORBIDDEN,
            FlowError::Store(StoreError::Unavailable(_)) | FlowError::Busy => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            FlowError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A sign-in sent to the identity provider.
#[derive(Debug, Serialize, Deserialize)]
struct SignInData {
    workfront: WorkfrontRequest,
    nonce: String,
    pkce_verifier: String,
    browser: String,
}

/// A signed-in user at the consent page.
#[derive(Debug, Serialize, Deserialize)]
struct ConsentData {
    workfront: WorkfrontRequest,
    username: String,
    subject: String,
    browser: String,
    cookie: String,
}

/// The hand-off: where the browser goes next, and the cookie binding it.
#[derive(Debug)]
pub struct HandOff {
    /// The identity provider's authorization URL.
    pub idp_url: String,
    /// The host shown on the hand-off page.
    pub idp_host: String,
    /// The binding cookie's value.
    pub browser: String,
    /// The binding cookie's name.
    pub cookie: String,
    /// Whom the page is for.
    pub integration: String,
}

/// The consent page's content.
#[derive(Debug)]
pub struct ConsentPage {
    /// The form's one-time id (its CSRF token).
    pub consent: String,
    /// The signed-in user.
    pub username: String,
    /// The tenant's display name.
    pub integration: String,
    /// Where the browser goes back to (Workfront's host).
    pub workfront_host: String,
}

/// What the callback leads to.
#[derive(Debug)]
pub enum AfterIdp {
    /// The user signed in: ask for consent.
    Consent(ConsentPage),
    /// The identity provider refused: back to Workfront with the error.
    BackToWorkfront(String),
}

/// The tenant and its OAuth2 client, for a browser step.
async fn client_of(app: &App, tenant: &str) -> Result<(Arc<Tenant>, OAuthClient), FlowError> {
    let found = app.tenant(tenant).ok_or(FlowError::NotSetUp)?;
    if found.suspended {
        return Err(FlowError::Suspended);
    }
    let client = app
        .store
        .oauth_client(&found.name)
        .await?
        .ok_or(FlowError::NotSetUp)?;
    Ok((found, client))
}

fn integration_name(tenant: &Tenant) -> String {
    tenant
        .display_name
        .clone()
        .unwrap_or_else(|| tenant.name.to_string())
}

/// `GET …/oauth/authorize`: checks what Workfront sent and prepares the
/// sign-in at the identity provider.
pub async fn authorize(
    app: &App,
    tenant: &str,
    params: &BTreeMap<String, String>,
) -> Result<HandOff, FlowError> {
    let (tenant, client) = client_of(app, tenant).await?;
    let settings = &client.settings;
    let state = params
        .get("state")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            FlowError::BadRequest(
                "the sign-in link has no `state`; start the connection from Workfront".into(),
            )
        })?;
    // Fixed wording: nothing the request carries is shown back, and the
    // integration's own Client ID is not revealed.
    let refuse = |why: &str| Err(FlowError::BadRequest(why.to_owned()));
    if state.len() > MAX_STATE_LEN {
        return refuse("the sign-in link's `state` is too long");
    }
    if params
        .get("client_id")
        .is_some_and(|id| id != &client.client_id)
    {
        return refuse(
            "the sign-in link names another client_id than this integration's; check the Client ID in Workfront's integration",
        );
    }
    if params
        .get("redirect_uri")
        .is_some_and(|uri| uri != &settings.redirect_uri)
    {
        return refuse(
            "the sign-in link's redirect_uri is not the Workfront Redirect URI this integration has registered; Docket redirects nowhere else",
        );
    }
    if params
        .get("response_type")
        .is_some_and(|kind| kind != "code")
    {
        return refuse("the sign-in link's response_type is not supported; Workfront uses `code`");
    }
    let code_challenge = params.get("code_challenge").cloned();
    let code_challenge_method = params.get("code_challenge_method").cloned();
    if code_challenge_method
        .as_deref()
        .is_some_and(|m| m != "S256" && m != "plain")
    {
        return refuse("the sign-in link's code_challenge_method is not supported (S256 or plain)");
    }
    if code_challenge_method.is_some() && code_challenge.is_none() {
        return refuse("the sign-in link has a code_challenge_method but no code_challenge");
    }
    // RFC 7636 §4.2: 43 to 128 unreserved characters.
    let challenge_ok = code_challenge.as_deref().is_none_or(|c| {
        (43..=128).contains(&c.len())
            && c.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    });
    if !challenge_ok {
        return refuse("the sign-in link's code_challenge is not 43 to 128 unreserved characters");
    }
    if app
        .store
        .live_pending(&tenant.name, PendingKind::SignIn)
        .await?
        >= MAX_SIGN_INS_IN_PROGRESS
    {
        return Err(FlowError::Busy);
    }
    let urls = OAuthUrls::of(app, tenant.name.as_str());
    let request = idp::begin(
        &app.services.outbound,
        settings,
        &urls.identity_provider_redirect_uri,
    )
    .await?;
    let browser = new_opaque("");
    let data = SignInData {
        workfront: WorkfrontRequest {
            redirect_uri: settings.redirect_uri.clone(),
            state: state.clone(),
            code_challenge,
            code_challenge_method,
        },
        nonce: request.nonce,
        pkce_verifier: request.pkce_verifier,
        browser: KeyHash::of(&browser).to_hex(),
    };
    put(
        app,
        &tenant.name,
        PendingKind::SignIn,
        &request.state,
        &data,
        SIGN_IN_TTL_MS,
    )
    .await?;
    let idp_host = url::Url::parse(&request.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    Ok(HandOff {
        idp_url: request.url,
        idp_host,
        browser,
        cookie: binding_cookie_name(&request.state),
        integration: integration_name(&tenant),
    })
}

/// `GET …/oauth/callback`: the identity provider sent the browser back.
pub async fn idp_returned(
    app: &App,
    tenant: &str,
    params: &BTreeMap<String, String>,
    cookies: Cookies<'_>,
) -> Result<AfterIdp, FlowError> {
    let (tenant, client) = client_of(app, tenant).await?;
    let state = params
        .get("state")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            FlowError::BadRequest("the identity provider's answer has no `state`".into())
        })?;
    let data: SignInData = take(
        app,
        &tenant.name,
        PendingKind::SignIn,
        state,
        "this sign-in is unknown, expired, already finished, or its state was altered; start again from Workfront",
    )
    .await?;
    let cookie = binding_cookie_name(state);
    check_browser(&data.browser, cookies(&cookie).as_deref())?;
    if let Some(error) = params.get("error") {
        tracing::info!(tenant = %tenant.name, error, description = params.get("error_description").map(String::as_str), "the identity provider refused a sign-in");
        return Ok(AfterIdp::BackToWorkfront(workfront_redirect(
            &data.workfront,
            &[("error", "access_denied")],
        )));
    }
    let code = params
        .get("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            FlowError::BadRequest(
                "the identity provider's answer has neither `code` nor `error`".into(),
            )
        })?;
    let urls = OAuthUrls::of(app, tenant.name.as_str());
    let user = idp::finish(
        &app.services.outbound,
        &client.settings,
        &urls.identity_provider_redirect_uri,
        code,
        &data.nonce,
        &data.pkce_verifier,
    )
    .await
    .inspect_err(|err| tracing::warn!(tenant = %tenant.name, error = %err, "a sign-in at the identity provider failed"))?;
    let consent = new_opaque("");
    let workfront_host = url::Url::parse(&data.workfront.redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let next = ConsentData {
        workfront: data.workfront,
        username: user.username.clone(),
        subject: user.subject,
        browser: data.browser,
        cookie,
    };
    put(
        app,
        &tenant.name,
        PendingKind::Consent,
        &consent,
        &next,
        SIGN_IN_TTL_MS,
    )
    .await?;
    Ok(AfterIdp::Consent(ConsentPage {
        consent,
        username: user.username,
        integration: integration_name(&tenant),
        workfront_host,
    }))
}

/// `POST …/oauth/consent`: the user allowed or denied; returns where the
/// browser goes back to in Workfront, and the binding cookie now spent.
pub async fn consent(
    app: &App,
    tenant: &str,
    consent: &str,
    allow: bool,
    cookies: Cookies<'_>,
) -> Result<(String, String), FlowError> {
    let (tenant, _client) = client_of(app, tenant).await?;
    let data: ConsentData = take(
        app,
        &tenant.name,
        PendingKind::Consent,
        consent,
        "this consent form is unknown, expired or was already answered; start again from Workfront",
    )
    .await?;
    check_browser(&data.browser, cookies(&data.cookie).as_deref())?;
    if !allow {
        let back = workfront_redirect(&data.workfront, &[("error", "access_denied")]);
        return Ok((back, data.cookie));
    }
    let code = new_opaque("dac_");
    let grant = CodeData {
        workfront: data.workfront.clone(),
        username: data.username,
        subject: data.subject,
    };
    put(
        app,
        &tenant.name,
        PendingKind::Code,
        &code,
        &grant,
        CODE_TTL_MS,
    )
    .await?;
    tracing::info!(tenant = %tenant.name, user = %grant.username, "a user connected Workfront through OAuth2");
    Ok((
        workfront_redirect(&data.workfront, &[("code", &code)]),
        data.cookie,
    ))
}

fn check_browser(expected: &str, presented: Option<&str>) -> Result<(), FlowError> {
    let presented = presented
        .map(|b| KeyHash::of(b).to_hex())
        .unwrap_or_default();
    if bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        Ok(())
    } else {
        Err(FlowError::OtherBrowser)
    }
}

/// Workfront's redirect URI with `extra` and Workfront's own `state`.
fn workfront_redirect(request: &WorkfrontRequest, extra: &[(&str, &str)]) -> String {
    match url::Url::parse(&request.redirect_uri) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (key, value) in extra {
                    query.append_pair(key, value);
                }
                query.append_pair("state", &request.state);
            }
            url.to_string()
        }
        // Checked when it was configured; never reached.
        Err(_) => request.redirect_uri.clone(),
    }
}

async fn put<T: Serialize>(
    app: &App,
    tenant: &TenantName,
    kind: PendingKind,
    value: &str,
    data: &T,
    ttl_ms: i64,
) -> Result<(), StoreError> {
    let text = serde_json::to_string(data).expect("flow records serialize");
    app.store
        .put_pending(tenant, kind, value, &text, ttl_ms)
        .await
}

async fn take<T: for<'de> Deserialize<'de>>(
    app: &App,
    tenant: &TenantName,
    kind: PendingKind,
    value: &str,
    gone: &'static str,
) -> Result<T, FlowError> {
    match app.store.take_pending(tenant, kind, value).await? {
        Taken::Fresh(data) => serde_json::from_str(&data).map_err(|e| {
            FlowError::Store(StoreError::Database(format!("a malformed sign-in: {e}")))
        }),
        Taken::Spent | Taken::Missing => Err(FlowError::Expired(gone)),
    }
}
