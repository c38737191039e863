//! The web console's server side through the real binary: the page and its
//! assets, sign-in sessions (cookie, CSRF, expiry, sign-out, rotation,
//! suspension, tenant boundaries, replicas behind HAProxy), "Try it" and the
//! invocation summaries. The browser itself is driven in `console_browser.rs`.

mod common;

use common::haproxy::{Haproxy, fixed_port};
use common::{OPERATOR, Server, message_module};
use serde_json::{Value, json};

const MANIFEST: &str = "name = \"greet\"\ndisplay-name = \"Greet\"\n";

/// A browser as the console's script is one: a session cookie (sent by
/// hand, so each test says exactly what it sends) and the CSRF token.
struct Browser {
    client: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

impl Browser {
    /// Signs in at `base`; panics unless it answers 201 with a cookie.
    async fn sign_in(base: &str, tenant: Option<&str>, token: &str) -> Self {
        let (status, body, cookie) = sign_in(base, tenant, token).await;
        assert_eq!(status, 201, "{body}");
        let cookie = cookie.expect("a Set-Cookie header");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Strict"), "{cookie}");
        assert!(cookie.contains("Path=/admin/v1"), "{cookie}");
        let pair = cookie.split(';').next().unwrap().trim().to_owned();
        Self {
            client: reqwest::Client::new(),
            base: base.to_owned(),
            cookie: pair,
            csrf: body["csrfToken"].as_str().unwrap().to_owned(),
        }
    }

    /// An admin request with the session cookie; the CSRF header only when
    /// `csrf` is given.
    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        csrf: Option<&str>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self
            .client
            .request(method, format!("{}/admin/v1{path}", self.base))
            .header("cookie", &self.cookie);
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A GET with the cookie.
    async fn get(&self, path: &str) -> (u16, Value) {
        self.send("GET", path, None, None).await
    }

