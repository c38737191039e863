//! Connection hygiene: Docket's own accept loop over hyper, so that no client —
//! with or without credentials — can hold what every other client needs.
//!
//! What it owns (SECURITY.md, "Connections"):
//! * a cap on client connections open at once, kept below the open-file limit
//!   with room for the database, modules and outbound calls, so the process
//!   never runs out of descriptors ("Too many open files"). At the cap the
//!   connection that has been open longest without sending a byte is closed
//!   to make room (a silent flood only displaces itself); when every
//!   connection has spoken, the loop stops accepting: the newcomer in hand
//!   waits for a slot and the rest wait in the kernel's listen backlog, in
//!   arrival order, until one closes. The log says so at most once every few
//!   seconds;
//! * a header-read timeout, which hyper (1.12, checked in its source:
//!   `proto/h1/conn.rs`, `State::idle` re-arms it) starts as soon as a
//!   connection opens and again when it goes idle after a response, so one
//!   timer bounds the slow header, the silent connection and the idle
//!   keep-alive wait alike. hyper only runs it with a timer set, which
//!   `axum::serve` does not do; hence this module;
//! * a whole-body deadline for request bodies (uploads), answered with 408, and
//!   the same bound on a response the client stops reading;
//! * a limit on requests per keep-alive connection (`Connection: close` on the
//!   last one);
//! * raising the soft `RLIMIT_NOFILE` to the hard limit at start.
//!
//! Graceful shutdown: when `shutdown` completes the listener is closed at once
//! and every connection is told to finish its in-flight request and close;
//! [`serve`] returns when the last one has.

mod body;
mod cap;
mod eviction;

pub use cap::{FD_RESERVE_MIN, FdLimit, connection_cap, raise_fd_limit};

use axum::Router;
use axum::body::Body as AxumBody;
use body::{DeadlineBody, body_timeout_response};
use eviction::{Guarded, SilentQueue, Tracked};
use http::{HeaderValue, Request, Response, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// How often, at most, the log says the cap (or the descriptor limit) was hit.
const WARN_EVERY: Duration = Duration::from_secs(5);

/// hyper's buffer per connection: enough for any real request head (Workfront
/// sends a few hundred bytes), small enough that the connection cap times it
/// stays modest (hyper's default is about 400 KiB).
const MAX_BUF_BYTES: usize = 64 * 1024;

/// The listen backlog: where connections wait while the server is at its cap
/// (the kernel lowers it to `net.core.somaxconn`). The usual 128 overflows
/// within milliseconds of a burst, and an overflowing backlog drops SYNs, which
/// clients retry only after a second or more.
pub const LISTEN_BACKLOG: u32 = 1024;

/// Binds `addr` for [`serve`] with a [`LISTEN_BACKLOG`]-deep backlog.
pub fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    listen(reserve(addr)?)
}

/// Binds `addr` without listening yet: an address already taken fails here
/// (`AddrInUse`), while connections are refused rather than queued until
/// [`listen`]. `docket serve` reserves its address before the slow part of
/// its start (syncing manifests, loading modules) and listens after it.
pub fn reserve(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpSocket> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As std and tokio do: a restart can rebind while old connections linger in TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    Ok(socket)
}

/// Starts listening on a socket from [`reserve`], with a
/// [`LISTEN_BACKLOG`]-deep backlog.
pub fn listen(socket: tokio::net::TcpSocket) -> std::io::Result<TcpListener> {
    socket.listen(LISTEN_BACKLOG)
}

/// How the HTTP layer treats connections. Defaults are the operator flags'.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// Longest a client may take to send a request head, counted from the
    /// connection's start or from the end of the previous response (so it is
    /// also the keep-alive idle timeout).
    pub header_timeout: Duration,
    /// Longest a request body may take to arrive in full, and longest a
    /// response may wait without progress for the client to read it.
    pub body_timeout: Duration,
    /// Connections open at once, as asked for; [`connection_cap`] lowers it to
    /// fit the open-file limit.
    pub max_connections: u64,
    /// Requests served on one keep-alive connection before it is closed.
    pub max_requests_per_connection: u32,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            // Real clients send their head in one packet; 10 s covers slow
            // links and proxies, and bounds a silent connection to 10 s.
            header_timeout: Duration::from_secs(10),
            // The largest upload (32 MiB module + 1 MiB) at about 0.6 MB/s.
            body_timeout: Duration::from_secs(60),
            // Far more than callers behind a proxy need, while hyper's
            // buffers (64 KiB each way) stay within about 512 MiB at worst.
            max_connections: 4096,
            // As nginx's `keepalive_requests`: spreads long-lived clients over
            // time without costing a handshake more than once per 1000 calls.
            max_requests_per_connection: 1000,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then drains:
