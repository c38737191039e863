//! Compiles untrusted modules in a separate, bounded process.
//!
//! wasmtime does not treat compile-time resource use as its problem, and a
//! module within every size limit can still make Cranelift take gigabytes (one
//! function of a few million nested blocks did: 2.1 GB in 8 s). In the server's
//! own process that memory is everyone's: a few such uploads at once get the
//! whole service killed. So the server compiles in a child process, the same
//! `docket` executable run as `docket compile-worker`, which before reading a
//! byte of the module
//!
//! * caps its own writable memory (`RLIMIT_DATA`) at `--compile-memory-mb`, so
//!   a compile bomb fails alone, in its own process, with a clear error;
//! * caps its CPU time (`RLIMIT_CPU`) a little past the compile timeout, and
//!   dies with its parent (`PR_SET_PDEATHSIG`), so no compile outlives its
//!   reason to exist;
//! * lowers its scheduling priority, so compiles yield the cores to invocations;
//! * writes no core dump.
//!
//! The server gives it no environment (no operator token, no secrets key) and
//! no file descriptors but the three pipes: the module on stdin, the compiled
//! artifact on stdout, a [`LoadError`] as JSON on stderr. At the compile
//! timeout the server kills it, which also frees its compile slot at once.
//!
//! The artifact the worker writes is native code the server then loads with
//! [`super::Engine::load_artifact`]: it is Docket's own output from Docket's own
//! binary, exactly as trusted as a compile inside the server would be.

use super::{Abi, EngineSettings, LoadError, Tier};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Exit code of a worker that reports a [`LoadError`] on stderr.
const EXIT_LOAD_ERROR: i32 = 2;
/// The scheduling priority (nice value) compiles run at: below invocations.
/// Background compiles (the optimized tier of a version that already serves)
/// too: at 19, about 1.5% of a busy core, the optimized code never arrived
/// while the service was under steady load, which is when it matters most.
const WORKER_NICE: i32 = 10;
/// CPU seconds a worker may use past the compile timeout before the kernel
/// stops it, for the case where the server itself is gone.
const CPU_GRACE_SECONDS: u64 = 5;

/// What the server asks of one worker run; passed as a JSON argument.
#[derive(Debug, Serialize, Deserialize)]
struct Job {
    /// The serving engine's settings, so the artifact loads there.
    settings: EngineSettings,
    /// The ABI [`super::Engine::check`] detected.
    abi: Abi,
    /// The compiler to use.
    tier: Tier,
    /// Writable memory the worker may use, in MiB.
    memory_mb: u64,
    /// CPU seconds the worker may use.
    cpu_seconds: u64,
}

/// Runs compiles in `docket compile-worker` processes under memory, CPU and
/// time bounds.
#[derive(Debug, Clone)]
pub struct CompileWorker {
    /// The `docket` executable.
    program: PathBuf,
    /// Writable memory per compile, in MiB.
    memory_mb: u64,
    /// Longest a compile may take; the worker is killed then.
    timeout: Duration,
}

impl CompileWorker {
    /// Workers running `program compile-worker` with these bounds.
    pub fn new(program: PathBuf, memory_mb: u64, timeout: Duration) -> Self {
        Self {
            program,
            memory_mb,
            timeout,
        }
    }

