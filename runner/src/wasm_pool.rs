//! The threads that run WebAssembly, apart from the threads that serve HTTP.
//!
//! Guests compute on their own Tokio runtime with a fixed number of threads
//! (by default one per core). The I/O runtime only accepts connections,
//! parses requests, checks keys and writes answers, so however many guests
//! compute, `serviceInfo`, the admin API and the first steps of every webhook
//! call keep their threads; within the pool, tenants take turns
//! ([`crate::engine::cpu`]).

use std::future::Future;
use tokio::runtime::Runtime;
use tokio::task::AbortHandle;

/// A runtime for guests; see the module docs.
pub struct WasmPool {
    /// `Some` until drop, which must not block inside the I/O runtime.
    runtime: Option<Runtime>,
    /// How many threads it has.
    threads: usize,
}

impl WasmPool {
    /// A pool of `threads` threads (at least one).
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("docket-wasm")
            .enable_time()
            .enable_io()
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
            threads,
        })
    }

    /// The number of threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `task` on the pool and waits for it. Dropping the returned future
    /// (the client went away) cancels the task, so an abandoned guest stops
    /// at once instead of running to its time limit.
    pub async fn run<T: Send + 'static>(
        &self,
        task: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, tokio::task::JoinError> {
        let runtime = self.runtime.as_ref().expect("present until drop");
        let handle = runtime.spawn(task);
        let _cancel = AbortOnDrop(handle.abort_handle());
        handle.await
    }
}

impl Drop for WasmPool {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Aborts a spawned task when its awaiting side is dropped.
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    /// A caller that stops waiting cancels the guest's task.
    #[tokio::test]
    async fn dropping_the_caller_cancels_the_task() {
        let pool = WasmPool::new(1).unwrap();
        let finished = Arc::new(AtomicBool::new(false));
        let flag = finished.clone();
        let run = pool.run(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            flag.store(true, Ordering::SeqCst);
        });
        assert!(
            tokio::time::timeout(Duration::from_millis(20), run)
                .await
                .is_err()
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(!finished.load(Ordering::SeqCst), "the task ran on");
    }
}
