//! Document providers through the real binary, as Workfront calls them:
//! both example providers pass one suite (Docket Drive on the blob
//! capability; the JavaScript WebDAV provider against a real WebDAV server,
//! `rclone serve webdav`), and the pipeline's refusals hold for them
//! (another tenant's key, endpoints a provider leaves out, a tenant
//! without a provider, a provider deployed as what it is not).

mod common;

use common::documents::{Workfront, provider_suite};
use common::{OPERATOR, Server, example_action};
use serde_json::json;
use std::process::{Child, Command, Stdio};

/// Docket Drive's manifest as the demo tenant deploys it.
const DRIVE: &str = r#"
name = "docket-drive"
kind = "provider"
display-name = "Docket Drive"
[limits]
timeout-ms = 30000
memory-mb = 128
[capabilities]
key-value = "action"
blob = true
"#;

async fn tenant_with_drive(server: &Server, tenant: &str) -> (String, String) {
    let (token, key) = server.create_tenant(tenant, json!({})).await;
    let (status, body) = server
        .deploy(tenant, &token, DRIVE, example_action("docket-drive"))
        .await;
    assert_eq!(status, 201, "{body}");
    (token, key)
}

#[tokio::test]
async fn docket_drive_passes_the_provider_suite() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::hosted_in(data.path(), &[]);
    let (_, key) = tenant_with_drive(&server, "acme").await;
    let wf = Workfront::new(&server.base, "acme", &key);
    provider_suite(&wf, "Suite").await;
    let home = common::documents::find_id(&wf, "/", "Suite").await;
    let kept = common::documents::find_id(&wf, &home, "a.txt").await;

    // Drive has no URLs of its own: Docket links its files to signed
    // downloads a browser opens without Workfront's headers.
    let (_, meta) = wf.get("metadata", &[("id", &kept)]).await;
    let link = meta["downloadLink"]
        .as_str()
        .expect("a download link")
        .to_owned();
    let view = meta["viewLink"].as_str().expect("a view link").to_owned();
    assert!(
        link.starts_with(&format!("{}/t/acme/download?", server.base)),
        "{link}"
    );
    let browser = reqwest::Client::new();
    // Again and again: a file this small is often written before the
    // server looks for its head, which once answered the call's JSON.
    for _ in 0..100 {
        let opened = browser.get(&link).send().await.unwrap();
        assert_eq!(opened.status(), 200);
        assert_eq!(opened.bytes().await.unwrap(), &b"a.txt"[..]);
    }
    let viewed = browser.get(&view).send().await.unwrap();
    assert_eq!(viewed.status(), 200);
    let disposition = viewed.headers()["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("inline"), "{disposition}");
    // A link opens its own document only, as signed.
    let other = common::documents::find_id(&wf, &home, "b.txt").await;
    let forged = link.replace(&format!("id={kept}"), &format!("id={other}"));
    assert_eq!(browser.get(&forged).send().await.unwrap().status(), 403);
    let flipped = if link.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{flipped}", &link[..link.len() - 1]);
    assert_eq!(browser.get(&tampered).send().await.unwrap().status(), 403);
    let (_, folder) = wf.get("metadata", &[("id", &home)]).await;
    assert!(folder.get("downloadLink").is_none(), "{folder}");
    drop(server);

    // What Drive stored (its tree in the key-value store, its bytes in
    // blobs) is there after a restart.
    let server = Server::hosted_in(data.path(), &[]);
    let wf = Workfront::new(&server.base, "acme", &key);
    let download = wf.call("GET", "download", &[("id", &kept)], None).await;
    assert_eq!(download.status, 200);
    assert_eq!(download.bytes, b"a.txt");
}