/// stops accepting, lets each connection finish its in-flight request, and
/// returns when every connection has closed. `settings.max_connections` is
/// used as given (apply [`connection_cap`] first).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: ConnectionSettings,
    shutdown: impl Future<Output = ()>,
) {
    let cap = usize::try_from(settings.max_connections)
        .unwrap_or(usize::MAX)
        .clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(cap));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_timeout)
        .max_buf_size(MAX_BUF_BYTES)
        // The buffer bound alone is approximate (one large read can exceed it).
        .max_header_size(MAX_BUF_BYTES)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let silent = SilentQueue::default();
    // When each kind of warning was last logged, so a flood logs one line per period.
    let (mut cap_warned, mut fds_warned): (Option<Instant>, Option<Instant>) = (None, None);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    accept_failed(&error, &mut fds_warned).await;
                    continue;
                }
            },
        };
        // Then a slot. At the cap, this newcomer (one descriptor, within the
        // reserve) waits here and the ones after it in the kernel's backlog,
        // so a connection is evicted only when someone is actually waiting.
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // Make room by closing the connection that has been silent the
                // longest: a flood of silent connections then only displaces
                // itself, while anyone who has sent a request keeps their place.
                let evicted = silent.evict_oldest();
                if warn_due(&mut cap_warned) {
                    tracing::warn!(
                        max_connections = cap,
                        evicted_a_silent_connection = evicted,
                        "connection cap reached; the oldest connection that has sent nothing is \
                         closed to make room, otherwise new connections wait in the listen \
                         backlog until one closes (--max-connections)"
                    );
                }
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    permit = slots.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break, // never closed; no permits would ever come
                    },
                }
            }
        };
        // Responses are small and written whole; don't hold them for Nagle.
        let _ = stream.set_nodelay(true);
        let tracked = Arc::new(Tracked::default());
        silent.push(&tracked, cap);
        let io = Guarded::new(stream, tracked.clone(), settings.body_timeout);
        let service = connection_service(router.clone(), &settings);
        let connection = builder.serve_connection(TokioIo::new(io), service);
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            // The slot is released when the connection is gone, whatever ended it.
            let _permit = permit;
            let mut connection = std::pin::pin!(watcher.watch(connection));
            loop {
                tokio::select! {
                    ended = &mut connection => {
                        if let Err(error) = ended {
                            // Timeouts and resets are the client's doing: not worth a warning.
                            tracing::debug!(%error, "connection ended with an error");
                        }
                        break;
                    }
                    () = tracked.evict.notified() => {
                        // Still nothing received, so nothing is lost by closing it.
                        if !tracked.spoke.load(Ordering::Relaxed) {
                            break;
                        }
                    }
                }
            }
        });
    }
    // Closing the listener refuses newcomers at once rather than leaving them
    // in a backlog nobody will read.
    drop(listener);
    graceful.shutdown().await;
}

/// True when the last warning is more than [`WARN_EVERY`] old (and records now).
fn warn_due(warned_at: &mut Option<Instant>) -> bool {
    let now = Instant::now();
    if warned_at.is_some_and(|at| now.duration_since(at) < WARN_EVERY) {
        return false;
    }
    *warned_at = Some(now);
    true
}

/// An `accept` failure. Running out of descriptors should not happen below the
/// cap, but if something else took them, back off briefly instead of spinning.
async fn accept_failed(error: &std::io::Error, warned_at: &mut Option<Instant>) {
    // EMFILE (24) and ENFILE (23): the process or the system is out of descriptors.
    let out_of_fds = matches!(error.raw_os_error(), Some(23 | 24));
    if out_of_fds {
        if warn_due(warned_at) {
            tracing::warn!(%error, "accept failed: out of file descriptors; retrying in 100 ms");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    } else {
        // A connection reset before it was accepted, and the like.
        tracing::debug!(%error, "accept failed");
    }
}

/// The per-connection service: the router, with a deadline on each request
/// body and `Connection: close` on the connection's last allowed request.
fn connection_service(
    router: Router,
    settings: &ConnectionSettings,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<AxumBody>,
    Error = Infallible,
    Future: Send,
> + Send
+ 'static {
    let inner = TowerToHyperService::new(router);
    let served = AtomicU32::new(0);
    let max_requests = settings.max_requests_per_connection.max(1);
    let body_timeout = settings.body_timeout;
    hyper::service::service_fn(move |request: Request<Incoming>| {
        let number = served.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        let expired = Arc::new(AtomicBool::new(false));
        let request = request.map(|body| DeadlineBody::new(body, body_timeout, expired.clone()));
        let call = hyper::service::Service::call(&inner, request);
        async move {
            let Ok(mut response) = call.await;
            if expired.load(Ordering::Relaxed) {
                // Whatever the handler made of the failed read, the truth is a timeout.
                response = body_timeout_response(body_timeout);
            }
            if number >= max_requests {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok::<_, Infallible>(response)
        }
    })
}
