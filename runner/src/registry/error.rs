//! Why a storage operation failed, in terms every backend can produce: no
//! backend's own error types appear in [`StoreError`], so the storage traits
//! stay backend-neutral. Both SQL backends speak sqlx, so its errors convert
//! here, once: a lost connection becomes [`StoreError::Unavailable`].

/// Why a store operation failed. The first variants are the caller's mistakes
/// (4xx); the last are the store's own (5xx).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A tenant of that name exists.
    #[error("tenant {0:?} already exists")]
    TenantExists(String),
    /// No such tenant.
    #[error("unknown tenant {0:?}")]
    UnknownTenant(String),
    /// No such action.
    #[error("unknown action {0:?}")]
    UnknownAction(String),
    /// No such version of an action.
    #[error("action {action:?} has no version {version}")]
    UnknownVersion {
        /// The action.
        action: String,
        /// The version asked for.
        version: u32,
    },
    /// No such key or token.
    #[error("unknown key {0:?}")]
    UnknownKey(String),
    /// No such secret.
    #[error("unknown secret {0:?}")]
    UnknownSecret(String),
    /// The tenant is managed from manifests, not the admin API (or the reverse).
    #[error("{0}")]
    Declarative(String),
    /// The tenant has not turned OAuth2 mode on.
    #[error("OAuth2 mode is off for this tenant; configure it first (PUT …/oauth)")]
    OAuthOff,
    /// A value the operation needs is missing or wrong.
    #[error("{0}")]
    Invalid(String),
    /// A quota would be exceeded.
    #[error("quota exceeded: {0}")]
    Quota(String),
    /// The database cannot be reached (down, restarting, or the network to
    /// it is); the operation was not applied and can be retried.
    #[error(
        "the database is unreachable ({0}); changes are refused until it is back, and live actions keep serving"
    )]
    Unavailable(String),
    /// The database failed; the backend's own message.
    #[error("database error: {0}")]
    Database(String),
    /// A migration failed; the backend's own message.
    #[error("database migration failed: {0}")]
    Migrate(String),
    /// A file under the data directory could not be read or written.
    #[error("data directory error: {0}")]
    Io(#[from] std::io::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        let unreachable = match &err {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            // Class 08 (connection exception) and 57P0x (the server is
            // shutting down, or starting and not yet accepting connections).
            sqlx::Error::Database(db) => db
                .code()
                .is_some_and(|code| code.starts_with("08") || code.starts_with("57P0")),
            _ => false,
        };
        if unreachable {
            StoreError::Unavailable(err.to_string())
        } else {
            StoreError::Database(err.to_string())
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::StoreError;

    #[test]
    fn a_lost_connection_is_unavailable_and_other_failures_are_not() {
        // What the pool and the wire say when the database is down or restarting.
        for lost in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into()),
        ] {
            assert!(
                matches!(StoreError::from(lost), StoreError::Unavailable(_)),
                "unavailable"
            );
        }
        assert!(matches!(
            StoreError::from(sqlx::Error::RowNotFound),
            StoreError::Database(_)
        ));
    }
}
