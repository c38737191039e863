//! Compile capacity, shared fairly between tenants.
//!
//! Compiling is the most expensive thing a tenant can ask of the server, and
//! the one it can repeat at will. So a compile:
//!
//! 1. is refused at once when the tenant's compiles failed too often or for
//!    too long lately (a fixed window per tenant; a compile stopped at the
//!    timeout counts its whole time), so a tenant cannot keep the compilers
//!    busy with modules that never deploy;
//! 2. passes the static checks ([`Engine::check`]) before it waits for
//!    anything, so a module that would be refused anyway costs a linear parse;
//! 3. waits for its tenant's turn (one compile per tenant at a time), then for
//!    one of the service's compile slots. The slots are handed out first come,
//!    first served, and each tenant has at most one compile in that line, so
//!    the line serves tenants round-robin: six uploads from one tenant put one
//!    compile ahead of another tenant's, never six;
//! 4. runs in a bounded worker process ([`CompileWorker`]) killed at the
//!    timeout, or, without one (tests, local tools), on a blocking thread.
//!
//! Under `--compile-tiers baseline,optimized` the compile a deploy waits for
//! is Winch's; when Winch cannot compile a module (a proposal it lacks),
//! Cranelift compiles it in the same slot and the deploy answer says so. The
//! optimized recompile of a version already serving is a background compile
//! ([`CompileQueue::compile_background`]): one at a time, beside the compile
//! slots so deploys never wait for it, under the same time and memory bounds
//! and priority, and its failures count against the tenant like any other.

use crate::engine::worker::CompileWorker;
use crate::engine::{Abi, Engine, LoadError, PreparedModule, Tier};
use crate::metrics::Metrics;
use crate::names::TenantName;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a compile was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// The module is not a usable action, or its compile failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The tenant's compiles failed too often lately; it must wait.
    #[error(
        "this tenant's failed compiles reached the limit of {failures} compiles or {seconds} s of \
         compiling per {window_s} s; try again in {retry_after_s} s"
    )]
    FailuresExceeded {
        /// Failures allowed per window.
        failures: u32,
        /// Seconds of failed compiling allowed per window.
        seconds: u64,
        /// The window, in seconds.
        window_s: u64,
        /// Seconds until the window ends.
        retry_after_s: u64,
    },
}

/// The operator's compile settings (`--compile-concurrency`,
/// `--tenant-compile-failures`, …).
#[derive(Debug, Clone)]
pub struct CompileSettings {
    /// Compiles that may run at once; the rest wait.
    pub concurrency: usize,
    /// Failed compiles one tenant may cause per window.
    pub failures: u32,
    /// Time one tenant's failed compiles may take per window.
    pub failure_time: Duration,
    /// The window the failures count in.
    pub failure_window: Duration,
    /// Where compiles run: `Some` in bounded worker processes, `None` in this
    /// process (tests and local tools).
    pub worker: Option<CompileWorker>,
    /// Longest a compile may take.
    pub timeout: Duration,
}

impl Default for CompileSettings {
    fn default() -> Self {
        Self {
            concurrency: 2,
            failures: 10,
            failure_time: Duration::from_secs(120),
            failure_window: Duration::from_secs(600),
            worker: None,
            timeout: Duration::from_secs(60),
        }
    }
}

/// Bounded, fair, rate-limited compiles; see the module docs.
pub struct CompileQueue {
    /// The service's compile slots.
    slots: Arc<Semaphore>,
    /// The one background compile's turn.
    background: Arc<Semaphore>,
    /// One permit per tenant: its place in the line for a slot.
    turns: Mutex<HashMap<TenantName, Arc<Semaphore>>>,
    /// Failed compiles per tenant in the current window.
    failures: Mutex<HashMap<TenantName, FailureWindow>>,
    /// Failures allowed per window.
    max_failures: u32,
    /// Time failed compiles may take per window.
    max_failure_time: Duration,
    /// The failure window.
    window: Duration,
    /// Where compiles run; `None`: in this process.
    worker: Option<CompileWorker>,
    /// Longest a compile may take.
    timeout: Duration,
    /// Where compile durations are recorded.
    metrics: Arc<Metrics>,
}

/// What a compile produced.
pub struct Compiled {
    /// The prepared module.
    pub module: PreparedModule,
    /// Its compiled artifact, for the cache.
    pub artifact: Vec<u8>,
}

/// One tenant's failed compiles since `started`, and the time they took.
#[derive(Debug, Clone, Copy)]
struct FailureWindow {
    started: Instant,
    count: u32,
    spent: Duration,
}

