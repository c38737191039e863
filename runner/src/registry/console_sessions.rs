//! The web console's browser sessions (docs/architecture.md#the-console):
//! one row per signed-in browser, in the database every replica shares, so
//! a session made on one replica is good on every other and a sign-out
//! holds everywhere at once. The cookie's value and the token signed in with
//! are kept as SHA-256 only; both backends run the same SQL
//! ([`console_session_store`]).

use super::StoreFuture;
use super::keys::KeyHash;
use crate::names::TenantName;

/// A session as stored, found by the hash of its cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// The tenant it was signed in to; `None` for the operator.
    pub tenant: Option<TenantName>,
    /// SHA-256 of the token signed in with: the session lasts only as long
    /// as that token is still the tenant's (or the operator's).
    pub token_hash: KeyHash,
    /// The value every request that changes something must echo in
    /// `X-CSRF-Token`.
    pub csrf: String,
    /// When it ends (ms since the epoch).
    pub expires_ms: i64,
}

/// The web console's sessions.
pub trait ConsoleSessionStore: Send + Sync {
    /// Keeps a new session under the hash of its cookie value; expired
    /// sessions are swept on the way.
    fn create_console_session<'a>(
        &'a self,
        cookie_hash: &'a KeyHash,
        session: &'a ConsoleSession,
    ) -> StoreFuture<'a, ()>;
    /// The unexpired session of this cookie hash.
    fn console_session<'a>(
        &'a self,
        cookie_hash: &'a KeyHash,
    ) -> StoreFuture<'a, Option<ConsoleSession>>;
    /// Ends a session; whether there was one.
    fn end_console_session<'a>(&'a self, cookie_hash: &'a KeyHash) -> StoreFuture<'a, bool>;
}

/// [`ConsoleSessionStore`] in the SQL both backends share, placeholders
/// numbered by [`Dialect::sql`](super::shared_sql::Dialect::sql).
macro_rules! console_session_store {
    () => {
        fn create_console_session<'a>(
            &'a self,
            cookie_hash: &'a $crate::registry::keys::KeyHash,
            session: &'a $crate::registry::console_sessions::ConsoleSession,
        ) -> $crate::registry::StoreFuture<'a, ()> {
            Box::pin(async move {
                if let Some(tenant) = &session.tenant {
                    self.require_tenant(tenant)?;
                }
                let sweep = <Self as $crate::registry::shared_sql::Dialect>::sql(
                    "DELETE FROM console_sessions WHERE expires_ms <= ?",
                );
                sqlx::query(&sweep)
                    .bind($crate::registry::records::now_ms())
                    .execute(&self.pool)
                    .await?;
                let insert = <Self as $crate::registry::shared_sql::Dialect>::sql(concat!(
                    "INSERT INTO console_sessions (hash, tenant, token_hash, csrf, expires_ms) ",
                    "VALUES (?, ?, ?, ?, ?)"
                ));
                sqlx::query(&insert)
                    .bind(cookie_hash.to_hex())
                    .bind(session.tenant.as_ref().map(|t| t.as_str().to_owned()))
                    .bind(session.token_hash.to_hex())
                    .bind(&session.csrf)
                    .bind(session.expires_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            })
        }

        fn console_session<'a>(
            &'a self,
            cookie_hash: &'a $crate::registry::keys::KeyHash,
        ) -> $crate::registry::StoreFuture<
            'a,
            Option<$crate::registry::console_sessions::ConsoleSession>,
        > {
            Box::pin(async move {
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(concat!(
                    "SELECT tenant, token_hash, csrf, expires_ms FROM console_sessions ",
                    "WHERE hash = ? AND expires_ms > ?"
                ));
                let row: Option<(Option<String>, String, String, i64)> = sqlx::query_as(&text)
                    .bind(cookie_hash.to_hex())
                    .bind($crate::registry::records::now_ms())
                    .fetch_optional(&self.pool)
                    .await?;
                let Some((tenant, token_hash, csrf, expires_ms)) = row else {
                    return Ok(None);
                };
                let malformed = || {
                    $crate::registry::StoreError::Database("a malformed console session row".into())
                };
                let tenant = tenant
                    .map(|name| $crate::names::TenantName::new(name).map_err(|_| malformed()))
                    .transpose()?;
                let token_hash =
                    $crate::registry::keys::KeyHash::from_hex(&token_hash).ok_or_else(malformed)?;
                Ok(Some($crate::registry::console_sessions::ConsoleSession {
                    tenant,
                    token_hash,
                    csrf,
                    expires_ms,
                }))
            })
        }

        fn end_console_session<'a>(
            &'a self,
            cookie_hash: &'a $crate::registry::keys::KeyHash,
        ) -> $crate::registry::StoreFuture<'a, bool> {
            Box::pin(async move {
                let text = <Self as $crate::registry::shared_sql::Dialect>::sql(
                    "DELETE FROM console_sessions WHERE hash = ?",
                );
                let done = sqlx::query(&text)
                    .bind(cookie_hash.to_hex())
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            })
        }
    };
}

pub(crate) use console_session_store;
