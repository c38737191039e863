//! Why a storage operation failed, in terms every backend can produce: no
//! backend's own error types appear here, so the storage traits stay
//! backend-neutral. Each backend converts its errors at its own edge (the
//! SQLite one in `sqlite/mod.rs`).

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
    /// A quota would be exceeded.
    #[error("quota exceeded: {0}")]
    Quota(String),
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
