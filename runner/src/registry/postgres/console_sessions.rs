//! The web console's sessions: the SQL both backends share (`registry/console_sessions.rs`).

use crate::registry::console_sessions::ConsoleSessionStore;

impl ConsoleSessionStore for crate::registry::postgres::PgStore {
    crate::registry::console_sessions::console_session_store!();
}
