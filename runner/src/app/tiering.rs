//! The optimized tier: a version that serves on Winch's baseline code is
//! recompiled by Cranelift in the background, and the optimized code takes
//! its place in the module cache between invocations. Running invocations
//! finish on the code they started with.
//!
//! One task works through the queue, one module at a time, so background
//! compiles never take more than one compiler at once whatever is uploaded;
//! each is a compile like any other (time and memory bounds, counted against
//! the tenant when it fails), at the lowest priority. A module waits in the
//! queue at most once. A replica first looks for the optimized artifact in
//! the store, where another replica may have saved it.

use super::{App, DeployError};
use crate::engine::{Abi, PreparedModule, Tier};
use crate::names::TenantName;
use crate::registry::ModuleDigest;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc;

/// One module waiting for its optimized code.
struct Job {
    tenant: TenantName,
    digest: ModuleDigest,
    abi: Abi,
    /// When its baseline code started serving.
    queued: Instant,
}

/// The queue of modules waiting for their optimized compile.
pub(super) struct Optimizing {
    sender: mpsc::UnboundedSender<Job>,
    /// Taken by [`App::start_background_compiles`].
    receiver: Mutex<Option<mpsc::UnboundedReceiver<Job>>>,
    /// Modules queued or compiling, so each is queued once.
    pending: Mutex<HashSet<(TenantName, ModuleDigest)>>,
}

impl Default for Optimizing {
    fn default() -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        Self {
            sender,
            receiver: Mutex::new(Some(receiver)),
            pending: Mutex::default(),
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
                let key = (job.tenant.clone(), job.digest.clone());
                app.optimize(job).await;
                app.optimizing
                    .pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&key);
            }
        });
    }

    /// Queues a module that serves on baseline code for its optimized compile.
    pub(super) fn optimize_later(
        &self,
        tenant: &TenantName,
        digest: &ModuleDigest,
        abi: Abi,
    ) {
        if !self.engine.optimizes_later() {
            return;
        }
        let key = (tenant.clone(), digest.clone());
        let mut pending = self
            .optimizing
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if !pending.insert(key) {
            return;
        }
        let _ = self.optimizing.sender.send(Job {
            tenant: tenant.clone(),
            digest: digest.clone(),
            abi,
            queued: Instant::now(),
        });
    }

    /// Gets one module's optimized code and puts it in place.
    async fn optimize(&self, job: Job) {
        let still_baseline = self
            .module(&job.tenant, &job.digest)
            .is_some_and(|m| m.tier() == Tier::Baseline);
        if !still_baseline {
            return;
        }
        match self.optimized_code(&job).await {
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
            }
            Err(err) => tracing::warn!(
                tenant = %job.tenant,
                module = %job.digest,
                error = %err,
                "optimized compile failed; the baseline code keeps serving"
            ),
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
