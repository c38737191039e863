//! OAuth2 mode's records: the SQL both backends share (`registry/oauth_sql.rs`, `registry/oauth_tokens_sql.rs`).

use super::PgStore;
use crate::registry::oauth::OAuthStore;

impl PgStore {
    crate::registry::oauth_tokens_sql::oauth_token_pair!();
}

impl OAuthStore for PgStore {
    crate::registry::oauth_sql::oauth_store!();
    crate::registry::oauth_tokens_sql::oauth_token_store!();
}
