//! The optimized tier: a version that serves on Winch's baseline code is
//! recompiled by Cranelift in the background, and the optimized code takes
//! its place in the module cache between invocations. Running invocations
//! finish on the code they started with.
//!
//! One task works through the queue, one module at a time, so background
//! compiles never take more than one compiler at once whatever is uploaded.
//! Tenants take turns: the next compile is the next tenant's oldest module,
//! so a tenant with many modules waiting delays another tenant's module by
//! at most the one compile running, not by all of its own. Each background
//! compile is like any other (time and memory bounds, counted against
//! the tenant when it fails), at the compile worker's lowered priority. A
//! module waits in the queue at most once. A failed attempt is tried again
//! after 30 s, then 60 s; after three the version stays on baseline code
//! until the process restarts. A tenant whose failed compiles used up its
//! window waits for the window's end. A replica first looks for the
//! optimized artifact in the store, where another replica may have saved it.

use super::{App, DeployError};
use crate::compiles::CompileError;
use crate::engine::{Abi, PreparedModule, Tier};
use crate::names::TenantName;
use crate::registry::ModuleDigest;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

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

/// Modules waiting for their compile, served one tenant at a time in turn.
#[derive(Default)]
struct Turns {
    /// Tenants with a module waiting, in the order their turns come.
    order: VecDeque<TenantName>,
    /// The tenant whose module was taken last, if it has more waiting: it
    /// rejoins the line at the next turn, behind every tenant that joined
    /// while its module compiled.
    resting: Option<TenantName>,
    /// Each waiting tenant's modules, oldest first.
    waiting: HashMap<TenantName, VecDeque<Job>>,
}

impl Turns {
    fn push(&mut self, job: Job) {
        let jobs = self.waiting.entry(job.tenant.clone()).or_default();
        // A tenant with modules waiting is in line or resting already.
        if jobs.is_empty() {
            self.order.push_back(job.tenant.clone());
        }
        jobs.push_back(job);
    }

    /// The oldest module of the tenant whose turn it is.
    fn pop(&mut self) -> Option<Job> {
        if let Some(tenant) = self.resting.take() {
            self.order.push_back(tenant);
        }
        let tenant = self.order.pop_front()?;
        let jobs = self.waiting.get_mut(&tenant)?;
        let job = jobs.pop_front();
        if jobs.is_empty() {
            self.waiting.remove(&tenant);
        } else {
            self.resting = Some(tenant);
        }
        job
    }
}

/// The line of modules and the signal that one joined it, shared with the
/// task that works through it.
#[derive(Default)]
struct Line {
    turns: Mutex<Turns>,
    joined: Notify,
    /// Set when the app is gone, so the task ends.
    closed: AtomicBool,
}

impl Line {
    fn push(&self, job: Job) {
        self.turns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(job);
        self.joined.notify_one();
    }

    /// The next module, waiting for one; `None` once the app is gone.
    async fn next(&self) -> Option<Job> {
        loop {
            if self.closed.load(Ordering::Acquire) {
                return None;
            }
            let next = self.turns.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match next {
                Some(job) => return Some(job),
                // A push between the pop and this wait left a permit: no
                // module is missed.
                None => self.joined.notified().await,
            }
        }
    }
}

/// The queue of modules waiting for their optimized compile.
pub(super) struct Optimizing {
    line: Arc<Line>,
    /// Whether [`App::start_background_compiles`] started the task.
    started: AtomicBool,
    /// Modules queued or waiting to be queued again, so each is queued once.
    pending: Mutex<HashSet<Key>>,
    /// Failed attempts per module; at [`MAX_ATTEMPTS`] it is not queued again.
    failures: Mutex<HashMap<Key, u32>>,
}

impl Optimizing {
    /// Forgets a deleted (or deleted and made again) tenant's failed
    /// optimized compiles, so a new tenant of the same name that deploys the
    /// same bytes gets its own tries. A queued job of the old tenant finds
    /// its module gone from the cache and is skipped.
    pub(super) fn forget(&self, tenant: &TenantName) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(name, _), _| name != tenant);
    }
}

impl Default for Optimizing {
    fn default() -> Self {
        Self {
            line: Arc::default(),
            started: AtomicBool::new(false),
            pending: Mutex::default(),
            failures: Mutex::default(),
        }
    }
}