    /// A change, with the session's CSRF token.
    async fn change(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let csrf = self.csrf.clone();
        self.send(method, path, body, Some(&csrf)).await
    }
}

/// `POST /admin/v1/session`: status, body and the Set-Cookie header.
async fn sign_in(base: &str, tenant: Option<&str>, token: &str) -> (u16, Value, Option<String>) {
    let mut body = json!({ "token": token });
    if let Some(tenant) = tenant {
        body["tenant"] = json!(tenant);
    }
    let response = reqwest::Client::new()
        .post(format!("{base}/admin/v1/session"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let cookie = response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, cookie)
}

/// Tenants `acme` (with `greet`) and `globex`; returns their admin tokens
/// and acme's webhook key.
async fn two_tenants(server: &Server) -> (String, String, String) {
    let (acme, acme_key) = server.create_tenant("acme", json!({})).await;
    let (globex, _) = server.create_tenant("globex", json!({})).await;
    let (status, body) = server
        .deploy("acme", &acme, MANIFEST, message_module("hello from acme"))
        .await;
    assert_eq!(status, 201, "{body}");
    (acme, globex, acme_key)
}

#[tokio::test]
async fn the_console_page_and_its_assets_are_served_under_a_strict_policy() {
    let server = Server::hosted(&[]);
    let client = reqwest::Client::new();
    let page = client
        .get(format!("{}/console", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "is console/dist built? (make console)");
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    let etag = page.headers()["etag"].to_str().unwrap().to_owned();
    let html = page.text().await.unwrap();
    assert!(html.contains("/console/assets/app.js"), "{html}");
    assert!(!html.contains("<script>"), "no inline script: {html}");

    let script = client
        .get(format!("{}/console/assets/app.js", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(script.text().await.unwrap().contains("/admin/v1"));

    let again = client
        .get(format!("{}/console", server.base))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304, "unchanged assets are revalidated");
    for missing in [
        "/console/assets/nothing.js",
        "/console/assets/..%2fCargo.toml",
    ] {
        let response = client
            .get(format!("{}{missing}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{missing}");
    }
}

#[tokio::test]
async fn a_tenant_session_opens_its_own_tenant_only() {
    let server = Server::hosted(&[]);
    let (acme, globex, _) = two_tenants(&server).await;
    let browser = Browser::sign_in(&server.base, Some("acme"), &acme).await;

    let (status, session) = browser.get("/session").await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["role"], "tenant");
    assert_eq!(session["tenant"], "acme");
    assert_eq!(session["csrfToken"], browser.csrf.as_str());
    assert_eq!(session["publicUrl"], server.base.as_str());
    let (status, actions) = browser.get("/tenants/acme/actions").await;
    assert_eq!(status, 200, "{actions}");
    let (status, tenant) = browser.get("/tenants/acme").await;
    assert_eq!(status, 200, "{tenant}");
    assert_eq!(tenant["usage"]["actions"], 1);
    assert!(
        tenant["usage"]["storageBytes"].as_u64().unwrap() > 0,
        "{tenant}"
    );

    // Another tenant's pages and calls, and the operator's, are refused
    // as a wrong token would be.
    for path in [
        "/tenants/globex",
        "/tenants/globex/actions",
        "/tenants/globex/keys",
        "/tenants/globex/invocations",
        "/tenants/globex/invocations/summary",
        "/tenants",
        "/invocations/summary",
    ] {
        let (status, body) = browser.get(path).await;
        assert_eq!(status, 403, "{path}: {body}");
    }
    let (status, body) = browser
        .change("POST", "/tenants/globex/keys", Some(json!({})))
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = browser
        .change(
            "POST",
            "/tenants/globex/try",
            Some(json!({"endpoint": "customAction", "params": {"name": "greet"}})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    // The other tenant's token does not sign in to acme, nor acme's to globex.
    for (tenant, token) in [("acme", &globex), ("globex", &acme)] {
        let (status, body, cookie) = sign_in(&server.base, Some(tenant), token).await;
        assert_eq!(status, 403, "{body}");
        assert!(cookie.is_none());
    }
    let (status, body, _) = sign_in(&server.base, None, &acme).await;
    assert_eq!(status, 403, "a tenant token is not the operator's: {body}");
    let (status, body, _) = sign_in(&server.base, Some("nobody"), &acme).await;
    assert_eq!(status, 403, "{body}");

    // A bearer token wins over a cookie: the cookie adds nothing to it.
    let response = reqwest::Client::new()
        .get(format!("{}/admin/v1/tenants/acme", server.base))
        .header("cookie", &browser.cookie)
        .bearer_auth(&globex)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    // The operator's session sees every tenant.
    let operator = Browser::sign_in(&server.base, None, OPERATOR).await;
    let (status, session) = operator.get("/session").await;
    assert_eq!((status, &session["role"]), (200, &json!("operator")));
    let (status, tenants) = operator.get("/tenants").await;
    assert_eq!(status, 200, "{tenants}");
    let (status, _) = operator.get("/tenants/globex/actions").await;
    assert_eq!(status, 200);

    // The operator's list carries each tenant's usage, as its own page does.
    for name in ["acme", "globex"] {
        let listed = tenants["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {tenants}"));
        let (status, own) = operator.get(&format!("/tenants/{name}")).await;
        assert_eq!(status, 200, "{own}");
        assert_eq!(listed["usage"], own["usage"], "{name}");
    }
    let storage = |name: &str| {
        tenants["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .and_then(|t| t["usage"]["storageBytes"].as_u64())
    };
    assert!(
        storage("acme") > Some(0),
        "acme deployed an action: {tenants}"
    );
    assert_eq!(storage("globex"), Some(0), "{tenants}");
}

#[tokio::test]
async fn changes_without_the_csrf_token_are_refused() {
    let server = Server::hosted(&[]);
    let (acme, _, _) = two_tenants(&server).await;
    let browser = Browser::sign_in(&server.base, Some("acme"), &acme).await;
    for csrf in [None, Some("0123"), Some("")] {
        let (status, body) = browser
            .send("POST", "/tenants/acme/keys", Some(json!({})), csrf)
            .await;
        assert_eq!(status, 403, "{csrf:?}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("X-CSRF-Token"),
            "{body}"
        );
        let (status, body) = browser
            .send("DELETE", "/tenants/acme/actions/greet", None, csrf)
            .await;
        assert_eq!(status, 403, "{body}");
        let (status, body) = browser.send("DELETE", "/session", None, csrf).await;
        assert_eq!(status, 403, "{body}");
    }
    let (_, keys) = browser.get("/tenants/acme/keys").await;
    assert_eq!(
        keys["keys"].as_array().unwrap().len(),
        1,
        "no key was made: {keys}"
    );
    let (status, actions) = browser.get("/tenants/acme/actions").await;
    assert_eq!(
        (status, actions["actions"].as_array().unwrap().len()),
        (200, 1)
    );

    let (status, body) = browser
        .change("POST", "/tenants/acme/keys", Some(json!({})))
        .await;
    assert_eq!(
        status, 201,
        "with its token the change goes through: {body}"
    );
    // Another session's token does not do.
    let other = Browser::sign_in(&server.base, Some("acme"), &acme).await;
    let (status, _) = browser
        .send(
            "POST",
            "/tenants/acme/keys",
            Some(json!({})),
            Some(&other.csrf),
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn sign_out_rotation_and_suspension_end_a_session() {
    let server = Server::hosted(&[]);
    let (acme, globex, _) = two_tenants(&server).await;

    // Signing out ends the session on the server, not only in the browser.
    let browser = Browser::sign_in(&server.base, Some("acme"), &acme).await;
    let (status, _) = browser.change("DELETE", "/session", None).await;
    assert_eq!(status, 204);
    let (status, body) = browser.get("/tenants/acme/actions").await;
    assert_eq!(status, 401, "{body}");
    let (status, _) = browser.get("/session").await;
    assert_eq!(status, 401);

    // Rotating the admin token ends every session made with the old one.
    let browser = Browser::sign_in(&server.base, Some("acme"), &acme).await;
    let (status, rotated) = browser
        .change("POST", "/tenants/acme/admin-token", None)
        .await;
    assert_eq!(status, 201, "{rotated}");
    let (status, body) = browser.get("/tenants/acme/actions").await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("sign in again"),
        "{body}"
    );
    let new_token = rotated["adminToken"].as_str().unwrap();
    let browser = Browser::sign_in(&server.base, Some("acme"), new_token).await;

    // A suspended tenant's session is refused as its token is.
    let (status, _) = server
        .admin(
            "PATCH",
            "/tenants/acme",
            Some(OPERATOR),
            Some(json!({"suspended": true})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = browser.get("/tenants/acme/actions").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "this tenant is suspended");
    let (status, body, _) = sign_in(&server.base, Some("acme"), new_token).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "this tenant is suspended");

    // Deleting the tenant ends its sessions for good, even when the name
    // comes back.
    let (status, _) = server
        .admin("DELETE", "/tenants/acme", Some(OPERATOR), None)
        .await;
    assert_eq!(status, 204);
    server.create_tenant("acme", json!({})).await;
    let (status, _) = browser.get("/tenants/acme/actions").await;
    assert!(status == 401 || status == 403, "{status}");
    drop(globex);
}

#[tokio::test]
async fn a_session_expires() {
    let server = Server::hosted(&["--console-session-seconds", "2"]);
    let (acme, _, _) = two_tenants(&server).await;
    let browser = Browser::sign_in(&server.base, Some("acme"), &acme).await;
    let (status, _) = browser.get("/tenants/acme/actions").await;
    assert_eq!(status, 200);
    let (_, session) = browser.get("/session").await;
    assert!(session["expiresAt"].as_str().unwrap().ends_with('Z'));
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let (status, body) = browser.get("/tenants/acme/actions").await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error"].as_str().unwrap().contains("ended"), "{body}");
}

#[tokio::test]
async fn try_it_answers_what_workfront_would_get_and_logs_the_call() {
    let server = Server::hosted(&[]);
    let (acme, _, key) = two_tenants(&server).await;
    let browser = Browser::sign_in(&server.base, Some("acme"), &acme).await;
    let call = json!({
        "endpoint": "customAction",
        "params": {"name": "greet", "documentId": "d1", "documentVersionId": "v1", "stage": "legal"},
        "username": "ada@example.com",
    });
    let (status, answer) = browser
        .change("POST", "/tenants/acme/try", Some(call))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(answer["body"]["status"], "success");
    assert_eq!(answer["body"]["message"], "hello from acme");
    let (_, direct) = server.call("acme", "greet", &key).await;
    assert_eq!(answer["body"], direct, "the same answer Workfront gets");
    let request_id = answer["requestId"].as_str().unwrap();
    let (records, _) = common::cluster::eventually(
        "the try's run log record",
        std::time::Duration::from_secs(10),
        || async {
            let (_, list) = browser
                .get(&format!("/tenants/acme/invocations?requestId={request_id}"))
                .await;
            list["invocations"]
                .as_array()
                .filter(|l| !l.is_empty())
                .cloned()
        },
    )
    .await;
    assert_eq!(records[0]["action"], "greet");
    assert_eq!(records[0]["outcome"], "success");

    // A refusal is shown as Workfront would see it, with its status.
    let (status, answer) = browser
        .change(
            "POST",
            "/tenants/acme/try",
            Some(json!({"endpoint": "customAction", "params": {"name": "nope", "documentId": "d", "documentVersionId": "v"}})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer["status"], 404, "{answer}");
    assert!(answer["body"]["error"].is_string(), "{answer}");
    // An endpoint this tenant has no provider for: Workfront's 501.
    let (_, answer) = browser
        .change(
            "POST",
            "/tenants/acme/try",
            Some(json!({"endpoint": "files", "params": {"parentId": "/"}})),
        )
        .await;
    assert_eq!(answer["status"], 501, "{answer}");
    let (status, body) = browser
        .change(
            "POST",
            "/tenants/acme/try",
            Some(json!({"endpoint": "upload", "params": {}})),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // The proof a try carries cannot be forged from outside.
    let response = reqwest::Client::new()
        .get(format!(
            "{}/t/acme/customAction?name=greet&documentId=d&documentVersionId=v",
            server.base
        ))
        .header("x-docket-console-trial", "00".repeat(32))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    // The summary counts the try and the direct call (records are written
    // off the request path, so a moment later).
    let (summary, _) = common::cluster::eventually(
        "both calls in the summary",
        std::time::Duration::from_secs(10),
        || async {
            let (status, summary) = browser
                .get("/tenants/acme/invocations/summary?minutes=5&buckets=5")
                .await;
            assert_eq!(status, 200, "{summary}");
            let total: u64 = summary["buckets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["invocations"].as_u64().unwrap())
                .sum();
            (total >= 2).then_some(summary)
        },
    )
    .await;
    assert_eq!(summary["buckets"].as_array().unwrap().len(), 5);
    let (status, body) = browser
        .get("/tenants/acme/invocations/summary?buckets=0")
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, server_wide) = server
        .admin("GET", "/invocations/summary", Some(OPERATOR), None)
        .await;
    assert_eq!(status, 200, "{server_wide}");
}

/// Three replicas on one PostgreSQL database behind HAProxy, as
/// `make cluster` runs them: a session made through one replica is good on
/// every other, and signing out through one ends it on all.
#[tokio::test(flavor = "multi_thread")]
async fn sessions_work_across_replicas_behind_haproxy() {
    common::haproxy::haproxy_binary();
    let db = common::cluster::Database::create().await;
    let ports = [fixed_port(), fixed_port(), fixed_port()];
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let replicas: Vec<Server> = ports
        .iter()
        .zip(&dirs)
        .map(|(port, dir)| Server::replica(&db.url, &format!("127.0.0.1:{port}"), dir.path()))
        .collect();
    let lb = Haproxy::start(common::cluster::free_port(), ports);
    let client = common::haproxy::client();
    common::haproxy::in_rotation(&client, &lb, 3).await;
    let (token, _) = common::haproxy::create_acme(&client, &lb.base).await;
    common::haproxy::known_everywhere(&replicas, &token).await;

    let browser = Browser::sign_in(&lb.base, Some("acme"), &token).await;
    // Round robin spreads these over all three replicas.
    for _ in 0..6 {
        let (status, body) = browser.get("/tenants/acme/actions").await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = browser
            .change(
                "PATCH",
                "/tenants/acme",
                Some(json!({"failureWord": "problem"})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    for replica in &replicas {
        let at_replica = Browser {
            base: replica.base.clone(),
            ..Browser::clone_of(&browser)
        };
        let (status, body) = at_replica.get("/session").await;
        assert_eq!(status, 200, "{}: {body}", replica.base);
    }
    let (status, _) = browser.change("DELETE", "/session", None).await;
    assert_eq!(status, 204);
    for replica in &replicas {
        let at_replica = Browser {
            base: replica.base.clone(),
            ..Browser::clone_of(&browser)
        };
        let (status, body) = at_replica.get("/tenants/acme/actions").await;
        assert_eq!(status, 401, "signed out everywhere: {body}");
    }
}

impl Browser {
    fn clone_of(other: &Browser) -> Browser {
        Browser {
            client: other.client.clone(),
            base: other.base.clone(),
            cookie: other.cookie.clone(),
            csrf: other.csrf.clone(),
        }
    }
}
