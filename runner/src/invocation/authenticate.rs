//! Who is calling: the tenant, and the caller proven to be allowed to call
//! it, by each [`Credential`] (an API key, an OAuth2 access token, a signed
//! document link, the console's trial proof).

use super::{
    Call, Caller, Credential, Endpoint, Presented, Refusal, Refused, console_trial, links,
};
use crate::app::App;
use crate::registry::{Tenant, keys};

/// The tenant, and the caller proven to be allowed to call it. Until then
/// nothing of the tenant, not even its failure word, is shown.
pub(super) async fn authenticate(app: &App, call: &Call<'_>) -> Result<Caller, Refused> {
    let anonymous = |refusal| Refused::anonymous(refusal);
    let Some(tenant) = app.tenant(call.tenant) else {
        return Err(anonymous(Refusal::UnknownTenant(call.tenant.to_owned())));
    };
    match call.credential {
        Credential::Bearer(Presented::Missing | Presented::Unreadable) => {
            return Err(anonymous(Refusal::Unauthenticated(
                "malformed Authorization header; Workfront sends Bearer <access token>",
            )));
        }
        Credential::Bearer(Presented::Value(token)) => {
            let username = verify_access_token(app, &tenant, token)
                .await
                .map_err(anonymous)?;
            return Ok(Caller {
                tenant,
                username,
                username_verified: true,
            });
        }
        Credential::Link(link) => {
            let now = crate::registry::store::now_ms().max(0) as u64 / 1000;
            links::verify(&app.store.link_key(), tenant.name.as_str(), &link, now)
                .map_err(|why| anonymous(Refusal::Unauthenticated(why)))?;
            let Endpoint::Document {
                call: crate::engine::provider::call::ProviderCall::Download { id },
                ..
            } = &call.endpoint
            else {
                return Err(anonymous(Refusal::Unauthenticated(
                    "a document link opens a download only",
                )));
            };
            if id != link.id {
                return Err(anonymous(Refusal::Unauthenticated("invalid document link")));
            }
            return Ok(Caller {
                tenant,
                username: String::new(),
                username_verified: false,
            });
        }
        Credential::Console(presented) => {
            let proven = matches!(presented, Presented::Value(proof)
                if console_trial::verify(&tenant.id, proof));
            if !proven {
                return Err(anonymous(Refusal::Unauthenticated("invalid console trial")));
            }
        }
        Credential::ApiKey(Presented::Missing) => {
            return Err(anonymous(Refusal::Unauthenticated("missing apiKey header")));
        }
        Credential::ApiKey(Presented::Unreadable) => {
            return Err(anonymous(Refusal::Unauthenticated("invalid apiKey")));
        }
        Credential::ApiKey(Presented::Value(key)) => {
            if !keys::matches_any(&tenant.webhook_keys, key) {
                return Err(anonymous(Refusal::Unauthenticated("invalid apiKey")));
            }
        }
    }
    Ok(Caller {
        tenant,
        username: call.username.unwrap_or_default().to_owned(),
        username_verified: false,
    })
}

/// The user an access token of `tenant` was issued to, or why it is refused
/// (the 403 that makes Workfront refresh it).
async fn verify_access_token(app: &App, tenant: &Tenant, token: &str) -> Result<String, Refusal> {
    let grant = app
        .store
        .bearer(&tenant.name, token)
        .await
        .map_err(|err| {
            tracing::error!(tenant = %tenant.name, error = %err, "an access token could not be checked");
            Refusal::CredentialsUnavailable
        })?;
    let Some(grant) = grant.filter(|g| g.tenant_id == tenant.id) else {
        return Err(Refusal::Unauthenticated("invalid or revoked access token"));
    };
    if grant.expires_ms <= crate::registry::store::now_ms() {
        return Err(Refusal::Unauthenticated(
            "the access token has expired; refresh it",
        ));
    }
    Ok(grant.username)
}
