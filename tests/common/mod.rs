//! Shared harness for the black-box tests: builds a manifests directory, starts
//! the real `docket` binary on a free port, and speaks HTTP to it.
#![allow(dead_code, missing_docs)]

pub mod browser;
pub mod cluster;
pub mod documents;
pub mod haproxy;
pub mod modules;
pub mod oidc;
pub mod sse;
pub mod warm;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The webhook key every test tenant gets through `DOCKET_API_KEY_<TENANT>`.
pub const KEY: &str = "test-key-0123456789";
/// A well-formed Workfront document id.
pub const DOC: &str = "5f0c8e2a9b1d4c3e8f7a6b5c4d3e2f10";
/// A well-formed Workfront document version id.
pub const VER: &str = "7a6b5c4d3e2f10fedcba98765432100a";

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// An example action built by `make actions`.
pub fn example_action(name: &str) -> Vec<u8> {
    let path = repo_root()
        .join("actions-wasm/dist")
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `make actions` (or `make test`, which builds them) first",
            path.display()
        )
    })
}

/// A test guest built from Rust source by `make guests`.
pub fn built_guest(name: &str) -> Vec<u8> {
    let path = repo_root()
        .join("tests/guests/dist")
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `make guests` (or `make test`) first",
            path.display()
        )
    })
}

/// A test guest from `tests/guests/<name>.wat`, compiled to binary WebAssembly.
pub fn guest(name: &str) -> Vec<u8> {
    let path = repo_root().join("tests/guests").join(format!("{name}.wat"));
    wat::parse_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A manifests directory under construction.
pub struct Manifests {
    pub dir: tempfile::TempDir,
}

impl Manifests {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `<tenant>/<action>.toml` and its module; `extra` is appended TOML.
    pub fn action(&self, tenant: &str, name: &str, module: &[u8], extra: &str) -> &Self {
        let tenant_dir = self.dir.path().join(tenant);
        std::fs::create_dir_all(tenant_dir.join("modules")).unwrap();
        std::fs::write(
            tenant_dir.join("modules").join(format!("{name}.wasm")),
            module,
        )
        .unwrap();
        let manifest = format!(
            "name = \"{name}\"\ndisplay-name = \"Test {name}\"\nmodule = \"modules/{name}.wasm\"\n{extra}\n"
        );
        std::fs::write(tenant_dir.join(format!("{name}.toml")), manifest).unwrap();
        self
    }

    /// Writes a raw file relative to the manifests directory.
    pub fn file(&self, relative: &str, contents: &[u8]) -> &Self {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
        self
    }
}

/// The operator token the hosted-service tests start servers with.
pub const OPERATOR: &str = "operator-test-token";

/// A command module that answers success with `message`, built from WAT.
pub fn message_module(message: &str) -> Vec<u8> {
    padded_message_module(message, 0)
}

/// [`message_module`] padded with `fillers` functions of 100 additions each,
/// which make Cranelift take a while (about a second for 1,000 on an idle
/// machine) and Winch much less.
pub fn padded_message_module(message: &str, fillers: usize) -> Vec<u8> {
    let response = format!(r#"{{"status":"success","message":"{message}"}}"#);
    let escaped = response.replace('\\', "\\\\").replace('"', "\\\"");
    let body: String = (0..100)
        .map(|i| format!("(local.set 0 (i32.add (local.get 0) (i32.const {i})))"))
        .collect();
    let fillers: String = (0..fillers)
        .map(|i| format!("(func $f{i} (param i32) (result i32) {body} (local.get 0))\n"))
        .collect();
    let wat = format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "{escaped}")
  {fillers}
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const {len}))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#,
        len = response.len()
    );
    wat::parse_str(wat).unwrap()
}