impl CompileQueue {
    /// A queue with the service's compile settings, recording in `metrics`.
    pub fn new(settings: &CompileSettings, metrics: Arc<Metrics>) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(settings.concurrency.max(1))),
            background: Arc::new(Semaphore::new(1)),
            turns: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            max_failures: settings.failures.max(1),
            max_failure_time: settings.failure_time,
            window: settings.failure_window,
            worker: settings.worker.clone(),
            timeout: settings.timeout,
            metrics,
        }
    }

    /// Validates and compiles `bytes` for `tenant` with the first tier of
    /// the operator's policy (falling back to Cranelift where Winch cannot).
    pub async fn compile(
        &self,
        engine: &Arc<Engine>,
        tenant: &TenantName,
        bytes: Vec<u8>,
    ) -> Result<Compiled, CompileError> {
        self.admit(tenant)?;
        let checker = engine.clone();
        let (bytes, checked) = tokio::task::spawn_blocking(move || {
            let checked = checker.check(&bytes);
            (bytes, checked)
        })
        .await
        .map_err(|e| LoadError::Engine(e.to_string()))?;
        let abi = checked?;
        let _turn = self.turn(tenant).await;
        let slot = Arc::new(self.slot().await);
        let started = Instant::now();
        let mut tier = engine.first_tier();
        let compiled = match self.compile_tier(engine, &bytes, abi, tier, &slot).await {
            // `--compile-tiers baseline` means Winch's code or none: what the
            // operator (and `make test`'s Winch pass) asked to run is what runs.
            Err(LoadError::Invalid(why)) if tier == Tier::Baseline && !engine.optimizes_later() => {
                Err(LoadError::Invalid(format!(
                    "{why} (the baseline compiler, Winch, cannot compile this module, and \
                     --compile-tiers baseline does not fall back to Cranelift)"
                )))
            }
            Err(LoadError::Invalid(why)) if tier == Tier::Baseline => {
                tracing::info!(tenant = %tenant, why = %why, "the baseline compiler cannot compile this module; using the optimizing one");
                tier = Tier::Optimized;
                self.compile_tier(engine, &bytes, abi, tier, &slot)
                    .await
                    .map(|(module, artifact)| Compiled {
                        module: module.with_baseline_unavailable(why),
                        artifact,
                    })
            }
            other => other.map(|(module, artifact)| Compiled { module, artifact }),
        };
        self.finish(tenant, started, tier, compiled.as_ref().map(|_| ()))?;
        Ok(compiled?)
    }

    /// Compiles bytes already deployed (so already checked, with `abi`) with
    /// the optimizing compiler, in the background: see the module docs.
    pub async fn compile_background(
        &self,
        engine: &Arc<Engine>,
        tenant: &TenantName,
        bytes: Vec<u8>,
        abi: Abi,
    ) -> Result<(PreparedModule, Vec<u8>), CompileError> {
        // A tenant whose compiles keep failing gets no more of them, in the
        // background either: its versions stay on baseline code meanwhile.
        self.admit(tenant)?;
        let turn = self
            .background
            .clone()
            .acquire_owned()
            .await
            .expect("never closed");
        let started = Instant::now();
        let compiled = self
            .compile_tier(engine, &bytes, abi, Tier::Optimized, &Arc::new(turn))
            .await;
        let outcome = compiled.as_ref().map(|_| ());
        let _ = self.finish(tenant, started, Tier::Optimized, outcome);
        Ok(compiled?)
    }

    /// Records a compile's time and outcome, and counts a failure against the tenant.
    fn finish(
        &self,
        tenant: &TenantName,
        started: Instant,
        tier: Tier,
        outcome: Result<(), &LoadError>,
    ) -> Result<(), LoadError> {
        self.metrics
            .compiled(started.elapsed(), outcome.is_ok(), tier.as_str());
        match outcome {
            Ok(()) => {
                tracing::debug!(tenant = %tenant, ms = started.elapsed().as_millis() as u64, "compiled");
                Ok(())
            }
            Err(err) => {
                tracing::info!(tenant = %tenant, error = %err, "compile failed");
                self.record_failure(tenant, started.elapsed());
                Err(err.clone())
            }
        }
    }

    /// One compile with one tier's compiler, holding `permit` (a slot, or
    /// the background turn): in a worker process when there is one, else on
    /// a blocking thread of this process. A compile on a thread cannot be
    /// interrupted: a timed-out one finishes in the background, still holding
    /// the permit, so it cannot be multiplied.
    async fn compile_tier(
        &self,
        engine: &Arc<Engine>,
        bytes: &[u8],
        abi: Abi,
        tier: Tier,
        permit: &Arc<OwnedSemaphorePermit>,
    ) -> Result<(PreparedModule, Vec<u8>), LoadError> {
        let joined = |e: tokio::task::JoinError| LoadError::Engine(e.to_string());
        let engine = engine.clone();
        match &self.worker {
            Some(worker) => {
                let artifact = worker
                    .compile(engine.settings(), bytes.to_vec(), abi, tier)
                    .await?;
                tokio::task::spawn_blocking(move || {
                    engine
                        .load_artifact(&artifact, abi, tier)
                        .map(|module| (module, artifact))
                })
                .await
                .map_err(joined)?
            }
            None => {
                let bytes = bytes.to_vec();
                let permit = permit.clone();
                let task = tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    let module = engine.compile_checked(&bytes, abi, tier)?;
                    let artifact = engine.artifact(&module)?;
                    Ok((module, artifact))
                });
                match tokio::time::timeout(self.timeout, task).await {
                    Ok(joined_task) => joined_task.map_err(joined)?,
                    Err(_) => Err(LoadError::CompileTimeout {
                        limit_ms: self.timeout.as_millis() as u64,
                    }),
                }
            }
        }
    }

    /// Forgets a tenant that was deleted (or deleted and made again): its
    /// failed compiles and its place in line, so a new tenant of the same
    /// name starts with a clean record. A compile of the old tenant still
    /// running keeps the turn it holds.
    pub fn forget(&self, tenant: &TenantName) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(tenant);
        self.turns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(tenant);
    }

    /// Refuses a tenant whose compiles failed `max_failures` times in the
    /// current window.
    fn admit(&self, tenant: &TenantName) -> Result<(), CompileError> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let Some(window) = failures.get(tenant) else {
            return Ok(());
        };
        let elapsed = window.started.elapsed();
        if elapsed >= self.window
            || (window.count < self.max_failures && window.spent < self.max_failure_time)
        {
            return Ok(());
        }
        Err(CompileError::FailuresExceeded {
            failures: self.max_failures,
            seconds: self.max_failure_time.as_secs(),
            window_s: self.window.as_secs(),
            retry_after_s: (self.window - elapsed).as_secs().max(1),
        })
    }

    fn record_failure(&self, tenant: &TenantName, spent: Duration) {
        let fresh = FailureWindow {
            started: Instant::now(),
            count: 0,
            spent: Duration::ZERO,
        };
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let window = failures.entry(tenant.clone()).or_insert(fresh);
        if window.started.elapsed() >= self.window {
            *window = fresh;
        }
        window.count += 1;
        window.spent += spent;
    }

    /// Waits until no other compile of this tenant is waiting or running.
    async fn turn(&self, tenant: &TenantName) -> OwnedSemaphorePermit {
        let turn = {
            let mut turns = self.turns.lock().unwrap_or_else(|e| e.into_inner());
            turns
                .entry(tenant.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(1)))
                .clone()
        };
        turn.acquire_owned().await.expect("never closed")
    }

    /// Waits for one of the service's compile slots.
    async fn slot(&self) -> OwnedSemaphorePermit {
        self.slots
            .clone()
            .acquire_owned()
            .await
            .expect("never closed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(max_failures: u32, window: Duration) -> CompileQueue {
        CompileQueue::new(
            &CompileSettings {
                failures: max_failures,
                failure_window: window,
                ..CompileSettings::default()
            },
            Arc::default(),
        )
    }

    fn tenant(name: &str) -> TenantName {
        TenantName::new(name).unwrap()
    }

    /// A tenant whose compiles keep failing is stopped; others are not.
    #[test]
    fn failures_past_the_limit_refuse_only_that_tenant() {
        let queue = queue(2, Duration::from_secs(600));
        let (a, b) = (tenant("a"), tenant("b"));
        queue.record_failure(&a, Duration::from_millis(1));
        assert!(queue.admit(&a).is_ok());
        queue.record_failure(&a, Duration::from_millis(1));
        assert!(matches!(
            queue.admit(&a),
            Err(CompileError::FailuresExceeded { failures: 2, .. })
        ));
        assert!(queue.admit(&b).is_ok());
    }

    /// Failed compiling time counts too: one compile stopped at a long
    /// timeout uses up the window's time at once.
    #[test]
    fn failed_compile_time_past_the_limit_refuses_the_tenant() {
        let queue = CompileQueue::new(
            &CompileSettings {
                failure_time: Duration::from_secs(60),
                ..CompileSettings::default()
            },
            Arc::default(),
        );
        let a = tenant("a");
        queue.record_failure(&a, Duration::from_secs(30));
        assert!(queue.admit(&a).is_ok());
        queue.record_failure(&a, Duration::from_secs(30));
        assert!(matches!(
            queue.admit(&a),
            Err(CompileError::FailuresExceeded { seconds: 60, .. })
        ));
    }

    /// The count starts over when the window ends.
    #[test]
    fn failures_are_forgotten_after_the_window() {
        let queue = queue(1, Duration::from_millis(30));
        let a = tenant("a");
        queue.record_failure(&a, Duration::from_millis(1));
        assert!(queue.admit(&a).is_err());
        std::thread::sleep(Duration::from_millis(40));
        assert!(queue.admit(&a).is_ok());
    }

    /// One tenant's second compile waits for its first, while another
    /// tenant's compile gets a slot at once.
    #[tokio::test]
    async fn a_tenant_waits_for_its_own_turn_not_for_others() {
        let queue = queue(10, Duration::from_secs(600));
        let (a, b) = (tenant("a"), tenant("b"));
        let _first = queue.turn(&a).await;
        let second = tokio::time::timeout(Duration::from_millis(50), queue.turn(&a)).await;
        assert!(second.is_err(), "a second compile of a did not wait");
        let other = tokio::time::timeout(Duration::from_millis(50), queue.turn(&b)).await;
        assert!(other.is_ok(), "b waited for a");
    }
}
