//! What OAuth2 mode keeps (docs/architecture.md#oauth2-mode): each tenant's
//! OAuth2 client (the Client ID and hashed Client Secret Workfront is given,
//! Workfront's redirect URI, and the tenant's OpenID Connect identity
//! provider), sign-ins in progress and authorization codes (one-time,
//! short-lived, hashed), and the access and refresh tokens Workfront holds
//! for each user (opaque, hashed, grouped in families). Both backends
//! implement [`OAuthStore`] with the same SQL (`oauth_sql.rs`, `oauth_tokens_sql.rs`), so a token
//! minted on one replica is good on every other at once.

use super::StoreFuture;
use super::TenantId;
use crate::names::TenantName;
use serde::Serialize;

/// Longest an access token may live, in seconds (a day).
pub const MAX_ACCESS_TOKEN_SECONDS: u32 = 86_400;
/// Default access-token lifetime: the hour Workfront's pages expect.
pub const DEFAULT_ACCESS_TOKEN_SECONDS: u32 = 3_600;
/// Longest a refresh token may live unused, in seconds (a year).
pub const MAX_REFRESH_TOKEN_SECONDS: u32 = 31_536_000;
/// Default refresh-token lifetime: 30 days unused.
pub const DEFAULT_REFRESH_TOKEN_SECONDS: u32 = 2_592_000;

/// A tenant's OAuth2 settings as the tenant sets them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthSettings {
    /// The **Workfront Redirect URI** shown read-only in Workfront's Custom
    /// Integration form: the only place Docket sends a browser back to.
    pub redirect_uri: String,
    /// The OpenID Connect issuer URL of the tenant's identity provider.
    pub issuer: String,
    /// The client id Docket has at that identity provider.
    pub idp_client_id: String,
    /// Its client secret; `None` on an update keeps the stored one.
    pub idp_client_secret: Option<String>,
    /// The ID-token claim that names the user to actions (`email` or `sub`, …).
    pub username_claim: String,
    /// Access-token lifetime in seconds.
    pub access_token_seconds: u32,
    /// Refresh-token lifetime in seconds.
    pub refresh_token_seconds: u32,
}

/// A tenant's OAuth2 client as stored: settings with the secrets Docket
/// holds (the IdP client secret opened, Workfront's client secret hashed).
#[derive(Debug, Clone)]
pub struct OAuthClient {
    /// The Client ID pasted into Workfront.
    pub client_id: String,
    /// SHA-256 of the Client Secret pasted into Workfront.
    pub secret_hash: super::keys::KeyHash,
    /// The secret's first characters, to tell secrets apart.
    pub secret_hint: String,
    /// The settings; `idp_client_secret` is always `Some`.
    pub settings: OAuthSettings,
    /// When the settings or the secret last changed (RFC 3339).
    pub updated_at: String,
}

/// Whether [`OAuthStore::configure_oauth`] made a new client.
#[derive(Debug, Clone)]
pub enum Configured {
    /// OAuth2 mode was off: a Client ID and Client Secret were made (the
    /// secret is shown this once).
    Created {
        /// The new Client ID.
        client_id: String,
        /// The new Client Secret, in plain text.
        client_secret: String,
    },
    /// The settings of an existing client were replaced; its Client ID and
    /// Client Secret stay.
    Updated,
}

/// What [`OAuthStore::take_pending`] found for a one-time value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// Not used before and not expired: its data, now spent.
    Fresh(String),
    /// Used before (a replay).
    Spent,
    /// No such value for this tenant, or it expired.
    Missing,
}

/// The kinds of one-time values a sign-in goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingKind {
    /// A sign-in sent to the identity provider, keyed by the `state` Docket
    /// gave it.
    SignIn,
    /// A signed-in user at the consent page, keyed by the form's id.
    Consent,
    /// An authorization code handed to Workfront.
    Code,
}

impl PendingKind {
    /// The kind as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            PendingKind::SignIn => "sign-in",
            PendingKind::Consent => "consent",
            PendingKind::Code => "code",
        }
    }
}

/// Whose tokens [`OAuthStore::issue_tokens`] makes.
#[derive(Debug, Clone)]
pub struct NewGrant<'a> {
    /// The tenant's immutable id: tokens die with this incarnation.
    pub tenant_id: &'a TenantId,
    /// The name actions see (`username`).
    pub username: &'a str,
    /// The identity provider's subject for the user.
    pub subject: &'a str,
    /// The family the tokens belong to (the authorization code's hash for
    /// a first grant), revoked together.
    pub family: &'a str,
    /// Access-token lifetime in seconds.
    pub access_seconds: u32,
    /// Refresh-token lifetime in seconds.
    pub refresh_seconds: u32,
}

