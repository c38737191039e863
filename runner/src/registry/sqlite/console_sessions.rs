//! The web console's sessions: the SQL both backends share (`registry/console_sessions.rs`).

use crate::registry::console_sessions::ConsoleSessionStore;

impl ConsoleSessionStore for crate::registry::store::SqliteStore {
    crate::registry::console_sessions::console_session_store!();
}