impl Drop for Optimizing {
    fn drop(&mut self) {
        self.line.closed.store(true, Ordering::Release);
        self.line.joined.notify_one();
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
        match after {
            None => self.line.push(job),
            Some(delay) => {
                let line = Arc::downgrade(&self.line);
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    if let Some(line) = line.upgrade() {
                        line.push(job);
                    }
                });
            }
        }
    }
}

impl App {
    /// Starts the task that compiles the optimized tier of modules serving
    /// on baseline code. Modules queued before the start wait for it.
    pub fn start_background_compiles(self: &Arc<Self>) {
        if self.optimizing.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let line = self.optimizing.line.clone();
        let app = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some(job) = line.next().await {
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
                drop(app);
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
        // Compiled when its baseline code is loaded, and also when it was
        // evicted meanwhile but is still live, so its next load finds the
        // optimized artifact; not when no live version uses it any more.
        let wanted = match self.modules.peek(&job.key()) {
            Some(module) => module.tier() == Tier::Baseline,
            None => self
                .store
                .tenant(job.tenant.as_str())
                .is_some_and(|t| t.actions.values().any(|a| a.module == job.digest)),
        };
        if !wanted {
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
            DeployError::CompileFailures(CompileError::FailuresExceeded {
                retry_after_s, ..
            }) => Some(Duration::from_secs(*retry_after_s)),
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
            .load_artifact(&job.digest, Some(job.abi), Tier::Optimized)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn job(tenant: &str, module: &str) -> Job {
        Job {
            tenant: TenantName::new(tenant.to_owned()).unwrap(),
            digest: ModuleDigest::from_stored(module.to_owned()),
            abi: Abi::Command,
            queued: Instant::now(),
        }
    }

    fn order(turns: &mut Turns) -> Vec<String> {
        std::iter::from_fn(|| turns.pop())
            .map(|job| format!("{}/{}", job.tenant, job.digest))
            .collect()
    }

    /// A tenant that queued many modules first gets one compile per turn:
    /// the others' modules do not wait for all of its own.
    #[test]
    fn tenants_take_turns_oldest_module_first() {
        let mut turns = Turns::default();
        for module in ["a1", "a2", "a3", "a4"] {
            turns.push(job("busy", module));
        }
        turns.push(job("quiet", "q1"));
        turns.push(job("other", "o1"));
        turns.push(job("quiet", "q2"));
        assert_eq!(
            order(&mut turns),
            [
                "busy/a1", "quiet/q1", "other/o1", "busy/a2", "quiet/q2", "busy/a3", "busy/a4"
            ]
        );
        assert!(turns.waiting.is_empty() && turns.order.is_empty());
    }

    /// A tenant that queues while another's module compiles goes next, not
    /// after that tenant's following module.
    #[test]
    fn a_tenant_joining_during_a_compile_goes_next() {
        let mut turns = Turns::default();
        for module in ["a1", "a2", "a3"] {
            turns.push(job("busy", module));
        }
        let running = turns.pop().unwrap();
        assert_eq!(running.digest.as_str(), "a1");
        turns.push(job("late", "l1"));
        assert_eq!(order(&mut turns), ["late/l1", "busy/a2", "busy/a3"]);
    }

    /// A tenant whose line emptied joins at the back when it queues again.
    #[test]
    fn a_tenant_that_comes_back_joins_at_the_back() {
        let mut turns = Turns::default();
        turns.push(job("a", "1"));
        assert_eq!(order(&mut turns), ["a/1"]);
        turns.push(job("b", "1"));
        turns.push(job("a", "2"));
        assert_eq!(order(&mut turns), ["b/1", "a/2"]);
    }

    /// The waiting task gets a module pushed while it waits, and ends once
    /// the line closes.
    #[tokio::test]
    async fn the_line_wakes_its_task_and_closes() {
        let line = Arc::new(Line::default());
        let waiting = tokio::spawn({
            let line = line.clone();
            async move { line.next().await.map(|job| job.digest.to_string()) }
        });
        tokio::task::yield_now().await;
        line.push(job("a", "m"));
        assert_eq!(waiting.await.unwrap().as_deref(), Some("m"));
        line.closed.store(true, Ordering::Release);
        line.joined.notify_one();
        assert!(line.next().await.is_none());
    }
}
