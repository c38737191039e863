//! Connection hygiene through the real binary (SECURITY.md, "Connections"): a
//! client without credentials cannot starve others of connections or file
//! descriptors by opening many, sending slowly, or idling.

mod common;

use common::{Manifests, Server, message_module};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A tenant `acme` with one quick action, `ok`.
fn ok_tenant() -> Manifests {
    let manifests = Manifests::new();
    manifests.action("acme", "ok", &message_module("ok"), "");
    manifests
}

/// The server's socket address, from its base URL.
fn address(server: &Server) -> SocketAddr {
    server
        .base
        .strip_prefix("http://")
        .unwrap()
        .parse()
        .unwrap()
}

/// Raises this test process's soft open-file limit to its hard limit, so it
/// can hold more sockets than the server it attacks.
fn raise_own_nofile(needed: u64) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    );
    let now = getrlimit(Resource::Nofile).current;
    assert!(
        now.is_none_or(|soft| soft >= needed),
        "this test needs {needed} open files; the hard limit allows {now:?}"
    );
}

/// Reads one HTTP/1.1 response with a `content-length`: status, lower-cased
/// headers and body.
fn read_response(reader: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>, String) {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("not a status line: {line:?}"))
        .parse()
        .unwrap();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':').unwrap();
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .map_or(0, |(_, value)| value.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// Waits for the server to close `stream` (end of file or reset), up to
/// `limit`; returns how long that took, or `None` if it stayed open.
fn wait_for_close(stream: &mut impl Read, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut sink = [0u8; 1024];
    while start.elapsed() < limit {
        match stream.read(&mut sink) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            // The read timeout passed with the connection still open.
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Some(start.elapsed()),
        }
    }
    None
}

/// 1,100 silent connections, more than the server's 1,024 descriptors, cannot
/// starve a real caller: the cap keeps the server under its descriptor limit
/// and the header timeout frees the slots they hold.
#[tokio::test]
async fn silent_connections_beyond_the_fd_limit_do_not_starve_a_real_call() {
    const SILENT: usize = 1_100;
    raise_own_nofile(SILENT as u64 + 100);
    let manifests = ok_tenant();
    let server = Server::start_with_nofile(
        manifests.path(),
        &["acme"],
        &["--header-timeout-ms", "1000"],
        1024,
    );
    let (status, _) = server.custom_action("acme", "ok", "").await;
    assert_eq!(status, 200);
    let addr = address(&server);
    let opened = Instant::now();
    let silent: Vec<TcpStream> = (0..SILENT)
        .map(|i| {
            TcpStream::connect_timeout(&addr, Duration::from_secs(10))
                .unwrap_or_else(|e| panic!("silent connection {i}: {e}"))
        })
        .collect();
    eprintln!(
        "opened {SILENT} silent connections in {:?}",
        opened.elapsed()
    );
    // Hold them, sending nothing, for longer than the header timeout.
    tokio::time::sleep(Duration::from_millis(1_500).saturating_sub(opened.elapsed())).await;
    let start = Instant::now();
    let answered = tokio::time::timeout(
        Duration::from_secs(2),
        server.custom_action("acme", "ok", ""),
    )
    .await;
    let elapsed = start.elapsed();
    drop(silent);
    let (status, body) = answered.unwrap_or_else(|_| {
        panic!(
            "no answer within 2 s while {SILENT} silent connections were held\n{}",
            server.stderr()
        )
    });
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "ok");
    eprintln!("with {SILENT} silent connections held, the real call answered in {elapsed:?}");
    let log = server.stderr();
    assert!(!log.contains("Too many open files"), "{log}");
    assert!(log.contains("connection cap reached"), "{log}");
}

/// At the connection cap, the connection silent the longest is closed to make
/// room, so a flood of silent connections does not hold a caller up even for
/// the (default, 10 s) header timeout.
#[tokio::test]
async fn at_the_cap_silent_connections_make_room_for_a_caller() {
    let manifests = ok_tenant();
    let server = Server::start_with(manifests.path(), &["acme"], &["--max-connections", "50"]);
    let addr = address(&server);
    let silent: Vec<TcpStream> = (0..80).map(|_| TcpStream::connect(addr).unwrap()).collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let start = Instant::now();
    let answered = tokio::time::timeout(
        Duration::from_secs(2),
        server.custom_action("acme", "ok", ""),
    )
    .await;
    let elapsed = start.elapsed();
    drop(silent);
    let (status, body) =
        answered.expect("no answer within 2 s with the cap full of silent connections");
    assert_eq!(status, 200, "{body}");
    eprintln!("with the cap (50) full of silent connections, the call answered in {elapsed:?}");
    assert!(server.stderr().contains("connection cap reached"));
}

