//! The optimized tier: a version that serves on Winch's baseline code is
//! recompiled by Cranelift in the background, and the optimized code takes
//! its place in the module cache between invocations. Running invocations
//! finish on the code they started with.
//!
//! One task works through the queue, one module at a time, so background
//! compiles never take more than one compiler at once whatever is uploaded;
//! each is a compile like any other (time and memory bounds, counted against
//! the tenant when it fails), at the compile worker's lowered priority. A
//! module waits in the queue at most once. A failed attempt is tried again
//! after 30 s, then 60 s; after three the version stays on baseline code
//! until the process restarts. A tenant whose failed compiles used up its
//! window waits for the window's end. A replica first looks for the
//! optimized artifact in the store, where another replica may have saved it.

use super::{App, DeployError};
use crate::engine::{Abi, PreparedModule, Tier};
use crate::names::TenantName;
use crate::registry::ModuleDigest;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How many times a module's optimized compile is tried before its version
/// stays on baseline code (until the process restarts).
const MAX_ATTEMPTS: u32 = 3;
/// The wait before the second attempt; it doubles for each further one.
const FIRST_RETRY: Duration = Duration::from_secs(30);

/// A module of a tenant.
type Key = (TenantName, ModuleDigest);

/// One module waiting for its optimized code.
#[derive(Clone)]
struct Job {
    tenant: TenantName,
    digest: ModuleDigest,
    abi: Abi,
    /// When its baseline code started serving.
    queued: Instant,
}

impl Job {
    fn key(&self) -> Key {
        (self.tenant.clone(), self.digest.clone())
    }
}

/// The queue of modules waiting for their optimized compile.
pub(super) struct Optimizing {
    sender: mpsc::UnboundedSender<Job>,
    /// Taken by [`App::start_background_compiles`].
    receiver: Mutex<Option<mpsc::UnboundedReceiver<Job>>>,
    /// Modules queued or waiting to be queued again, so each is queued once.
    pending: Mutex<HashSet<Key>>,
    /// Failed attempts per module; at [`MAX_ATTEMPTS`] it is not queued again.
    failures: Mutex<HashMap<Key, u32>>,
}

impl Default for Optimizing {
    fn default() -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        Self {
            sender,
            receiver: Mutex::new(Some(receiver)),
            pending: Mutex::default(),
            failures: Mutex::default(),
        }
    }
}

impl Optimizing {
    /// Queues `job` unless it is queued already or gave up; `after` delays it.
    fn queue(&self, job: Job, after: Option<Duration>) {
        let key = job.key();
        let gave_up = self
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .is_some_and(|n| *n >= MAX_ATTEMPTS);
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if gave_up || !pending.insert(key) {
            return;
        }
        drop(pending);
        let sender = self.sender.clone();
        match after {
            None => {
                let _ = sender.send(job);
            }
            Some(delay) => {
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = sender.send(job);
                });
            }
        }
    }
}

impl App {
    /// Starts the task that compiles the optimized tier of modules serving
    /// on baseline code. Modules queued before the start wait for it.
    pub fn start_background_compiles(self: &Arc<Self>) {
        let receiver = self
            .optimizing
            .receiver
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(mut receiver) = receiver else {
            return;
        };
        let app = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some(job) = receiver.recv().await {
                let Some(app) = app.upgrade() else {
                    return;
                };
                // Out of the queue before it runs: a module cached again
                // meanwhile (a rollback) is queued anew, not dropped.
                app.optimizing
                    .pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&job.key());
                // Its own task, so a panic ends this job, not the queue.
                let worker = app.clone();
                if let Err(err) = tokio::spawn(async move { worker.optimize(job).await }).await {
                    tracing::error!(error = %err, "optimized compile panicked");
                }
            }
        });
    }

    /// Queues a module that serves on baseline code for its optimized compile.
    pub(super) fn optimize_later(&self, tenant: &TenantName, digest: &ModuleDigest, abi: Abi) {
        if !self.engine.optimizes_later() {
            return;
        }
        let job = Job {
            tenant: tenant.clone(),
            digest: digest.clone(),
            abi,
            queued: Instant::now(),
        };
        self.optimizing.queue(job, None);
    }

    /// Gets one module's optimized code and puts it in place; on failure,
    /// queues it again later (see [`MAX_ATTEMPTS`]).
    async fn optimize(&self, job: Job) {
        let still_baseline = self
            .module(&job.tenant, &job.digest)
            .is_some_and(|m| m.tier() == Tier::Baseline);
        if !still_baseline {
            return;
        }
        let err = match self.optimized_code(&job).await {
            Ok(module) => {
                if self.replace_baseline(&job.tenant, &job.digest, module) {
                    let took = job.queued.elapsed();
                    self.metrics.tiers.switched(took);
                    tracing::info!(
                        tenant = %job.tenant,
                        module = %job.digest,
                        ms = took.as_millis() as u64,
                        "optimized code took over"
                    );
                }
                return;
            }
            Err(err) => err,
        };
        let retry = match &err {
            // The tenant's failed compiles used up its window: not this
            // module's failure; try again when the window ends.
            DeployError::CompileFailuresExceeded { retry_after_s, .. } => {
                Some(Duration::from_secs(*retry_after_s))
            }
            _ => {
                let mut failures = self
                    .optimizing
                    .failures
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let failed = failures.entry(job.key()).or_insert(0);
                *failed += 1;
                (*failed < MAX_ATTEMPTS).then(|| FIRST_RETRY * 2u32.pow(*failed - 1))
            }
        };
        match retry {
            Some(after) => tracing::warn!(
                tenant = %job.tenant,
                module = %job.digest,
                error = %err,
                retry_in_s = after.as_secs(),
                "optimized compile failed; the baseline code keeps serving"
            ),
            None => tracing::warn!(
                tenant = %job.tenant,
                module = %job.digest,
                error = %err,
                attempts = MAX_ATTEMPTS,
                "optimized compile failed for good; the baseline code keeps serving"
            ),
        }
        if let Some(after) = retry {
            self.optimizing.queue(job, Some(after));
        }
    }

    /// The module's optimized code: from an artifact another replica (or an
    /// earlier run) saved, else compiled in the background and saved.
    async fn optimized_code(&self, job: &Job) -> Result<PreparedModule, DeployError> {
        if let Some(module) = self
            .load_artifact(&job.digest, job.abi, Tier::Optimized)
            .await?
        {
            return Ok(module);
        }
        // Read when its turn comes, not held in the queue: the queue may
        // be long, the bytes up to --max-module-mb each.
        let bytes = self.store.read_module(&job.digest).await?;
        let (module, artifact) = self
            .compiles
            .compile_background(&self.engine, &job.tenant, bytes, job.abi)
            .await?;
        let fingerprint = self.engine.artifact_fingerprint(Tier::Optimized);
        if let Err(err) = self
            .store
            .save_artifact(&job.digest, &fingerprint, &artifact)
            .await
        {
            tracing::warn!(module = %job.digest, error = %err, "could not cache the compiled artifact");
        }
        Ok(module)
    }
}
