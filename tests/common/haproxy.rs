//! The HAProxy failure drill's harness: HAProxy run from `deploy/haproxy.cfg`,
//! ports that stay ours while a replica is down, and a steady bounded load
//! through the balancer (tests/load_balancer.rs).

use super::cluster::{eventually, free_port};
use super::{DOC, Server, VER, repo_root};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Concurrent callers through HAProxy, each at about [`CALL_EVERY`].
pub const CALLERS: usize = 4;
pub const CALL_EVERY: Duration = Duration::from_millis(40);
/// How long the load runs, and when into it the replica is killed.
pub const LOAD_FOR: Duration = Duration::from_secs(8);
pub const KILL_AT: Duration = Duration::from_secs(2);
/// Requests that start this long after the kill must all succeed: HAProxy
/// retries what a dead replica refuses, and takes it out after two failed
/// checks 500 ms apart.
pub const SETTLED_AFTER: Duration = Duration::from_millis(1500);
/// How long v1 of the action takes: callers are in flight most of the time.
pub const ACTION_TAKES_MS: u64 = 30;
/// How long a change takes to reach every replica (LISTEN/NOTIFY, reconcile).
pub const PROPAGATION: Duration = Duration::from_secs(1);

/// HAProxy, looked up as the Debian package installs it.
pub fn haproxy_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|dir| dir.join("haproxy"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "haproxy is not installed (not on PATH, nor in /usr/sbin): `make test` installs it \
                 (Debian package haproxy); or run `apt-get install haproxy`"
            )
        })
}