/// A header trickled one byte at a time (slowloris) is cut off at the header
/// timeout: a client cannot hold a connection by never finishing its request.
#[test]
fn a_trickled_header_is_closed_at_the_header_timeout() {
    let manifests = ok_tenant();
    let server = Server::start_with(
        manifests.path(),
        &["acme"],
        &["--header-timeout-ms", "1000"],
    );
    let stream = TcpStream::connect(address(&server)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    // At one byte per 100 ms this head would take over 8 s to send.
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: docket\r\nX-Slow: {}\r\n\r\n",
        "a".repeat(40)
    );
    let closed = Arc::new(AtomicBool::new(false));
    let writer = {
        let mut stream = stream.try_clone().unwrap();
        let closed = closed.clone();
        std::thread::spawn(move || {
            for byte in head.bytes() {
                if closed.load(Ordering::Relaxed) || stream.write_all(&[byte]).is_err() {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            true
        })
    };
    let mut reader = stream;
    let after = wait_for_close(&mut reader, Duration::from_secs(5));
    closed.store(true, Ordering::Relaxed);
    let finished_head = writer.join().unwrap();
    let after = after.expect("a trickled header kept its connection open for 5 s");
    assert!(
        !finished_head,
        "the whole head was sent before the server closed"
    );
    assert!(
        after >= Duration::from_millis(800) && after < Duration::from_secs(3),
        "closed after {after:?}, expected about the 1 s header timeout"
    );
}

/// An idle keep-alive connection is closed after the header timeout, so
/// connections left open after a request do not pile up.
#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_timeout() {
    let manifests = ok_tenant();
    let server = Server::start_with(
        manifests.path(),
        &["acme"],
        &["--header-timeout-ms", "1000"],
    );
    let stream = TcpStream::connect(address(&server)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    reader
        .get_mut()
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: docket\r\n\r\n")
        .unwrap();
    let (status, headers, body) = read_response(&mut reader);
    assert_eq!((status, body.as_str()), (200, "ok"));
    assert!(
        !headers.iter().any(|(name, _)| name == "connection"),
        "{headers:?}"
    );
    let after = wait_for_close(&mut reader, Duration::from_secs(5))
        .expect("an idle keep-alive connection stayed open for 5 s");
    assert!(
        after >= Duration::from_millis(800) && after < Duration::from_secs(3),
        "closed after {after:?}, expected about the 1 s timeout"
    );
}

/// The per-connection request limit closes a keep-alive connection after its
/// Nth request, announced with `Connection: close`, so one client cannot keep
/// a connection forever by never pausing.
#[test]
fn a_connection_is_closed_after_its_request_limit() {
    let manifests = ok_tenant();
    let server = Server::start_with(
        manifests.path(),
        &["acme"],
        &["--max-requests-per-connection", "3"],
    );
    let stream = TcpStream::connect(address(&server)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    for number in 1..=3 {
        reader
            .get_mut()
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: docket\r\n\r\n")
            .unwrap();
        let (status, headers, _) = read_response(&mut reader);
        assert_eq!(status, 200);
        let closing = headers
            .iter()
            .any(|(name, value)| name == "connection" && value.eq_ignore_ascii_case("close"));
        assert_eq!(closing, number == 3, "request {number}: {headers:?}");
    }
    wait_for_close(&mut reader, Duration::from_secs(2))
        .expect("the connection stayed open after its last allowed request");
}

/// A request body trickled one byte at a time gets 408 at the body timeout,
/// however steadily the bytes come: the deadline covers the whole body.
#[test]
fn a_trickled_request_body_is_answered_408_at_the_body_timeout() {
    let manifests = ok_tenant();
    let server = Server::start_with(
        manifests.path(),
        &["acme"],
        &[
            "--body-timeout-ms",
            "1000",
            "--admin-token",
            common::OPERATOR,
        ],
    );
    let stream = TcpStream::connect(address(&server)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    reader
        .get_mut()
        .write_all(
            b"POST /admin/v1/tenants HTTP/1.1\r\nHost: docket\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        )
        .unwrap();
    let start = Instant::now();
    // One byte every 100 ms: the 100-byte body would take 10 s.
    let answered = loop {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no answer to a trickled body after 5 s"
        );
        if reader.get_mut().write_all(b" ").is_err() {
            panic!("the server closed the connection without answering");
        }
        match reader.fill_buf() {
            Ok(buf) if !buf.is_empty() => break start.elapsed(),
            Ok(_) => panic!("the server closed the connection without answering"),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("reading the answer: {e}"),
        }
    };
    reader
        .get_mut()
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let (status, headers, body) = read_response(&mut reader);
    assert_eq!(status, 408, "{body}");
    assert!(body.contains("did not arrive within 1000 ms"), "{body}");
    assert!(
        headers
            .iter()
            .any(|(name, value)| name == "connection" && value == "close"),
        "{headers:?}"
    );
    assert!(
        answered >= Duration::from_millis(800) && answered < Duration::from_secs(3),
        "answered after {answered:?}, expected about the 1 s body timeout"
    );
}

/// Open connections that are silent or idle between requests do not hold up a
/// shutdown: SIGTERM closes them at once and the server exits cleanly, long
/// before their header timeout.
#[test]
fn silent_and_idle_connections_do_not_delay_shutdown() {
    let manifests = ok_tenant();
    let mut server = Server::start(manifests.path(), &["acme"]);
    let addr = address(&server);
    let silent: Vec<TcpStream> = (0..50).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let idle = TcpStream::connect(addr).unwrap();
    let mut reader = BufReader::new(idle);
    reader
        .get_mut()
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: docket\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut reader).0, 200);
    let start = Instant::now();
    server.signal("TERM");
    let exit = server.wait_for_exit(Duration::from_secs(5));
    let took = start.elapsed();
    drop(silent);
    assert_eq!(exit.and_then(|s| s.code()), Some(0), "{}", server.stderr());
    assert!(
        took < Duration::from_secs(2),
        "shutdown took {took:?} with idle connections open (header timeout 10 s)"
    );
}
