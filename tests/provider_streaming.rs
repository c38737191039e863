//! Document bodies stream through Docket, through the real binary: a 1 GiB
//! upload and download with Docket Drive keep the server's memory bounded;
//! a client that stops reading a download is cut off at the provider's
//! deadline and the guest is freed; `--max-transfer-mb` and
//! `--tenant-max-transfer-mb-per-day` refuse beyond them; a client that
//! disconnects mid-upload leaves the file as it was.
//!
//! Uploads are sent over a raw TCP connection (the test's reqwest has no
//! streaming request bodies), so a body of any size is generated on the fly
//! and never held whole; downloads are read chunk by chunk.

mod common;

use common::documents::Workfront;
use common::{OPERATOR, Server, example_action};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MIB: u64 = 1024 * 1024;

/// Docket Drive's manifest with `timeout_ms`.
fn drive(timeout_ms: u64) -> String {
    format!(
        r#"
name = "docket-drive"
kind = "provider"
display-name = "Docket Drive"
[limits]
timeout-ms = {timeout_ms}
memory-mb = 128
[capabilities]
key-value = "action"
blob = true
"#
    )
}

/// A tenant with Drive deployed at `timeout_ms`: (admin token, key).
async fn tenant_with_drive(server: &Server, tenant: &str, timeout_ms: u64) -> (String, String) {
    let (token, key) = server.create_tenant(tenant, json!({})).await;
    redeploy(server, tenant, &token, timeout_ms).await;
    (token, key)
}

async fn redeploy(server: &Server, tenant: &str, token: &str, timeout_ms: u64) {
    let (status, body) = server
        .deploy(
            tenant,
            token,
            &drive(timeout_ms),
            example_action("docket-drive"),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

/// Deterministic, incompressible bytes made on the fly: one pseudo-random
/// MiB, each chunk stamped with its number so no two chunks are alike.
struct Pattern {
    block: Vec<u8>,
}

impl Pattern {
    fn new() -> Self {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let block = (0..MIB / 8)
            .flat_map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()
            })
            .collect();
        Self { block }
    }

    /// Chunk `n` (1 MiB), cut to `len` bytes.
    fn chunk(&self, n: u64, len: usize) -> Vec<u8> {
        let mut chunk = self.block[..len].to_vec();
        let stamp = n.to_le_bytes();
        let at = stamp.len().min(len);
        chunk[..at].copy_from_slice(&stamp[..at]);
        chunk
    }

    /// The first `len` bytes of the stream (for small files).
    fn bytes(&self, len: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(len as usize);
        let mut n = 0;
        while (out.len() as u64) < len {
            let take = (len - out.len() as u64).min(MIB) as usize;
            out.extend(self.chunk(n, take));
            n += 1;
        }
        out
    }
}

/// What a raw upload sent and what came back.
struct Sent {
    /// Bytes written to the socket (the kernel took them).
    bytes: u64,
    /// SHA-256 of what was written.
    sha256: String,
    /// Status and body, when a response arrived.
    response: Option<(u16, String)>,
}

/// `PUT upload?id=` over a raw connection with `Content-Length: declared`,
/// streaming `send` bytes of `pattern` in 1 MiB chunks; when `send` is less
/// than `declared` the connection is dropped after them (a client that
/// went away mid-upload). The response is read while the body is written,
/// so one sent before the body ended (a refusal) is not lost.
async fn raw_upload(wf: &Workfront, id: &str, pattern: &Pattern, declared: u64, send: u64) -> Sent {
    let url =
        reqwest::Url::parse_with_params(&format!("{}/upload", wf.base), &[("id", id)]).unwrap();
    let authority = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "PUT {}?{} HTTP/1.1\r\nHost: {authority}\r\napiKey: {}\r\nusername: jane.doe\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {declared}\r\n\
         Connection: close\r\n\r\n",
        url.path(),
        url.query().unwrap(),
        wf.key
    );
    let read = tokio::spawn(async move {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        got
    });
    let mut hasher = Sha256::new();
    let mut written = 0u64;
    if writer.write_all(head.as_bytes()).await.is_ok() {
        let mut n = 0;
        while written < send {
            let len = (send - written).min(MIB) as usize;
            let chunk = pattern.chunk(n, len);
            if writer.write_all(&chunk).await.is_err() {
                break; // the server closed its end: it answered already
            }
            hasher.update(&chunk);
            written += len as u64;
            n += 1;
        }
    }
    let response = if send < declared {
        // Gone mid-upload: no FIN after a short body, the socket just closes.
        drop(writer);
        read.abort();
        None
    } else {
        // No half-close: hyper takes a client's FIN for a connection gone. The
        // server closes it after its answer (`Connection: close`).
        let got = tokio::time::timeout(Duration::from_secs(120), read)
            .await
            .expect("no response within 120 s")
            .unwrap();
        drop(writer);
        parse_response(&got)
    };
    Sent {
        bytes: written,
        sha256: hex::encode(hasher.finalize()),
        response,
    }
}

