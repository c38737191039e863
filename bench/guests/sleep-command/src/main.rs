//! Benchmark guest: sleeps (in the host, through `poll_oneoff`) for `ms`
//! milliseconds, default 1000, then succeeds. Stands in for an action waiting on
//! a remote service.

fn main() {
    docket_sdk::run_command(|req| {
        let ms = req.param("ms").and_then(|v| v.parse().ok()).unwrap_or(1000);
        std::thread::sleep(std::time::Duration::from_millis(ms));
        Ok(None)
    })
}