/// A new access token and refresh token, in plain text this once.
#[derive(Debug, Clone, Serialize)]
pub struct TokenPair {
    /// The opaque access token (`Authorization: Bearer`).
    pub access_token: String,
    /// The refresh token, good once.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u32,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone)]
pub enum Refreshed {
    /// A new pair; the presented refresh token is spent.
    Rotated(TokenPair),
    /// The token was already spent: its whole family is revoked now.
    Reused,
    /// Unknown, expired, revoked, or another tenant's.
    Invalid,
}

/// The grant behind a presented access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerGrant {
    /// The tenant incarnation the token was issued for.
    pub tenant_id: TenantId,
    /// The user's name, as actions see it.
    pub username: String,
    /// When the token expires (ms since the epoch).
    pub expires_ms: i64,
}

/// A user with live tokens, for the admin API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectedUser {
    /// The name actions see.
    pub username: String,
    /// The identity provider's subject.
    pub subject: String,
    /// Live grants (one per Workfront connection of the user).
    pub grants: u32,
    /// When the first of them was made (RFC 3339).
    pub connected_at: String,
    /// When a token of theirs was last issued (RFC 3339).
    pub last_issued_at: String,
}

/// OAuth2 mode's records, per tenant. Every plain secret (client secret,
/// codes, tokens) is stored as its SHA-256 only.
pub trait OAuthStore: Send + Sync {
    /// The tenant's OAuth2 client; `None` while OAuth2 mode is off.
    fn oauth_client<'a>(&'a self, tenant: &'a TenantName) -> StoreFuture<'a, Option<OAuthClient>>;
    /// Turns OAuth2 mode on with these settings, or replaces them.
    fn configure_oauth<'a>(
        &'a self,
        tenant: &'a TenantName,
        settings: &'a OAuthSettings,
    ) -> StoreFuture<'a, Configured>;
    /// A new Client Secret (the old one stops working at once), returned once;
    /// [`StoreError::OAuthOff`](super::StoreError::OAuthOff) while OAuth2 mode is off.
    fn rotate_oauth_secret<'a>(&'a self, tenant: &'a TenantName) -> StoreFuture<'a, String>;
    /// Turns OAuth2 mode off: the client, sign-ins in progress and every
    /// token go.
    fn disable_oauth<'a>(&'a self, tenant: &'a TenantName) -> StoreFuture<'a, ()>;
    /// Keeps a one-time value (hashed) with its data for `ttl_ms`.
    fn put_pending<'a>(
        &'a self,
        tenant: &'a TenantName,
        kind: PendingKind,
        value: &'a str,
        data: &'a str,
        ttl_ms: i64,
    ) -> StoreFuture<'a, ()>;
    /// How many one-time values of `kind` the tenant has that are neither
    /// spent nor expired.
    fn live_pending<'a>(
        &'a self,
        tenant: &'a TenantName,
        kind: PendingKind,
    ) -> StoreFuture<'a, u64>;
    /// Spends a one-time value: exactly one caller, on any replica, gets
    /// [`Taken::Fresh`].
    fn take_pending<'a>(
        &'a self,
        tenant: &'a TenantName,
        kind: PendingKind,
        value: &'a str,
    ) -> StoreFuture<'a, Taken>;
    /// Makes an access token and a refresh token for a user.
    fn issue_tokens<'a>(
        &'a self,
        tenant: &'a TenantName,
        grant: NewGrant<'a>,
    ) -> StoreFuture<'a, TokenPair>;
    /// Spends a refresh token for a new pair in the same family; a spent
    /// one revokes the family.
    fn refresh_tokens<'a>(
        &'a self,
        tenant: &'a TenantName,
        tenant_id: &'a TenantId,
        refresh_token: &'a str,
        access_seconds: u32,
        refresh_seconds: u32,
    ) -> StoreFuture<'a, Refreshed>;
    /// The grant behind an access token of this tenant, expired or not;
    /// `None` if unknown or revoked.
    fn bearer<'a>(
        &'a self,
        tenant: &'a TenantName,
        access_token: &'a str,
    ) -> StoreFuture<'a, Option<BearerGrant>>;
    /// Revokes every token of a family; returns how many went.
    fn revoke_family<'a>(&'a self, tenant: &'a TenantName, family: &'a str)
    -> StoreFuture<'a, u64>;
    /// Users with live refresh tokens, by name.
    fn connected_users<'a>(&'a self, tenant: &'a TenantName)
    -> StoreFuture<'a, Vec<ConnectedUser>>;
    /// Revokes one user's tokens (`Some`) or everyone's (`None`); returns
    /// how many grants (families) went.
    fn revoke_user_tokens<'a>(
        &'a self,
        tenant: &'a TenantName,
        username: Option<&'a str>,
    ) -> StoreFuture<'a, u64>;
}

/// A new opaque secret: `prefix` and 192 random bits in hex.
pub fn new_opaque(prefix: &str) -> String {
    format!("{prefix}{}", hex::encode(rand::random::<[u8; 24]>()))
}