/// A real WebDAV server on a free port, serving a temporary directory.
struct WebDav {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl WebDav {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("rclone")
            .args(["serve", "webdav"])
            .arg(dir.path())
            .args(["--addr", &format!("127.0.0.1:{port}")])
            .args(["--config", "/dev/null", "--dir-cache-time", "0s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rclone is not installed: `make test-tools` installs it (Debian's rclone)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self {
                    child,
                    port,
                    _dir: dir,
                };
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        panic!("rclone serve webdav did not start");
    }
}

impl Drop for WebDav {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_javascript_webdav_provider_passes_the_provider_suite() {
    let webdav = WebDav::start();
    let server = Server::hosted(&["--allow-private-outbound"]);
    let (token, key) = server.create_tenant("dav", json!({})).await;
    let origin = format!("http://127.0.0.1:{}", webdav.port);
    let manifest = format!(
        r#"
name = "js-webdav"
kind = "provider"
display-name = "WebDAV (JavaScript)"
[limits]
timeout-ms = 30000
memory-mb = 128
[capabilities]
allowed-outbound-hosts = ["{origin}"]
[config]
base-url = "{origin}/"
"#
    );
    let (status, body) = server
        .deploy("dav", &token, &manifest, example_action("js-webdav"))
        .await;
    assert_eq!(status, 201, "{body}");
    let wf = Workfront::new(&server.base, "dav", &key);
    let endpoints = wf.endpoints().await;
    assert!(
        !endpoints.contains(&"thumbnail".to_owned()),
        "{endpoints:?}"
    );
    provider_suite(&wf, "Suite").await;
}

#[tokio::test]
async fn refusals_hold_for_document_endpoints() {
    let server = Server::hosted(&[]);
    let (token, key) = tenant_with_drive(&server, "acme").await;
    let (other_token, other_key) = server.create_tenant("globex", json!({})).await;
    let acme = Workfront::new(&server.base, "acme", &key);

    // Another tenant's key is refused before anything runs.
    let intruder = Workfront::new(&server.base, "acme", &other_key);
    let (status, body) = intruder.get("files", &[("parentId", "/")]).await;
    assert_eq!(status, 403, "{body}");

    // A tenant without a provider answers 501 for document endpoints, and
    // lists only serviceInfo and customAction.
    let globex = Workfront::new(&server.base, "globex", &other_key);
    let (status, body) = globex.get("metadata", &[("id", "/")]).await;
    assert_eq!(status, 501, "{body}");
    assert_eq!(globex.endpoints().await, ["serviceInfo", "customAction"]);

    // The provider is not a custom action.
    let (status, body) = server
        .get(
            "/t/acme/customAction?name=docket-drive&documentId=d&documentVersionId=v",
            &[("apiKey", &key)],
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (_, info) = acme.get("serviceInfo", &[]).await;
    assert_eq!(info["customActions"], json!([]), "{info}");

    // A provider narrowed to two endpoints lists exactly those; the rest are 501.
    let narrowed = DRIVE.replace(
        "display-name",
        "endpoints = [\"metadata\", \"files\"]\ndisplay-name",
    );
    let (status, body) = server
        .deploy("acme", &token, &narrowed, example_action("docket-drive"))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        acme.endpoints().await,
        ["serviceInfo", "customAction", "metadata", "files"]
    );
    let raw = acme.call("GET", "thumbnail", &[("id", "/")], None).await;
    assert_eq!(raw.status, 501);
    assert!(
        raw.json()["error"].as_str().unwrap().contains("thumbnail"),
        "{}",
        raw.json()
    );

    // Unknown endpoints are 404, a wrong method 405, a bad number 400.
    let (status, _) = acme.get("teleport", &[]).await;
    assert_eq!(status, 404);
    let raw = acme.call("POST", "files", &[("parentId", "/")], None).await;
    assert_eq!(raw.status, 405, "{}", raw.json());
    assert!(raw.json()["error"].as_str().unwrap().contains("GET"));
    // An endpoint the provider does not answer is a 501 whatever the method.
    let raw = acme
        .call("GET", "createFolder", &[("name", "x")], None)
        .await;
    assert_eq!(raw.status, 501, "{}", raw.json());
    let (status, body) = acme.get("files", &[("max", "lots")]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("max"), "{body}");

    // Deploys that mistake what a module is are refused, saying what to change.
    let as_action = DRIVE
        .replace("kind = \"provider\"\n", "")
        .replace("blob = true", "");
    let (status, body) = server
        .deploy(
            "globex",
            &other_token,
            &as_action,
            example_action("docket-drive"),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("add kind"), "{body}");
    let action_as_provider = "name = \"tag\"\nkind = \"provider\"\n";
    let (status, body) = server
        .deploy(
            "globex",
            &other_token,
            action_as_provider,
            example_action("workfront-tag"),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let second = DRIVE.replace("name = \"docket-drive\"", "name = \"drive-two\"");
    let (status, body) = server
        .deploy("acme", &token, &second, example_action("docket-drive"))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("one provider"), "{body}");

    // The operator may not call document endpoints as a tenant.
    let operator = Workfront::new(&server.base, "acme", OPERATOR);
    let (status, _) = operator.get("metadata", &[("id", "/")]).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_provider_is_versioned_rolled_back_and_deleted_like_an_action() {
    let server = Server::hosted(&[]);
    let (token, key) = tenant_with_drive(&server, "acme").await;
    let wf = Workfront::new(&server.base, "acme", &key);
    let all = wf.endpoints().await;

    // Version 2 answers two endpoints; rolling back to 1 brings the rest back.
    let narrowed = DRIVE.replace(
        "display-name",
        "endpoints = [\"metadata\", \"files\"]\ndisplay-name",
    );
    let (status, body) = server
        .deploy("acme", &token, &narrowed, example_action("docket-drive"))
        .await;
    assert_eq!((status, body["version"].as_u64()), (201, Some(2)), "{body}");
    let (status, listed) = server
        .admin("GET", "/tenants/acme/actions", Some(&token), None)
        .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["actions"][0]["kind"], "provider", "{listed}");
    assert_eq!(
        listed["actions"][0]["endpoints"],
        json!(["metadata", "files"])
    );
    let (status, body) = server
        .admin(
            "POST",
            "/tenants/acme/actions/docket-drive/rollback",
            Some(&token),
            Some(json!({"version": 1})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(wf.endpoints().await, all);

    // A deleted tenant's documents are gone: one made again under its name
    // starts with an empty drive.
    wf.upload("/", "kept.txt", b"secret".to_vec()).await;
    let blobs = server.data_dir.join("blobs").join("acme");
    assert!(blobs.exists());
    let (status, body) = server
        .admin("DELETE", "/tenants/acme", Some(OPERATOR), None)
        .await;
    assert!(!blobs.exists(), "the deleted tenant's blobs are removed");
    assert!(status == 200 || status == 204, "{status} {body}");
    let (_, key) = tenant_with_drive(&server, "acme").await;
    let wf = Workfront::new(&server.base, "acme", &key);
    assert!(wf.titles("/", "100", "0").await.is_empty());
}
