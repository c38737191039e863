//! Headless Chromium for the black-box tests: the browser on the PATH, and a
//! node script under `tests/oidc/` (playwright-core, axe-core) run on a JSON
//! config, reporting on its last line of output.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Debian's Chromium on the PATH, or a panic saying how to install it.
pub fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    ["chromium", "chromium-browser"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!("no chromium on the PATH: run `make test-tools` (installs Debian's chromium)")
        })
}

/// A fresh output directory for a browser test's screenshots, under the
/// test target's temporary directory.
pub fn output_dir(name: &str) -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    out
}

/// What a browser script did.
pub struct ScriptRun {
    /// Whether node exited with success.
    pub success: bool,
    /// Its exit status, for messages.
    pub status: String,
    /// Everything it printed.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
    /// Its last line of stdout, as JSON, when it is JSON.
    pub report: Option<Value>,
}

/// Runs `tests/oidc/<script>` under node with `config` written to
/// `<out>/config.json`, killed after `timeout`.
pub async fn run_script(script: &str, config: &Value, out: &Path, timeout: Duration) -> ScriptRun {
    let config_path = out.join("config.json");
    std::fs::write(&config_path, serde_json::to_vec_pretty(config).unwrap()).unwrap();
    let run = tokio::process::Command::new("node")
        .arg(format!("tests/oidc/{script}"))
        .arg(&config_path)
        .current_dir(super::repo_root())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(timeout, run)
        .await
        .unwrap_or_else(|_| panic!("tests/oidc/{script} did not finish within {timeout:?}"))
        .unwrap_or_else(|e| {
            panic!("running `node tests/oidc/{script}`: {e} (is node installed? `make test-tools`)")
        });
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let report = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok());
    ScriptRun {
        success: output.status.success(),
        status: output.status.to_string(),
        stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        report,
    }
}