/// A port below the kernel's ephemeral range, free a moment ago: a port
/// that must stay ours while its replica is down cannot then be taken as the
/// source port of one of HAProxy's own connections.
pub fn fixed_port() -> u16 {
    let low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as usize
        ^ std::process::id() as usize;
    let span = usize::from(low.saturating_sub(20_000)).max(1);
    for i in 0..span {
        let port = 20_000 + ((seed + i * 7919) % span) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    free_port()
}

/// `haproxy -f <config> -db` with `deploy/haproxy.cfg`'s placeholders filled
/// in. Killed on drop.
pub struct Haproxy {
    child: Child,
    pub base: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Haproxy {
    pub fn start(listen: u16, replicas: [u16; 3]) -> Self {
        let template_path = repo_root().join("deploy/haproxy.cfg");
        let template = std::fs::read_to_string(&template_path)
            .unwrap_or_else(|e| panic!("{}: {e}", template_path.display()));
        let mut config = template.replace("@LISTEN@", &format!("127.0.0.1:{listen}"));
        for (i, port) in replicas.iter().enumerate() {
            config = config.replace(
                &format!("@REPLICA_{}@", i + 1),
                &format!("127.0.0.1:{port}"),
            );
        }
        assert!(
            !config.contains("@LISTEN@") && !config.contains("@REPLICA_"),
            "deploy/haproxy.cfg has a placeholder this test does not fill:\n{config}"
        );
        let dir = tempfile::tempdir().unwrap();
        let (child, log) = spawn_checked(dir.path(), &config, listen, "deploy/haproxy.cfg");
        Self {
            child,
            base: format!("http://127.0.0.1:{listen}"),
            log,
            _dir: dir,
        }
    }

    /// HAProxy's log so far (server state changes and one line per request).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The lines of the log about servers going up or down.
    pub fn state_changes(&self) -> String {
        self.log()
            .lines()
            .filter(|l| !l.starts_with('['))
            .filter(|l| l.contains(" is UP") || l.contains(" is DOWN") || l.contains("no server"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Haproxy {
    /// Whether every server of the `replicas` backend named in `servers` is
    /// in the state `state` ("UP" or "DOWN"), going by the latest change.
    pub fn all(&self, servers: &[&str], state: &str) -> bool {
        let log = self.log();
        servers.iter().all(|server| {
            let prefix = format!("Server replicas/{server} is ");
            log.lines()
                .rev()
                .filter(|l| !l.starts_with('['))
                .find_map(|l| l.split_once(&prefix).map(|(_, rest)| rest))
                .is_some_and(|rest| rest.starts_with(state))
        })
    }

    /// The request log: for each request to `path_prefix`, the server that
    /// answered and how many times HAProxy retried it.
    pub fn requests(&self, path_prefix: &str) -> Vec<(String, String)> {
        let needle = format!("\"GET {path_prefix}");
        self.log()
            .lines()
            .filter(|l| l.contains(&needle))
            .filter_map(|line| {
                let tokens: Vec<&str> = line.split_whitespace().collect();
                let server = tokens.iter().find(|t| t.starts_with("replicas/"))?;
                // `actconn/feconn/beconn/srv_conn/retries`, then the queues, then the request.
                let at = tokens.iter().position(|t| t.starts_with('"'))?;
                let retries = tokens.get(at.checked_sub(2)?)?.rsplit('/').next()?;
                Some((server.to_string(), retries.to_owned()))
            })
            .collect()
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// An admin request to `base`: status and JSON body.
pub async fn admin(
    client: &reqwest::Client,
    base: &str,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = client
        .request(method, format!("{base}/admin/v1{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("admin request failed");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Deploys `greet` answering `message` through `base`.
pub async fn deploy(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    message: &str,
    module: Vec<u8>,
) -> Value {
    let form = reqwest::multipart::Form::new()
        .text("manifest", "name = \"greet\"\n")
        .part(
            "module",
            reqwest::multipart::Part::bytes(module).file_name("m.wasm"),
        );
    let response = client
        .post(format!("{base}/admin/v1/tenants/acme/actions"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("deploy request failed");
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 201, "deploy {message} through HAProxy: {body}");
    body
}

/// A command module that sleeps `ms` milliseconds in the host, then answers
/// success with `message`: calls that are in flight when a replica dies.
pub fn slow_message_module(message: &str, ms: u64) -> Vec<u8> {
    let response = format!(r#"{{"status":"success","message":"{message}"}}"#);
    let escaped = response.replace('\\', "\\\\").replace('"', "\\\"");
    let wat = format!(
        r#"(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 512) "{escaped}")
  (func (export "_start")
    ;; one relative monotonic-clock subscription of {ms} ms
    (i64.store (i32.const 0) (i64.const 0))
    (i32.store8 (i32.const 8) (i32.const 0))
    (i32.store (i32.const 16) (i32.const 1))
    (i64.store (i32.const 24) (i64.const {ns}))
    (i64.store (i32.const 32) (i64.const 0))
    (i32.store16 (i32.const 40) (i32.const 0))
    (drop (call $poll_oneoff (i32.const 0) (i32.const 128) (i32.const 1) (i32.const 256)))
    (i32.store (i32.const 300) (i32.const 512))
    (i32.store (i32.const 304) (i32.const {len}))
    (drop (call $fd_write (i32.const 1) (i32.const 300) (i32.const 1) (i32.const 320)))))"#,
        ns = ms * 1_000_000,
        len = response.len()
    );
    wat::parse_str(wat).unwrap()
}

/// Calls `greet` through `base`: its message, or what went wrong.
pub async fn call(client: &reqwest::Client, base: &str, key: &str) -> Result<String, String> {
    let url =
        format!("{base}/t/acme/customAction?name=greet&documentId={DOC}&documentVersionId={VER}");
    let response = client
        .get(url)
        .header("apiKey", key)
        .header("username", "jane.doe")
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| format!("body: {e}"))?;
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    match (status, body["message"].as_str()) {
        (200, Some(message)) => Ok(message.to_owned()),
        _ => Err(format!("{status} {text}")),
    }
}

/// `/readyz` of whichever replica `base` routes to: the replica's id.
pub async fn replica_behind(client: &reqwest::Client, base: &str) -> Option<String> {
    let response = client.get(format!("{base}/readyz")).send().await.ok()?;
    let body: Value = response.json().await.ok()?;
    body["replica"].as_str().map(str::to_owned)
}

/// Waits until every replica knows the tenant `acme` and its admin token: a
/// change reaches the other replicas within [`PROPAGATION`], not at once, so
/// a request through HAProxy right after the tenant is created may land on a
/// replica that does not know the token yet.
pub async fn known_everywhere<'a>(replicas: impl IntoIterator<Item = &'a Server>, token: &str) {
    for replica in replicas {
        eventually(
            "every replica knows the new tenant",
            PROPAGATION,
            || async {
                let (status, _) = replica
                    .admin("GET", "/tenants/acme/actions", Some(token), None)
                    .await;
                (status == 200).then_some(())
            },
        )
        .await;
    }
}

/// Waits until HAProxy routes to `count` distinct replicas.
pub async fn in_rotation(client: &reqwest::Client, lb: &Haproxy, count: usize) {
    let mut seen = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.len() < count {
        assert!(
            Instant::now() < deadline,
            "HAProxy routed to {} replicas, not {count}, within 10 s\n{}",
            seen.len(),
            lb.state_changes()
        );
        if let Some(id) = replica_behind(client, &lb.base).await {
            seen.insert(id);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One call of the load: when it started and how it ended.
pub struct Outcome {
    pub started: Instant,
    pub took: Duration,
    pub result: Result<String, String>,
}

/// `callers` concurrent callers through `base`, each once per [`CALL_EVERY`],
/// until `stop` is set.
pub fn load(
    base: &str,
    key: &str,
    callers: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Vec<Outcome>>> {
    (0..callers)
        .map(|i| {
            let (base, key, stop) = (base.to_owned(), key.to_owned(), stop.clone());
            // Staggered, so that at any moment some call is in flight.
            let offset = CALL_EVERY * i as u32 / callers as u32;
            tokio::spawn(async move {
                let client = client();
                let mut ticks =
                    tokio::time::interval_at(tokio::time::Instant::now() + offset, CALL_EVERY);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut outcomes = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    ticks.tick().await;
                    let started = Instant::now();
                    let result = call(&client, &base, &key).await;
                    outcomes.push(Outcome {
                        started,
                        took: started.elapsed(),
                        result,
                    });
                }
                outcomes
            })
        })
        .collect()
}

pub async fn collect(callers: Vec<tokio::task::JoinHandle<Vec<Outcome>>>) -> Vec<Outcome> {
    let mut all = Vec::new();
    for caller in callers {
        all.extend(caller.await.unwrap());
    }
    all.sort_by_key(|o| o.started);
    all
}

/// Creates the tenant `acme` through `base` with the operator token;
/// returns its admin token and webhook key.
pub async fn create_acme(client: &reqwest::Client, base: &str) -> (String, String) {
    let (status, created) = admin(
        client,
        base,
        reqwest::Method::POST,
        "/tenants",
        super::OPERATOR,
        Some(serde_json::json!({"name": "acme", "quotas": {}})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let field = |name: &str| created[name].as_str().unwrap().to_owned();
    (field("adminToken"), field("apiKey"))
}

/// Writes `config` into `dir`, checks it with `haproxy -c` (failing the test
/// with HAProxy's words, naming `what` the configuration came from), runs
/// HAProxy in the foreground on it and waits until it accepts connections on
/// `listen`: the child and its log file.
pub fn spawn_checked(dir: &Path, config: &str, listen: u16, what: &str) -> (Child, PathBuf) {
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let binary = haproxy_binary();
    let checked = Command::new(&binary)
        .args(["-c", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "haproxy -c rejects {what}:\n{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    let log = dir.join("haproxy.log");
    let output = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(&binary)
        .arg("-f")
        .arg(&path)
        .arg("-db")
        .stdin(Stdio::null())
        .stdout(output.try_clone().unwrap())
        .stderr(output)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", listen)).is_err() {
        if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "haproxy did not start:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, log)
}
