//! Replicas on one PostgreSQL database: a database per test on the server
//! `DOCKET_TEST_POSTGRES` names (default the local one), a way to cut the
//! replicas off from it, and `docket serve --database-url` replicas.

use super::{OPERATOR, Server};
use sqlx::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

/// The secrets key every replica of a test cluster shares.
pub const SECRETS_KEY: &str = "8f1c2b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8";

fn server_url() -> String {
    std::env::var("DOCKET_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://127.0.0.1:5432/test".to_owned())
}

/// A database of the test's own, dropped afterwards.
pub struct Database {
    name: String,
    /// `postgres://…/{name}`.
    pub url: String,
}

impl Database {
    pub async fn create() -> Self {
        let server = server_url();
        let name = format!("docket_bb_{}", hex_id());
        let mut admin = sqlx::PgConnection::connect(&server)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {server} (DOCKET_TEST_POSTGRES): {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        Self {
            url: with_database(&server, &name),
            name,
        }
    }

    /// The same database reached through `port` on 127.0.0.1 (a [`Cut`]).
    pub fn url_via(&self, port: u16) -> String {
        let server = server_url();
        let rest = server.split_once("://").map_or("", |(_, r)| r);
        let credentials = rest.split_once('@').map(|(c, _)| format!("{c}@"));
        format!(
            "postgres://{}127.0.0.1:{port}/{}",
            credentials.unwrap_or_default(),
            self.name
        )
    }

    /// Runs one SQL query against the database, returning the first column
    /// of every row as text.
    pub async fn query(&self, sql: &str) -> Vec<String> {
        let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
        sqlx::query_scalar::<_, String>(sql)
            .fetch_all(&mut conn)
            .await
            .unwrap()
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&server_url()).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .ok()
            })
        })
        .join();
    }
}

fn with_database(url: &str, name: &str) -> String {
    let base = url.rsplit_once('/').map_or(url, |(b, _)| b);
    format!("{base}/{name}")
}

fn hex_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{:x}{:x}", std::process::id(), nanos & 0xffff_ffff)
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// `docket serve --database-url URL` on `listen`, with the operator
    /// token and the cluster's secrets key; `data_dir` is its scratch space.
    pub fn replica(url: &str, listen: &str, data_dir: &Path) -> Self {
        Self::replica_with(url, listen, data_dir, &[])
    }

    /// [`Server::replica`] with more flags.
    pub fn replica_with(url: &str, listen: &str, data_dir: &Path, extra: &[&str]) -> Self {
        let mut args = [
            "--admin-token",
            OPERATOR,
            "--database-url",
            url,
            "--listen",
            listen,
        ]
        .map(str::to_owned)
        .to_vec();
        args.extend(extra.iter().map(|a| a.to_string()));
        Self::launch_with_env(data_dir, &[], &args, &[("DOCKET_SECRETS_KEY", SECRETS_KEY)])
    }

    /// `/readyz`: status and body.
    pub async fn readiness(&self) -> (u16, String) {
        let response = reqwest::get(format!("{}/readyz", self.base)).await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }
}

/// Waits until `check` returns `Some`, up to `limit`; panics with `what`
/// otherwise. Returns the value and how long it took.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> (T, Duration)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return (value, started.elapsed());
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A TCP relay in front of PostgreSQL that the test can cut, as a network
/// partition or a database restart would: while cut, the port refuses
/// connections and every relayed connection is closed.
pub struct Cut {
    pub port: u16,
    target: String,
    running: Mutex<Option<JoinHandle<()>>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Cut {
    /// Relays a free port to the database server's address.
    pub async fn new() -> Self {
        let server = server_url();
        let rest = server.split_once("://").map_or("", |(_, r)| r);
        let host = rest.split_once('@').map_or(rest, |(_, h)| h);
        let target = host.split('/').next().unwrap().to_owned();
        let cut = Self {
            port: free_port(),
            target,
            running: Mutex::new(None),
            connections: Arc::default(),
        };
        cut.restore();
        cut
    }

    /// Lets connections through again, on the same port.
    pub fn restore(&self) {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(([127, 0, 0, 1], self.port).into()).unwrap();
        let listener: TcpListener = socket.listen(128).unwrap();
        let target = self.target.clone();
        let connections = self.connections.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let relay = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                connections.lock().unwrap().push(relay);
            }
        });
        *self.running.lock().unwrap() = Some(accept);
    }

    /// Refuses new connections and closes every relayed one.
    pub fn cut(&self) {
        if let Some(accept) = self.running.lock().unwrap().take() {
            accept.abort();
        }
        for relay in self.connections.lock().unwrap().drain(..) {
            relay.abort();
        }
    }
}

impl Drop for Cut {
    fn drop(&mut self) {
        self.cut();
    }
}