/// Status and body of a raw HTTP/1.1 response (de-chunked), if it is one.
fn parse_response(raw: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    if !chunked {
        return Some((status, body.to_owned()));
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    Some((status, out))
}

/// What a streamed download read.
struct Received {
    status: u16,
    bytes: u64,
    sha256: String,
    /// The body ended with an error (cut off) rather than cleanly.
    cut: bool,
    request_id: String,
}

/// `GET download?id=`, reading the body a chunk at a time.
async fn download(wf: &Workfront, id: &str) -> Received {
    let response = start_download(wf, id).await;
    let status = response.status().as_u16();
    let request_id = request_id(&response);
    let (bytes, sha256, cut) = read_rest(response, Sha256::new(), 0).await;
    Received {
        status,
        bytes,
        sha256,
        cut,
        request_id,
    }
}

async fn start_download(wf: &Workfront, id: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/download", wf.base))
        .query(&[("id", id)])
        .header("apiKey", &wf.key)
        .header("username", "jane.doe")
        .send()
        .await
        .expect("download request failed")
}

fn request_id(response: &reqwest::Response) -> String {
    response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Reads a response's body to its end: (bytes, SHA-256, ended with an error).
async fn read_rest(
    mut response: reqwest::Response,
    mut hasher: Sha256,
    mut bytes: u64,
) -> (u64, String, bool) {
    let cut = loop {
        match tokio::time::timeout(Duration::from_secs(120), response.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                hasher.update(&chunk);
                bytes += chunk.len() as u64;
            }
            Ok(Ok(None)) => break false,
            Ok(Err(_)) => break true,
            Err(_) => panic!("the download stalled for 120 s"),
        }
    };
    (bytes, hex::encode(hasher.finalize()), cut)
}

/// `uploadInit` of an empty file `name` in the root; its id.
async fn new_file(wf: &Workfront, name: &str) -> String {
    let raw = wf
        .call(
            "POST",
            "uploadInit",
            &[("parentId", "/"), ("filename", name)],
            None,
        )
        .await;
    let created = raw.json();
    assert_eq!(raw.status, 200, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

/// `metadata`'s `size` of file `id`.
async fn size_of(wf: &Workfront, id: &str) -> u64 {
    let (status, meta) = wf.get("metadata", &[("id", id)]).await;
    assert_eq!(status, 200, "{meta}");
    meta["size"].as_u64().unwrap_or(0)
}

/// A new file `name` holding `len` bytes of `pattern`, uploaded in full; its id.
async fn file_of(wf: &Workfront, pattern: &Pattern, name: &str, len: u64) -> String {
    let id = new_file(wf, name).await;
    let sent = raw_upload(wf, &id, pattern, len, len).await;
    let (status, body) = sent.response.expect("no response to the upload");
    assert_eq!(status, 200, "{body}");
    assert_eq!(size_of(wf, &id).await, len);
    id
}

/// The value of the sample `name` (exactly, labels included) in an exposition.
fn sample(exposition: &str, name: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

/// The tenant's run record of request `request_id`, once it is written.
async fn record_of(server: &Server, tenant: &str, token: &str, request_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, listed) = server
            .admin(
                "GET",
                &format!("/tenants/{tenant}/invocations"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, 200, "{listed}");
        let found = listed["invocations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|record| record["requestId"] == request_id)
            .cloned();
        if let Some(record) = found {
            return record;
        }
        assert!(
            Instant::now() < deadline,
            "no record of {request_id}: {listed}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The tenant's first run record that is not a success, once there is one.
async fn unsuccessful_record(server: &Server, tenant: &str, token: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, listed) = server
            .admin(
                "GET",
                &format!("/tenants/{tenant}/invocations"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, 200, "{listed}");
        let found = listed["invocations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|record| record["outcome"] != "success")
            .cloned();
        if let Some(record) = found {
            return record;
        }
        assert!(Instant::now() < deadline, "no unsuccessful run: {listed}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until nothing of `tenant` runs and the pool holds no instance.
async fn until_idle(server: &Server, tenant: &str) -> String {
    let in_flight = format!("docket_in_flight{{tenant=\"{tenant}\"}}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let metrics = server.scrape_metrics().await;
        let instances = sample(&metrics, "docket_pool_instances_in_use");
        let running = sample(&metrics, &in_flight).unwrap_or(0.0);
        if instances == Some(0.0) && running == 0.0 {
            return metrics;
        }
        assert!(
            Instant::now() < deadline,
            "still running after 20 s: instances {instances:?}, in flight {running}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Write files left in the tenant's blob directory (a cut-off write must remove its own).
fn temporary_blobs(server: &Server, tenant: &str) -> Vec<String> {
    let dir = server.data_dir.join("blobs").join(tenant);
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with(".write-"))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_gibibyte_goes_up_and_down_with_bounded_server_memory() {
    const GIB: u64 = 1024 * MIB;
    let server = Server::hosted(&["--max-timeout-ms", "300000", "--body-timeout-ms", "300000"]);
    let (_, key) = tenant_with_drive(&server, "big", 300_000).await;
    let wf = Workfront::new(&server.base, "big", &key);
    let pattern = Pattern::new();

    // Warm up: the provider's code loaded and one small transfer each way,
    // so what follows measures the transfer, not first use.
    let small = file_of(&wf, &pattern, "small.bin", 3 * MIB).await;
    assert_eq!(download(&wf, &small).await.bytes, 3 * MIB);
    let before_hwm = server.memory_mib("VmHWM:");
    let before_rss = server.memory_mib("VmRSS:");

    let id = new_file(&wf, "gibibyte.bin").await;
    let started = Instant::now();
    let sent = raw_upload(&wf, &id, &pattern, GIB, GIB).await;
    let upload_secs = started.elapsed().as_secs_f64();
    let (status, body) = sent.response.expect("no response to the 1 GiB upload");
    assert_eq!(status, 200, "{body}");
    assert_eq!(sent.bytes, GIB);
    let after_upload_hwm = server.memory_mib("VmHWM:");
    assert_eq!(size_of(&wf, &id).await, GIB);

    let started = Instant::now();
    let received = download(&wf, &id).await;
    let download_secs = started.elapsed().as_secs_f64();
    assert_eq!(received.status, 200);
    assert!(!received.cut, "the 1 GiB download was cut off");
    assert_eq!(received.bytes, GIB);
    assert_eq!(received.sha256, sent.sha256, "the bytes came back changed");

    let after_hwm = server.memory_mib("VmHWM:");
    let after_rss = server.memory_mib("VmRSS:");
    eprintln!(
        "1 GiB: upload {upload_secs:.1} s ({:.0} MiB/s), download {download_secs:.1} s \
         ({:.0} MiB/s); sha256 {}; server VmHWM {before_hwm} MiB before, \
         {after_upload_hwm} MiB after the upload, {after_hwm} MiB after the download \
         (growth {} MiB); VmRSS {before_rss} -> {after_rss} MiB",
        1024.0 / upload_secs,
        1024.0 / download_secs,
        sent.sha256,
        after_hwm.saturating_sub(before_hwm),
    );
    assert!(
        after_hwm < before_hwm + 64,
        "peak RSS grew from {before_hwm} MiB to {after_hwm} MiB moving 1 GiB"
    );
}

#[tokio::test]
async fn a_slow_reader_is_cut_off_at_the_deadline_and_the_guest_freed() {
    let server = Server::hosted(&[]);
    // The file goes in under a generous deadline; the reader then meets a 3 s one.
    let (token, key) = tenant_with_drive(&server, "slow", 30_000).await;
    let wf = Workfront::new(&server.base, "slow", &key);
    let pattern = Pattern::new();
    let big = file_of(&wf, &pattern, "big.bin", 64 * MIB).await;
    let small = file_of(&wf, &pattern, "small.bin", 1024).await;
    redeploy(&server, "slow", &token, 3_000).await;

    let started = Instant::now();
    let mut response = start_download(&wf, &big).await;
    assert_eq!(response.status(), 200);
    let request_id = request_id(&response);
    let mut hasher = Sha256::new();
    let mut read = 0u64;
    while read < MIB {
        let chunk = response
            .chunk()
            .await
            .unwrap()
            .expect("the body ended early");
        hasher.update(&chunk);
        read += chunk.len() as u64;
    }
    // Stop reading, holding the response open, well past the deadline.
    tokio::time::sleep(Duration::from_secs(5)).await;

    let record = record_of(&server, "slow", &token, &request_id).await;
    assert_eq!(record["outcome"], "limit", "{record}");
    assert_eq!(record["limitHit"], "time limit", "{record}");
    let ms = record["ms"].as_u64().unwrap();
    assert!(
        (2_900..4_500).contains(&ms),
        "stopped after {ms} ms: {record}"
    );
    let metrics = until_idle(&server, "slow").await;
    assert_eq!(sample(&metrics, "docket_pool_instances_in_use"), Some(0.0));

    // The rest of the body ends in an error, short of the file.
    let (total, _, cut) = read_rest(response, hasher, read).await;
    eprintln!(
        "slow reader: read {read} bytes, stalled; record {ms} ms, outcome limit (time); \
         then {total} of {} bytes before the cut, {:.1} s after the start",
        64 * MIB,
        started.elapsed().as_secs_f64()
    );
    assert!(
        cut,
        "the cut-off download ended cleanly after {total} bytes"
    );
    assert!(total < 64 * MIB, "{total}");

    // Nothing stuck: the provider answers at once.
    assert_eq!(size_of(&wf, &big).await, 64 * MIB);
    let again = download(&wf, &small).await;
    assert_eq!(again.status, 200);
    assert!(!again.cut);
    assert_eq!(again.bytes, 1024);
    assert_eq!(
        again.sha256,
        common::documents::sha256(&pattern.bytes(1024))
    );
}

#[tokio::test]
async fn transfer_limits_per_request_and_per_day_refuse_beyond() {
    let pattern = Pattern::new();
    let data = tempfile::tempdir().unwrap();
    // Files made under the default limits...
    let (key, one, two) = {
        let server = Server::hosted_in(data.path(), &[]);
        let (_, key) = tenant_with_drive(&server, "acme", 30_000).await;
        let wf = Workfront::new(&server.base, "acme", &key);
        let one = file_of(&wf, &pattern, "one.bin", MIB).await;
        let two = file_of(&wf, &pattern, "two.bin", 2 * MIB).await;
        (key, one, two)
    };
    // ...then served with --max-transfer-mb 1.
    {
        let server = Server::hosted_in(data.path(), &["--max-transfer-mb", "1"]);
        let wf = Workfront::new(&server.base, "acme", &key);

        // An upload of 2 MiB fails, and the file keeps its bytes.
        let sent = raw_upload(&wf, &one, &pattern, 2 * MIB, 2 * MIB).await;
        eprintln!("2 MiB upload at --max-transfer-mb 1: {:?}", sent.response);
        // A refusal may be lost to the connection's reset, never answered 200.
        if let Some((status, body)) = &sent.response {
            assert_ne!(*status, 200, "{body}");
            assert!(body.contains("limit"), "{body}");
        }
        assert_eq!(size_of(&wf, &one).await, MIB);
        let kept = download(&wf, &one).await;
        assert!(!kept.cut);
        assert_eq!(kept.sha256, common::documents::sha256(&pattern.bytes(MIB)));

        // 1 MiB exactly is within the limit.
        let sent = raw_upload(&wf, &one, &pattern, MIB, MIB).await;
        assert_eq!(sent.response.as_ref().map(|r| r.0), Some(200));

        // A download of 2 MiB is cut off, at most 1 MiB through.
        let cut = download(&wf, &two).await;
        eprintln!(
            "2 MiB download at --max-transfer-mb 1: status {}, {} bytes, cut {}",
            cut.status, cut.bytes, cut.cut
        );
        assert_eq!(cut.status, 200);
        assert!(cut.cut, "the download ended cleanly");
        assert!(cut.bytes <= MIB, "{} bytes went through", cut.bytes);
        let record = record_of(&server, "acme", OPERATOR, &cut.request_id).await;
        eprintln!(
            "its run: outcome {}, answer {}",
            record["outcome"], record["answer"]
        );
        assert_ne!(record["outcome"], "success", "{record}");
    }
    let _ = std::fs::remove_file(common::secrets_key_beside(data.path()));

    // 3 MiB a day: an upload and two downloads of 1 MiB use it up.
    let server = Server::hosted(&["--tenant-max-transfer-mb-per-day", "3"]);
    let (_, key) = tenant_with_drive(&server, "daily", 30_000).await;
    let wf = Workfront::new(&server.base, "daily", &key);
    let empty = new_file(&wf, "empty.bin").await;
    let file = file_of(&wf, &pattern, "a.bin", MIB).await;
    for _ in 0..2 {
        let got = download(&wf, &file).await;
        assert_eq!((got.status, got.bytes, got.cut), (200, MIB, false));
    }
    // A download is counted when its run ends, just after its last byte:
    // wait for it with downloads of an empty file, which carry nothing.
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        let raw = wf.call("GET", "download", &[("id", &empty)], None).await;
        if raw.status == 429 {
            break raw.json();
        }
        assert_eq!(raw.status, 200);
        assert!(raw.bytes.is_empty());
        assert!(Instant::now() < deadline, "no 429 after 3 MiB");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!("after 3 MiB: {refused}");
    let error = refused["error"].as_str().unwrap();
    assert!(error.contains("today's limit of 3 MiB"), "{refused}");
    let raw = wf.call("GET", "download", &[("id", &file)], None).await;
    assert_eq!(raw.status, 429);
    let sent = raw_upload(&wf, &file, &pattern, 1024, 1024).await;
    eprintln!("an upload after 3 MiB: {:?}", sent.response);
    if let Some((status, body)) = &sent.response {
        assert_eq!(*status, 429, "{body}");
        assert!(body.contains("today's limit of 3 MiB"), "{body}");
    }
    assert_eq!(size_of(&wf, &file).await, MIB);
    // Calls that carry no document bytes are not limited.
    assert_eq!(size_of(&wf, &empty).await, 0);
}

#[tokio::test]
async fn a_client_gone_mid_upload_leaves_the_file_as_it_was() {
    let server = Server::hosted(&[]);
    let (token, key) = tenant_with_drive(&server, "gone", 30_000).await;
    let wf = Workfront::new(&server.base, "gone", &key);
    let pattern = Pattern::new();
    let id = file_of(&wf, &pattern, "doc.bin", MIB).await;

    // 8 MiB announced, 3 MiB sent, then the connection closes.
    let sent = raw_upload(&wf, &id, &pattern, 8 * MIB, 3 * MIB).await;
    assert_eq!(sent.bytes, 3 * MIB);
    let record = unsuccessful_record(&server, "gone", &token).await;
    eprintln!("upload cut by its client: {record}");
    until_idle(&server, "gone").await;

    assert_eq!(size_of(&wf, &id).await, MIB);
    let kept = download(&wf, &id).await;
    assert!(!kept.cut);
    assert_eq!(kept.sha256, common::documents::sha256(&pattern.bytes(MIB)));
    // The cut-off write's temporary file went with it.
    assert_eq!(temporary_blobs(&server, "gone"), Vec::<String>::new());
}
