//! Waiting for a start's warm, which runs beside the listener
//! (docs/architecture.md, "Warming").

use super::Server;
use std::time::{Duration, Instant};

/// Waits until the start's warm has finished, as its log line says, so
/// what it loaded can be counted.
pub async fn until_warmed(server: &Server) {
    let started = Instant::now();
    while !server
        .stderr()
        .contains("live versions called lately loaded")
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the warm did not finish:\n{}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
