//! TLS in front of a single instance (docs/workfront-admin.md): HAProxy run
//! from `deploy/haproxy-tls.cfg`, with only its two ports and the
//! certificate path replaced, terminates TLS with a certificate made for the
//! test and forwards to Docket; Workfront's two calls go through it.

mod common;

use common::cluster::free_port;
use common::haproxy::spawn_checked;
use common::{DOC, KEY, Manifests, Server, VER, message_module, repo_root};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

/// What the shipped configuration says, and what the test puts instead.
const LISTEN_LINE: &str = "bind :8443 ssl crt ";
const CERT_PATH: &str = "/etc/haproxy/certs/docket.pem";
const SERVER_LINE: &str = "server docket 127.0.0.1:8080 ";

/// `openssl`, which makes the test's certificate (`make test-tools` installs it).
fn openssl() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .map(|dir| dir.join("openssl"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "openssl is not installed: `make test-tools` installs it (Debian package openssl)"
            )
        })
}

/// A self-signed certificate for 127.0.0.1 and localhost, made now: returns
/// the certificate (PEM) and HAProxy's file (the certificate, then its key).
fn certificate(dir: &Path) -> (Vec<u8>, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let output = Command::new(openssl())
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "openssl req failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cert = std::fs::read(&cert).unwrap();
    let mut bundle = cert.clone();
    bundle.extend(std::fs::read(&key).unwrap());
    let pem = dir.join("docket.pem");
    std::fs::write(&pem, bundle).unwrap();
    (cert, pem)
}

/// `deploy/haproxy-tls.cfg` with the listening port, the certificate and
/// Docket's address replaced, each exactly where the file has it.
fn config(listen: u16, pem: &Path, docket: &str) -> String {
    let path = repo_root().join("deploy/haproxy-tls.cfg");
    let template = std::fs::read_to_string(&path).unwrap();
    let mut config = String::new();
    let (mut binds, mut servers) = (0, 0);
    for line in template.lines() {
        let code = line.trim_start();
        let replaced = if code.starts_with(LISTEN_LINE) {
            binds += 1;
            line.replace(
                &format!("{LISTEN_LINE}{CERT_PATH}"),
                &format!("bind 127.0.0.1:{listen} ssl crt {}", pem.display()),
            )
        } else if code.starts_with(SERVER_LINE) {
            servers += 1;
            line.replace(SERVER_LINE, &format!("server docket {docket} "))
        } else {
            line.to_owned()
        };
        config.push_str(&replaced);
        config.push('\n');
    }
    assert_eq!(
        (binds, servers),
        (1, 1),
        "{} should have one `{LISTEN_LINE}{CERT_PATH} …` line and one `{SERVER_LINE}…` line",
        path.display()
    );
    assert!(config.contains(&pem.display().to_string()), "{config}");
    config
}

/// HAProxy in the foreground on a configuration. Killed on drop.
struct Haproxy {
    child: Child,
    log: PathBuf,
}

impl Haproxy {
    fn start(dir: &Path, config: &str, port: u16) -> Self {
        let (child, log) = spawn_checked(dir, config, port, "deploy/haproxy-tls.cfg");
        Self { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Workfront's calls reach Docket over HTTPS through HAProxy with the shipped
/// configuration: serviceInfo (no key) and customAction (with the apiKey and
/// username headers). A client that does not trust the certificate is
/// refused, and the banner shows both the bind address and the public URL.
#[tokio::test]
async fn workfront_reaches_docket_over_tls_through_the_shipped_haproxy_config() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, pem) = certificate(dir.path());
    let port = free_port();
    let public = format!("https://127.0.0.1:{port}");

    let manifests = Manifests::new();
    manifests.action("acme", "hello", &message_module("hello over TLS"), "");
    let docket = Server::start_with(manifests.path(), &["acme"], &["--public-url", &public]);
    let first = &docket.stdout_lines[0];
    assert_eq!(
        *first,
        format!(
            "docket listening on {}; Workfront reaches it at {public}",
            docket.base
        ),
        "the banner names the bind address and the public URL"
    );
    let banner = docket.stdout_lines.join("\n");
    assert!(
        banner.contains(&format!("Base API URL: {public}/t/acme")),
        "{banner}"
    );

    let docket_addr = docket.base.trim_start_matches("http://");
    let haproxy = Haproxy::start(dir.path(), &config(port, &pem, docket_addr), port);

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let response = client
        .get(format!("{public}/t/acme/serviceInfo"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("serviceInfo through HAProxy: {e:?}\n{}", haproxy.log()));
    assert_eq!(response.status(), 200, "{}", haproxy.log());
    assert_eq!(
        response
            .headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000")
    );
    let info: serde_json::Value = response.json().await.unwrap();
    assert_eq!(info["customActions"][0]["name"], "hello", "{info}");
    assert_eq!(
        info["customActions"][0]["displayName"], "Test hello",
        "{info}"
    );

    let response = client
        .get(format!(
            "{public}/t/acme/customAction?name=hello&documentId={DOC}&documentVersionId={VER}"
        ))
        .header("apiKey", KEY)
        .header("username", "jane.doe")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["status"], "success", "{answer}");
    assert_eq!(answer["message"], "hello over TLS", "{answer}");

    // A wrong key is Docket's 403, passed through unchanged.
    let response = client
        .get(format!(
            "{public}/t/acme/customAction?name=hello&documentId={DOC}&documentVersionId={VER}"
        ))
        .header("apiKey", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    // The certificate is what a client checks: without trusting it, no answer.
    let untrusting = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let refused = untrusting
        .get(format!("{public}/t/acme/serviceInfo"))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "a self-signed certificate must not be trusted by default"
    );
    // And plain HTTP on the TLS port gets no Docket answer.
    let plain = untrusting
        .get(format!("http://127.0.0.1:{port}/t/acme/serviceInfo"))
        .send()
        .await;
    assert!(
        !matches!(&plain, Ok(r) if r.status() == 200),
        "plain HTTP must not reach Docket through the TLS port"
    );

    let log = haproxy.log();
    assert!(
        log.contains("docket_tls~ docket/docket"),
        "HAProxy's log should show requests over TLS (frontend docket_tls~) served by Docket:\n{log}"
    );
}