    /// Compiles `bytes` (already through [`super::Engine::check`], which
    /// returned `abi`) in a worker; returns the artifact for
    /// [`super::Engine::load_artifact`].
    pub async fn compile(
        &self,
        settings: &EngineSettings,
        bytes: Vec<u8>,
        abi: Abi,
        tier: Tier,
    ) -> Result<Vec<u8>, LoadError> {
        let job = Job {
            settings: settings.clone(),
            abi,
            tier,
            memory_mb: self.memory_mb,
            cpu_seconds: self.timeout.as_secs() + CPU_GRACE_SECONDS,
        };
        let job = serde_json::to_string(&job).map_err(|e| LoadError::Engine(e.to_string()))?;
        let mut child = tokio::process::Command::new(&self.program)
            .arg("compile-worker")
            .arg("--job")
            .arg(job)
            .env_clear()
            // The worker caps its own data segment (`confine`) after it has
            // started. mimalloc (the process allocator, `main.rs`) would by
            // default have committed a 1 GiB arena by then, past any such cap,
            // so that every later mapping (a compile thread's stack) failed;
            // reserved without committing, the arena counts only as it is used.
            .env("MIMALLOC_ARENA_EAGER_COMMIT", "0")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                LoadError::Engine(format!(
                    "starting the compile worker {}: {e}",
                    self.program.display()
                ))
            })?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        // Written concurrently with reading the output; a worker that dies
        // early makes this fail with a broken pipe, which its status explains.
        let feed = tokio::spawn(async move {
            let _ = stdin.write_all(&bytes).await;
        });
        // Dropping the child at the timeout kills it (kill_on_drop).
        let output = tokio::time::timeout(self.timeout, child.wait_with_output()).await;
        feed.abort();
        let output = match output {
            Ok(output) => output.map_err(|e| LoadError::Engine(format!("compile worker: {e}")))?,
            Err(_elapsed) => {
                return Err(LoadError::CompileTimeout {
                    limit_ms: self.timeout.as_millis() as u64,
                });
            }
        };
        if output.status.success() {
            return Ok(output.stdout);
        }
        Err(self.failure(output.status, &output.stderr))
    }

    /// Explains a worker that did not succeed.
    fn failure(&self, status: std::process::ExitStatus, stderr: &[u8]) -> LoadError {
        use std::os::unix::process::ExitStatusExt;
        let stderr = String::from_utf8_lossy(stderr);
        if status.code() == Some(EXIT_LOAD_ERROR)
            && let Some(Ok(err)) = stderr.lines().last().map(serde_json::from_str::<LoadError>)
        {
            return err;
        }
        // Rust reports an allocation the rlimit refused, then aborts.
        if stderr.contains("memory allocation of") || stderr.contains("out of memory") {
            return LoadError::CompileMemory {
                limit_mb: self.memory_mb,
            };
        }
        if status.signal() == Some(rustix::process::Signal::XCPU.as_raw()) {
            return LoadError::CompileTimeout {
                limit_ms: self.timeout.as_millis() as u64,
            };
        }
        let last = stderr.lines().last().unwrap_or("").trim();
        tracing::warn!(%status, stderr = %last, "compile worker failed");
        LoadError::Invalid(format!("the compiler failed on this module ({status})"))
    }
}

/// The worker's side: `docket compile-worker --job JSON`, the module on stdin.
/// Returns the process exit code.
pub fn run(job: &str) -> i32 {
    let job: Job = match serde_json::from_str(job) {
        Ok(job) => job,
        Err(e) => return report(&LoadError::Engine(format!("bad compile job: {e}"))),
    };
    if let Err(e) = confine(&job) {
        return report(&LoadError::Engine(format!(
            "confining the compile worker: {e}"
        )));
    }
    let mut bytes = Vec::new();
    let limit = job.settings.max_module_bytes as u64 + 1;
    if let Err(e) = std::io::stdin().take(limit).read_to_end(&mut bytes) {
        return report(&LoadError::Engine(format!("reading the module: {e}")));
    }
    match super::precompile(&job.settings, &bytes, job.abi, job.tier) {
        Ok(artifact) => {
            let mut stdout = std::io::stdout().lock();
            match stdout.write_all(&artifact).and_then(|()| stdout.flush()) {
                Ok(()) => 0,
                Err(e) => report(&LoadError::Engine(format!("writing the artifact: {e}"))),
            }
        }
        Err(err) => report(&err),
    }
}

/// The bounds described in the module docs, set on the worker itself before
/// it reads any input.
fn confine(job: &Job) -> std::io::Result<()> {
    use rustix::process::{Resource, Rlimit, Signal, setpriority_process, setrlimit};
    let limit = |n: u64| Rlimit {
        current: Some(n),
        maximum: Some(n),
    };
    setrlimit(
        Resource::Data,
        limit(job.memory_mb.saturating_mul(1024 * 1024)),
    )?;
    setrlimit(Resource::Cpu, limit(job.cpu_seconds))?;
    setrlimit(Resource::Core, limit(0))?;
    rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
    // Lowering one's own priority cannot fail for lack of privilege.
    setpriority_process(None, WORKER_NICE)?;
    Ok(())
}

fn report(err: &LoadError) -> i32 {
    let json = serde_json::to_string(err).unwrap_or_else(|_| "\"unreportable error\"".into());
    eprintln!("{json}");
    EXIT_LOAD_ERROR
}
