//! The connection cap: the open-file limit raised at start, and the cap kept
//! under it with room for everything else the server opens.

/// Descriptors kept out of the connection cap for everything else the server
/// opens (SQLite and its journal, module files, memory images, outbound calls,
/// the runtime's own): at least this many, or a quarter of the limit.
pub const FD_RESERVE_MIN: u64 = 256;

/// The fewest connections the cap allows, however low the open-file limit.
const MIN_CONNECTIONS: u64 = 16;

/// The process's open-file limit after [`raise_fd_limit`]; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    /// The soft limit now in force.
    pub soft: Option<u64>,
    /// The hard limit (the most the soft limit may be raised to).
    pub hard: Option<u64>,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, as servers should: the
/// soft default (often 1024) is sized for interactive programs. Returns the
/// limit now in force; failing to raise it is logged, not fatal.
pub fn raise_fd_limit() -> FdLimit {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let before = getrlimit(Resource::Nofile);
    if before.current != before.maximum {
        let raised = Rlimit {
            current: before.maximum,
            maximum: before.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => tracing::info!(
                from = ?before.current,
                to = ?before.maximum,
                "raised the open-file limit to its hard limit"
            ),
            Err(error) => tracing::warn!(
                soft = ?before.current,
                hard = ?before.maximum,
                %error,
                "could not raise the open-file limit; the connection cap follows the soft limit"
            ),
        }
    }
    let now = getrlimit(Resource::Nofile);
    FdLimit {
        soft: now.current,
        hard: now.maximum,
    }
}

/// The connection cap in force: what the operator asked for, but never more
/// than the soft open-file limit less a reserve (a quarter of it, at least
/// [`FD_RESERVE_MIN`]) for everything else the server opens.
pub fn connection_cap(requested: u64, soft_limit: Option<u64>) -> u64 {
    let requested = requested.max(1);
    match soft_limit {
        None => requested,
        Some(soft) => {
            let reserve = (soft / 4).max(FD_RESERVE_MIN);
            requested.min(soft.saturating_sub(reserve).max(MIN_CONNECTIONS))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_under_the_open_file_limit() {
        assert_eq!(connection_cap(4096, Some(1024)), 768);
        assert_eq!(connection_cap(100, Some(1024)), 100);
        assert_eq!(connection_cap(4096, Some(1_048_576)), 4096);
        assert_eq!(connection_cap(4096, None), 4096);
        assert_eq!(connection_cap(4096, Some(100)), MIN_CONNECTIONS);
    }
}