/// A request for `action` of `tenant` with the test document ids, for tests
/// that drive the engine in process.
pub fn action_request(tenant: &str, action: &str) -> docket::engine::ActionRequest {
    docket::engine::ActionRequest {
        action: action.into(),
        document_id: DOC.into(),
        document_version_id: VER.into(),
        username: String::new(),
        username_verified: false,
        params: Default::default(),
        config: Default::default(),
        secrets: Default::default(),
        tenant: tenant.into(),
        request_id: format!("{tenant}-{action}"),
        provider: None,
        body: Default::default(),
    }
}

/// A running `docket serve`. Killed on drop.
pub struct Server {
    child: Child,
    pub base: String,
    pub stdout_lines: Vec<String>,
    pub data_dir: PathBuf,
    _owned_data_dir: Option<tempfile::TempDir>,
    stderr_path: PathBuf,
    client: reqwest::Client,
}

/// What a finished `docket` run printed.
pub struct Finished {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// A finished command as the CLI tests read it: (succeeded, stdout, stderr).
pub fn outcome(output: std::process::Output) -> (bool, String, String) {
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn docket() -> Command {
    Command::new(env!("CARGO_BIN_EXE_docket"))
}

/// Runs `docket serve` expecting it to fail at start-up; returns what it printed.
pub fn serve_expecting_failure(manifests: &Path) -> Finished {
    let data = tempfile::tempdir().unwrap();
    let mut child = docket()
        .args(["serve", "--listen", "127.0.0.1:0", "--manifests"])
        .arg(manifests)
        .arg("--data-dir")
        .arg(data.path())
        .env("DOCKET_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(_status) = child.try_wait().unwrap() {
            let output = child.wait_with_output().unwrap();
            return Finished {
                success: output.status.success(),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            };
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("docket serve did not exit on a bad start-up");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Server {
    /// Starts `docket serve --manifests DIR`, every tenant keyed with [`KEY`].
    pub fn start(manifests: &Path, tenants: &[&str]) -> Self {
        Self::start_with(manifests, tenants, &[])
    }

    /// As [`Server::start`], with extra `serve` arguments.
    pub fn start_with(manifests: &Path, tenants: &[&str], extra_args: &[&str]) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let mut args = vec!["--manifests".to_owned(), manifests.display().to_string()];
        args.extend(extra_args.iter().map(|a| a.to_string()));
        let mut server = Self::launch(data_dir.path(), tenants, &args);
        server._owned_data_dir = Some(data_dir);
        server
    }

    /// As [`Server::start_with`], with extra environment variables for the server.
    pub fn start_with_env(
        manifests: &Path,
        tenants: &[&str],
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let mut args = vec!["--manifests".to_owned(), manifests.display().to_string()];
        args.extend(extra_args.iter().map(|a| a.to_string()));
        let mut server = Self::launch_with_env(data_dir.path(), tenants, &args, env);
        server._owned_data_dir = Some(data_dir);
        server
    }

    /// `docket serve --manifests DIR` over an existing data directory (for
    /// restarts), without the operator token, with extra environment variables.
    pub fn start_in(
        data_dir: &Path,
        manifests: &Path,
        tenants: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let args = vec!["--manifests".to_owned(), manifests.display().to_string()];
        Self::launch_with_env(data_dir, tenants, &args, env)
    }

    /// A hosted server (no manifests) with the operator token, its data in a temp dir.
    pub fn hosted(extra_args: &[&str]) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let mut server = Self::hosted_in(data_dir.path(), extra_args);
        server._owned_data_dir = Some(data_dir);
        server
    }

    /// A hosted server over an existing data directory (for restarts).
    pub fn hosted_in(data_dir: &Path, extra_args: &[&str]) -> Self {
        let mut args = vec!["--admin-token".to_owned(), OPERATOR.to_owned()];
        args.extend(extra_args.iter().map(|a| a.to_string()));
        Self::launch(data_dir, &[], &args)
    }

    /// Kills the server with SIGKILL, as a crash would, and keeps its data.
    pub fn crash(mut self) -> Option<tempfile::TempDir> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self._owned_data_dir.take()
    }

    /// As [`Server::hosted`], with extra environment variables for the server.
    pub fn hosted_with_env(extra_args: &[&str], env: &[(&str, &str)]) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let mut args = vec!["--admin-token".to_owned(), OPERATOR.to_owned()];
        args.extend(extra_args.iter().map(|a| a.to_string()));
        let mut server = Self::launch_with_env(data_dir.path(), &[], &args, env);
        server._owned_data_dir = Some(data_dir);
        server
    }

    /// As [`Server::start_with`], with the server's open-file limit (soft and
    /// hard) set to `nofile` before it starts, by running it under `prlimit`.
    pub fn start_with_nofile(
        manifests: &Path,
        tenants: &[&str],
        extra_args: &[&str],
        nofile: u64,
    ) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let mut args = vec!["--manifests".to_owned(), manifests.display().to_string()];
        args.extend(extra_args.iter().map(|a| a.to_string()));
        // prlimit execs the server in place, so the child's pid is the server's.
        let mut command = Command::new("prlimit");
        command
            .arg(format!("--nofile={nofile}:{nofile}"))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_docket"));
        let mut server = Self::launch_command(command, data_dir.path(), tenants, &args, &[]);
        server._owned_data_dir = Some(data_dir);
        server
    }

    fn launch(data_dir: &Path, tenants: &[&str], args: &[String]) -> Self {
        Self::launch_with_env(data_dir, tenants, args, &[])
    }

    fn launch_with_env(
        data_dir: &Path,
        tenants: &[&str],
        args: &[String],
        env: &[(&str, &str)],
    ) -> Self {
        Self::launch_command(docket(), data_dir, tenants, args, env)
    }

    fn launch_command(
        mut command: Command,
        data_dir: &Path,
        tenants: &[&str],
        args: &[String],
        env: &[(&str, &str)],
    ) -> Self {
        let stderr_path = data_dir.join(format!(
            "docket-{}.stderr",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(data_dir).unwrap();
        command.arg("serve");
        if !args.iter().any(|a| a == "--listen") {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        command
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap());
        for tenant in tenants {
            let var = format!("DOCKET_API_KEY_{}", tenant.to_uppercase().replace('-', "_"));
            command.env(var, KEY);
        }
        command.envs(env.iter().copied());
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    // Keep draining so the server never blocks on a full pipe.
                    continue;
                }
            }
        });
        let mut stdout_lines = Vec::new();
        let base = loop {
            match rx.recv_timeout(Duration::from_secs(120)) {
                Ok(line) => {
                    // `docket listening on URL`, then with --public-url
                    // `; Workfront reaches it at PUBLIC`: the tests use URL.
                    let listening = line
                        .strip_prefix("docket listening on ")
                        .map(|rest| rest.split("; ").next().unwrap_or(rest).to_owned());
                    stdout_lines.push(line);
                    if let Some(base) = listening {
                        break base;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                    panic!("docket did not start:\n{stderr}");
                }
            }
        };
        // Collect the rest of the banner, which follows the listening line at once.
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(300)) {
            stdout_lines.push(line);
        }
        Self {
            child,
            base,
            stdout_lines,
            data_dir: data_dir.to_owned(),
            _owned_data_dir: None,
            stderr_path,
            client: reqwest::Client::new(),
        }
    }

    /// Sends an admin request; returns status and JSON body (`null` when empty).
    pub async fn admin(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .client
            .request(method, format!("{}/admin/v1{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request failed");
        read(response).await
    }

    /// Deploys a manifest and module over the admin API.
    pub async fn deploy(
        &self,
        tenant: &str,
        token: &str,
        manifest: &str,
        module: Vec<u8>,
    ) -> (u16, Value) {
        let form = reqwest::multipart::Form::new()
            .text("manifest", manifest.to_owned())
            .part(
                "module",
                reqwest::multipart::Part::bytes(module).file_name("m.wasm"),
            );
        let response = self
            .client
            .post(format!("{}/admin/v1/tenants/{tenant}/actions", self.base))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("request failed");
        read(response).await
    }

    /// Creates a tenant as the operator; returns (admin token, webhook key).
    pub async fn create_tenant(&self, name: &str, quotas: Value) -> (String, String) {
        let (status, body) = self
            .admin(
                "POST",
                "/tenants",
                Some(OPERATOR),
                Some(serde_json::json!({"name": name, "quotas": quotas})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        (
            body["adminToken"].as_str().unwrap().to_owned(),
            body["apiKey"].as_str().unwrap().to_owned(),
        )
    }

    /// `GET /metrics` with the operator token, which must answer 200: the
    /// exposition text.
    pub async fn scrape_metrics(&self) -> String {
        let response = self
            .client
            .get(format!("{}/metrics", self.base))
            .bearer_auth(OPERATOR)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// Calls an action with an explicit key.
    pub async fn call(&self, tenant: &str, action: &str, key: &str) -> (u16, Value) {
        let path = format!(
            "/t/{tenant}/customAction?name={action}&documentId={DOC}&documentVersionId={VER}"
        );
        self.get(&path, &[("apiKey", key), ("username", "jane.doe")])
            .await
    }

    /// A memory figure of the server from `/proc/<pid>/status` (`"VmRSS:"`,
    /// `"VmHWM:"` for the peak), in MiB.
    pub fn memory_mib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with(field))
            .unwrap_or_else(|| panic!("no {field} in /proc/<pid>/status"));
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib / 1024
    }

    /// The server's process id (for reading `/proc/<pid>/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`TERM`, `INT`, …) to the server.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the server to exit on its own, up to `limit`.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// What the server logged so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// GET a path with headers; returns status and JSON body.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request failed");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("non-JSON body ({e}) with status {status}: {text}"));
        (status, body)
    }

    /// As [`Server::get`], also returning the `x-request-id` response header.
    pub async fn get_with_request_id(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, Option<String>, Value) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request failed");
        let request_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let (status, body) = read(response).await;
        (status, request_id, body)
    }

    /// As [`Server::custom_action`], also returning the `x-request-id` header.
    pub async fn custom_action_with_request_id(
        &self,
        tenant: &str,
        action: &str,
        extra_query: &str,
    ) -> (u16, Option<String>, Value) {
        let path = format!(
            "/t/{tenant}/customAction?name={action}&documentId={DOC}&documentVersionId={VER}{extra_query}"
        );
        self.get_with_request_id(&path, &[("apiKey", KEY), ("username", "jane.doe")])
            .await
    }

    /// Calls `customAction` as Workfront would, with the test key.
    pub async fn custom_action(
        &self,
        tenant: &str,
        action: &str,
        extra_query: &str,
    ) -> (u16, Value) {
        let path = format!(
            "/t/{tenant}/customAction?name={action}&documentId={DOC}&documentVersionId={VER}{extra_query}"
        );
        self.get(&path, &[("apiKey", KEY), ("username", "jane.doe")])
            .await
    }
}

async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    if text.is_empty() {
        return (status, Value::Null);
    }
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("non-JSON body ({e}) with status {status}: {text}"));
    (status, body)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The secrets key Docket generated beside a data directory this
        // server owned goes with it (a crashed server's stays, for a restart).
        if self._owned_data_dir.is_some() {
            let _ = std::fs::remove_file(secrets_key_beside(&self.data_dir));
        }
    }
}

/// Where `docket serve` keeps its generated secrets key for `data_dir`:
/// beside it, `<data-dir>.secrets.key`.
pub fn secrets_key_beside(data_dir: &Path) -> PathBuf {
    let mut name = data_dir.file_name().unwrap().to_os_string();
    name.push(".secrets.key");
    data_dir.with_file_name(name)
}
