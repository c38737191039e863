//! The hosted multi-tenant service through the real binary: tenants, deploys,
//! versions, rollbacks, keys, quotas, isolation, persistence and crash safety.

mod common;

use common::{OPERATOR, Server, guest, message_module};
use serde_json::{Value, json};

fn manifest(name: &str) -> String {
    format!("name = \"{name}\"\ndisplay-name = \"The {name} action\"\n")
}

/// Creates tenant `acme` with a `greet` action answering `message`; returns
/// (admin token, webhook key).
async fn acme_with_greet(server: &Server, message: &str) -> (String, String) {
    let (token, key) = server.create_tenant("acme", json!({})).await;
    let (status, body) = server
        .deploy("acme", &token, &manifest("greet"), message_module(message))
        .await;
    assert_eq!(status, 201, "{body}");
    (token, key)
}

/// `acme`'s `greet` versions as (version, live) pairs, newest first.
async fn greet_versions(server: &Server, token: &str) -> Vec<(u64, bool)> {
    let path = "/tenants/acme/actions/greet/versions";
    let (status, body) = server.admin("GET", path, Some(token), None).await;
    assert_eq!(status, 200, "{body}");
    versions(&body)
}

fn versions(body: &Value) -> Vec<(u64, bool)> {
    body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["version"].as_u64().unwrap(), v["live"].as_bool().unwrap()))
        .collect()
}

/// Create → deploy v1 → deploy v2 → roll back → restart: the live pointer and
/// the history survive, and invocations always see the live version.
#[tokio::test]
async fn full_lifecycle_survives_a_restart() {
    let server = Server::hosted(&[]);
    let (token, key) = server.create_tenant("acme", json!({})).await;

    let (status, body) = server
        .deploy("acme", &token, &manifest("greet"), message_module("v1"))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        (
            body["name"].as_str(),
            body["version"].as_u64(),
            body["abi"].as_str()
        ),
        (Some("greet"), Some(1), Some("command"))
    );
    assert_eq!(server.call("acme", "greet", &key).await.1["message"], "v1");

    let (status, body) = server
        .deploy("acme", &token, &manifest("greet"), message_module("v2"))
        .await;
    assert_eq!((status, body["version"].as_u64()), (201, Some(2)));
    assert_eq!(server.call("acme", "greet", &key).await.1["message"], "v2");

    let (status, body) = server
        .admin(
            "POST",
            "/tenants/acme/actions/greet/rollback",
            Some(&token),
            Some(json!({"version": 1})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.call("acme", "greet", &key).await.1["message"], "v1");

    let data = server.crash().expect("owned data dir");
    let server = Server::hosted_in(data.path(), &[]);
    assert_eq!(server.call("acme", "greet", &key).await.1["message"], "v1");
    assert_eq!(
        greet_versions(&server, &token).await,
        [(2, false), (1, true)]
    );
    let (_, info) = server
        .admin("GET", "/tenants/acme/actions", Some(&token), None)
        .await;
    assert_eq!(info["actions"][0]["liveVersion"], 1);
    assert_eq!(info["actions"][0]["displayName"], "The greet action");
    let (_, service) = server.get("/t/acme/serviceInfo", &[]).await;
    assert_eq!(
        service["customActions"],
        json!([{"name": "greet", "displayName": "The greet action"}])
    );
    drop(data);
}

/// After a restart, compiled artifacts are read back rather than recompiled.
#[tokio::test]
async fn restart_reuses_compiled_artifacts() {
    let server = Server::hosted(&[]);
    let (_token, key) = acme_with_greet(&server, "cached").await;
    let artifacts = std::fs::read_dir(server.data_dir.join("artifacts"))
        .unwrap()
        .count();
    assert_eq!(artifacts, 1, "one artifact per module");
    let data = server.crash().unwrap();
    let server = Server::hosted_in(data.path(), &["--max-module-mb", "32"]);
    assert_eq!(
        server.call("acme", "greet", &key).await.1["message"],
        "cached"
    );
    let log = server.stderr();
    assert!(log.contains("from=\"artifact\""), "{log}");
    assert!(!log.contains("from=\"bytes\""), "{log}");
    drop(data);
}

/// Every tenant route refuses another tenant's admin token; every webhook
/// refuses another tenant's apiKey.
#[tokio::test]
async fn cross_tenant_access_is_refused_everywhere() {
    let server = Server::hosted(&[]);
    let (token_a, key_a) = server.create_tenant("alpha", json!({})).await;
    let (token_b, key_b) = server.create_tenant("bravo", json!({})).await;
    server
        .deploy(
            "bravo",
            &token_b,
            &manifest("secret"),
            message_module("bravo only"),
        )
        .await;
    let (_, keys) = server
        .admin("GET", "/tenants/bravo/keys", Some(&token_b), None)
        .await;
    let bravo_key_id = keys["keys"][0]["id"].as_str().unwrap().to_owned();

    let routes: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", "/tenants/bravo".into(), None),
        (
            "PATCH",
            "/tenants/bravo".into(),
            Some(json!({"failureWord": "error"})),
        ),
        ("GET", "/tenants/bravo/actions".into(), None),
        ("GET", "/tenants/bravo/actions/secret/versions".into(), None),
        (
            "POST",
            "/tenants/bravo/actions/secret/rollback".into(),
            Some(json!({"version": 1})),
        ),
        ("DELETE", "/tenants/bravo/actions/secret".into(), None),
        ("POST", "/tenants/bravo/keys".into(), None),
        ("GET", "/tenants/bravo/keys".into(), None),
        (
            "DELETE",
            format!("/tenants/bravo/keys/{bravo_key_id}"),
            None,
        ),
        ("GET", "/tenants/bravo/invocations".into(), None),
        ("GET", "/tenants/bravo/secrets".into(), None),
        (
            "PUT",
            "/tenants/bravo/secrets/token".into(),
            Some(json!({"value": "stolen"})),
        ),
        ("DELETE", "/tenants/bravo/secrets/token".into(), None),
        ("GET", "/tenants/nonexistent/actions".into(), None),
        // Operator-only routes refuse tenant tokens.
        ("GET", "/tenants".into(), None),
        ("POST", "/tenants".into(), Some(json!({"name": "mallory"}))),
        ("DELETE", "/tenants/bravo".into(), None),
        (
            "PATCH",
            "/tenants/alpha".into(),
            Some(json!({"suspended": false})),
        ),
    ];
    for (method, path, body) in routes {
        let (status, answer) = server.admin(method, &path, Some(&token_a), body).await;
        assert_eq!(status, 403, "{method} {path} with alpha's token: {answer}");
        assert!(!answer.to_string().contains("bravo only"));
    }
    let (status, _) = server
        .deploy("bravo", &token_a, &manifest("evil"), message_module("x"))
        .await;
    assert_eq!(status, 403, "deploy into bravo with alpha's token");

    // Webhooks: alpha's key opens nothing of bravo's.
    assert_eq!(server.call("bravo", "secret", &key_a).await.0, 403);
    assert_eq!(server.call("bravo", "secret", &key_b).await.0, 200);
    // Nothing changed in bravo.
    let (_, body) = server
        .admin("GET", "/tenants/bravo/actions", Some(&token_b), None)
        .await;
    assert_eq!(body["actions"].as_array().unwrap().len(), 1);
    // And no route works without a token.
    let (status, body) = server
        .admin("GET", "/tenants/bravo/actions", None, None)
        .await;
    assert_eq!(status, 401, "{body}");
}

/// A deploy killed with SIGKILL mid-way leaves the old version serving and no
/// partial version listed; the store opens cleanly.
#[tokio::test]
async fn crash_during_deploy_leaves_the_old_version_serving() {
    let server = Server::hosted(&[]);
    let (token, key) = acme_with_greet(&server, "old").await;

    // A module big enough that compiling it takes a while, so the kill lands mid-deploy.
    let big = many_functions(20_000);
    let base = server.base.clone();
    let token_for_upload = token.clone();
    let upload = tokio::spawn(async move {
        let form = reqwest::multipart::Form::new()
            .text("manifest", manifest("greet"))
            .part("module", reqwest::multipart::Part::bytes(big));
        reqwest::Client::new()
            .post(format!("{base}/admin/v1/tenants/acme/actions"))
            .bearer_auth(token_for_upload)
            .multipart(form)
            .send()
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let data = server.crash().unwrap();
    assert!(
        upload.await.unwrap().is_err(),
        "the deploy should have been cut off by the crash"
    );

    let server = Server::hosted_in(data.path(), &[]);
    let (status, body) = server.call("acme", "greet", &key).await;
    assert_eq!((status, body["message"].as_str()), (200, Some("old")));
    assert_eq!(greet_versions(&server, &token).await, [(1, true)]);
    // The store takes new deploys after the crash.
    let (status, body) = server
        .deploy("acme", &token, &manifest("greet"), message_module("new"))
        .await;
    assert_eq!((status, body["version"].as_u64()), (201, Some(2)), "{body}");
    drop(data);
}

/// A core module with `count` small functions and a `_start`.
fn many_functions(count: usize) -> Vec<u8> {
    let mut wat = String::from("(module (memory (export \"memory\") 1)\n");
    for i in 0..count {
        wat.push_str(&format!(
            "(func $f{i} (param i32) (result i32) (i32.add (i32.mul (local.get 0) (i32.const {i})) (i32.const 7)))\n"
        ));
    }
    wat.push_str("(func (export \"_start\")))");
    wat::parse_str(wat).unwrap()
}

/// Each kind of bad upload is a 4xx naming the problem, and the live version keeps serving.
#[tokio::test]
async fn bad_uploads_are_refused_and_the_live_version_keeps_serving() {
    let server = Server::hosted(&[]);
    let (token, key) = server
        .create_tenant("acme", json!({"maxModuleBytes": 200_000}))
        .await;
    server
        .deploy("acme", &token, &manifest("greet"), message_module("live"))
        .await;
    let good = message_module("good");
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "not wasm",
            b"%PDF-1.7 not a module".to_vec(),
            400,
            "not a WebAssembly module",
        ),
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            400,
            "invalid WebAssembly",
        ),
        (
            "neither ABI",
            guest("no_start"),
            400,
            "fits neither Docket ABI",
        ),
        (
            "unknown import",
            guest("unknown_import"),
            400,
            "env::launch_missiles",
        ),
        (
            "over size",
            vec![0u8; 300_000],
            413,
            "over the tenant's limit of 200000 bytes",
        ),
    ];
    for (what, module, status, fragment) in cases {
        let (got, body) = server
            .deploy("acme", &token, &manifest("greet"), module)
            .await;
        assert_eq!(got, status, "{what}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(
            error.contains(fragment),
            "{what}: {error:?} should contain {fragment:?}"
        );
        assert_eq!(
            server.call("acme", "greet", &key).await.1["message"],
            "live",
            "after {what}"
        );
    }
    let (status, body) = server
        .deploy(
            "acme",
            &token,
            "name = \"greet\"\n[limits]\ntimeout_ms = 1\n",
            good.clone(),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("unknown field `timeout_ms`"),
        "{body}"
    );
    assert_eq!(greet_versions(&server, &token).await, [(1, true)]);
}

/// The same bytes deployed twice, even as two actions, are stored once.
#[tokio::test]
async fn identical_modules_are_stored_once() {
    let server = Server::hosted(&[]);
    let (token, key) = server.create_tenant("acme", json!({})).await;
    let module = message_module("same");
    for name in ["one", "two"] {
        let (status, _) = server
            .deploy("acme", &token, &manifest(name), module.clone())
            .await;
        assert_eq!(status, 201);
    }
    let files = std::fs::read_dir(server.data_dir.join("modules"))
        .unwrap()
        .count();
    assert_eq!(files, 1);
    assert_eq!(server.call("acme", "two", &key).await.0, 200);
}

/// Going over the action-count quota is a 409 naming the quota.
#[tokio::test]
async fn action_count_quota_is_enforced() {
    let server = Server::hosted(&[]);
    let (token, _) = server.create_tenant("acme", json!({"maxActions": 1})).await;
    assert_eq!(
        server
            .deploy("acme", &token, &manifest("one"), message_module("1"))
            .await
            .0,
        201
    );
    // A new version of an existing action is not a new action.
    assert_eq!(
        server
            .deploy("acme", &token, &manifest("one"), message_module("1b"))
            .await
            .0,
        201
    );
    let (status, body) = server
        .deploy("acme", &token, &manifest("two"), message_module("2"))
        .await;
    assert_eq!(status, 409);
    assert!(
        body["error"].as_str().unwrap().contains("maxActions"),
        "{body}"
    );
}

/// One tenant saturating its concurrency gets 429s; another tenant is unaffected.
#[tokio::test]
async fn concurrency_quota_refuses_excess_without_touching_other_tenants() {
    let server = Server::hosted(&[]);
    let (busy_token, busy_key) = server
        .create_tenant("busy", json!({"maxConcurrency": 2}))
        .await;
    let (calm_token, calm_key) = server.create_tenant("calm", json!({})).await;
    let slow = "name = \"spin\"\n[limits]\ntimeout-ms = 1500\n";
    assert_eq!(
        server
            .deploy("busy", &busy_token, slow, guest("loop"))
            .await
            .0,
        201
    );
    assert_eq!(
        server
            .deploy(
                "calm",
                &calm_token,
                &manifest("hello"),
                message_module("calm")
            )
            .await
            .0,
        201
    );

    let calls = (0..6).map(|_| server.call("busy", "spin", &busy_key));
    let calm = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        server.call("calm", "hello", &calm_key).await
    };
    let (busy_results, calm_result) = tokio::join!(futures::future::join_all(calls), calm);
    let statuses: Vec<u16> = busy_results.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        4,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 500).count(),
        2,
        "{statuses:?}"
    );
    let refused = busy_results.iter().find(|(s, _)| *s == 429).unwrap();
    assert!(
        refused.1["error"].as_str().unwrap().contains("limit 2"),
        "{}",
        refused.1
    );
    assert_eq!(calm_result.0, 200, "{}", calm_result.1);
}

/// Suspended tenants get 403 on webhooks and admin routes until resumed.
#[tokio::test]
async fn suspended_tenants_are_refused_until_resumed() {
    let server = Server::hosted(&[]);
    let (token, key) = acme_with_greet(&server, "hi").await;
    let (status, _) = server
        .admin(
            "PATCH",
            "/tenants/acme",
            Some(OPERATOR),
            Some(json!({"suspended": true})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = server.call("acme", "greet", &key).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("this tenant is suspended"))
    );
    let (status, _) = server
        .admin("GET", "/tenants/acme/actions", Some(&token), None)
        .await;
    assert_eq!(status, 403);
    server
        .admin(
            "PATCH",
            "/tenants/acme",
            Some(OPERATOR),
            Some(json!({"suspended": false})),
        )
        .await;
    assert_eq!(server.call("acme", "greet", &key).await.0, 200);
}

/// Keys rotate with no downtime: a second key works alongside the first, and
/// revoking the first leaves the second working. Keys are listed by hint only.
#[tokio::test]
async fn webhook_keys_rotate_without_downtime() {
    let server = Server::hosted(&[]);
    let (token, first) = acme_with_greet(&server, "hi").await;
    let (status, created) = server
        .admin("POST", "/tenants/acme/keys", Some(&token), None)
        .await;
    assert_eq!(status, 201);
    let second = created["apiKey"].as_str().unwrap().to_owned();
    assert_eq!(server.call("acme", "greet", &first).await.0, 200);
    assert_eq!(server.call("acme", "greet", &second).await.0, 200);
    let (_, listed) = server
        .admin("GET", "/tenants/acme/keys", Some(&token), None)
        .await;
    let listed_text = listed.to_string();
    assert!(
        !listed_text.contains(&first) && !listed_text.contains(&second),
        "keys must never be listed"
    );
    let first_id = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] != created["id"])
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = server
        .admin(
            "DELETE",
            &format!("/tenants/acme/keys/{first_id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(server.call("acme", "greet", &first).await.0, 403);
    assert_eq!(server.call("acme", "greet", &second).await.0, 200);
}

/// The invocation log lists the newest invocations first, with their outcome.
#[tokio::test]
async fn invocation_log_lists_newest_first() {
    let server = Server::hosted(&[]);
    let (token, key) = acme_with_greet(&server, "hi").await;
    server
        .deploy(
            "acme",
            &token,
            "name = \"spin\"\n[limits]\ntimeout-ms = 100\n",
            guest("loop"),
        )
        .await;
    let (_, first) = server
        .get(
            &format!(
                "/t/acme/customAction?name=greet&documentId={}&documentVersionId={}",
                common::DOC,
                common::VER
            ),
            &[("apiKey", &key)],
        )
        .await;
    assert_eq!(first["status"], "success");
    server.call("acme", "spin", &key).await;
    let mut records = Value::Null;
    for _ in 0..50 {
        let (_, body) = server
            .admin(
                "GET",
                "/tenants/acme/invocations?limit=10",
                Some(&token),
                None,
            )
            .await;
        if body["invocations"].as_array().unwrap().len() == 2 {
            records = body;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let list = records["invocations"].as_array().expect("two records");
    assert_eq!(list[0]["action"], "spin");
    assert_eq!(list[0]["outcome"], "limit");
    assert_eq!(list[0]["limitHit"], "time limit");
    assert_eq!(list[1]["action"], "greet");
    assert_eq!(list[1]["outcome"], "success");
    assert_eq!(list[1]["version"], 1);
    assert_eq!(list[1]["requestId"].as_str().unwrap().len(), 32);
}

/// Every operation in the OpenAPI document reaches a real route.
#[tokio::test]
async fn every_documented_route_exists() {
    let server = Server::hosted(&[]);
    let (status, spec) = server.admin("GET", "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let file: Value = serde_json::from_str(include_str!("../runner/openapi.json")).unwrap();
    assert_eq!(spec, file);
    let mut checked = 0;
    for (path, operations) in spec["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{tenant}", "acme")
            .replace("{action}", "greet")
            .replace("{id}", "k1")
            .replace("{name}", "token");
        for method in operations.as_object().unwrap().keys() {
            let (status, body) = server
                .admin(&method.to_uppercase(), &concrete, None, None)
                .await;
            let routed = status != 405 && !body.to_string().contains("no such admin route");
            assert!(
                routed,
                "{method} {path} is documented but not routed: {status} {body}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 14, "only {checked} operations documented");
}

/// A tenant sets its failure word through the admin API and webhooks use it.
#[tokio::test]
async fn failure_word_is_a_tenant_setting() {
    let server = Server::hosted(&[]);
    let (token, key) = server.create_tenant("acme", json!({})).await;
    let (status, body) = server
        .admin(
            "PATCH",
            "/tenants/acme",
            Some(&token),
            Some(json!({"failureWord": "error"})),
        )
        .await;
    assert_eq!((status, body["failureWord"].as_str()), (200, Some("error")));
    let (status, body) = server.call("acme", "nothing", &key).await;
    assert_eq!((status, body["status"].as_str()), (404, Some("error")));
    let (status, _) = server
        .admin(
            "PATCH",
            "/tenants/acme",
            Some(&token),
            Some(json!({"failureWord": "no spaces"})),
        )
        .await;
    assert_eq!(status, 400);
}

/// Compile-time DoS bounds: too many functions, or a compile that takes too long,
/// are refused at deploy, naming the limit.
#[tokio::test]
async fn compile_time_bounds_refuse_expensive_modules() {
    let server = Server::hosted(&["--max-functions", "1000", "--max-compile-ms", "1"]);
    let (token, _) = server.create_tenant("acme", json!({})).await;
    let (status, body) = server
        .deploy("acme", &token, &manifest("wide"), many_functions(5_000))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("more than 1000 functions"),
        "{body}"
    );
    let (status, body) = server
        .deploy("acme", &token, &manifest("slow"), many_functions(900))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("compiling took longer than 1 ms"),
        "{body}"
    );
}

/// Secrets are write-only: set and deleted through the API, listed by name only,
/// absent from every read, refused to other tenants, and encrypted on disk.
#[tokio::test]
async fn secrets_are_write_only_encrypted_and_private_to_their_tenant() {
    const VALUE: &str = "sk_live_do-not-leak-4242";
    let server = Server::hosted(&[]);
    let (token, _) = acme_with_greet(&server, "hi").await;
    let (other, _) = server.create_tenant("globex", json!({})).await;
    let put = Some(json!({"value": VALUE}));
    let (status, body) = server
        .admin(
            "PUT",
            "/tenants/acme/secrets/api-token",
            Some(&token),
            put.clone(),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let (_, listed) = server
        .admin("GET", "/tenants/acme/secrets", Some(&token), None)
        .await;
    assert_eq!(listed["secrets"][0]["name"], "api-token");

    let reads = [
        ("/tenants/acme", Some(token.as_str())),
        ("/tenants/acme/actions", Some(token.as_str())),
        ("/tenants/acme/actions/greet/versions", Some(token.as_str())),
        ("/tenants/acme/keys", Some(token.as_str())),
        ("/tenants/acme/invocations", Some(token.as_str())),
        ("/tenants/acme/secrets", Some(token.as_str())),
        ("/tenants", Some(OPERATOR)),
    ];
    for (path, who) in reads {
        let (status, body) = server.admin("GET", path, who, None).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            !body.to_string().contains(VALUE),
            "{path} leaked the secret"
        );
    }
    for (method, body) in [("GET", None), ("PUT", put.clone()), ("DELETE", None)] {
        let path = if method == "GET" {
            "/tenants/acme/secrets"
        } else {
            "/tenants/acme/secrets/api-token"
        };
        let (status, _) = server.admin(method, path, Some(&other), body).await;
        assert_eq!(status, 403, "{method} {path} with globex's token");
    }
    for file in ["docket.db", "docket.db-wal"] {
        let bytes = std::fs::read(server.data_dir.join(file)).unwrap_or_default();
        let found = bytes.windows(VALUE.len()).any(|w| w == VALUE.as_bytes());
        assert!(!found, "{file} holds the secret in plaintext");
    }
    let (status, _) = server
        .admin("PUT", "/tenants/acme/secrets/bad name", Some(&token), put)
        .await;
    assert_eq!(status, 400);
    let path = "/tenants/acme/secrets/api-token";
    assert_eq!(
        server.admin("DELETE", path, Some(&token), None).await.0,
        204
    );
    assert_eq!(
        server.admin("DELETE", path, Some(&token), None).await.0,
        404
    );
}

/// Secrets the manifest grants, and the config, reach actions of both ABIs (the
/// request JSON for commands, `wasi:config` for components); a secret the
/// manifest does not grant, or another tenant's, never does.
#[tokio::test]
async fn granted_secrets_reach_actions_of_both_abis_and_nothing_else() {
    let server = Server::hosted(&[]);
    let (acme, acme_key) = server.create_tenant("acme", json!({})).await;
    let (globex, globex_key) = server.create_tenant("globex", json!({})).await;
    for (tenant, token, value) in [
        ("acme", &acme, "acme-secret"),
        ("globex", &globex, "globex-secret"),
    ] {
        let path = format!("/tenants/{tenant}/secrets/api-token");
        let (status, _) = server
            .admin("PUT", &path, Some(token), Some(json!({"value": value})))
            .await;
        assert_eq!(status, 204);
    }
    let granted = |name: &str| {
        format!(
            "name = \"{name}\"\n[capabilities]\nsecrets = [\"api-token\"]\n[config]\nfolder = \"F\"\n"
        )
    };
    let probe = || common::built_guest("sandbox-probe");
    let http_probe = || common::built_guest("http-probe");
    for (name, module) in [("cmd", probe()), ("comp", http_probe())] {
        assert_eq!(
            server.deploy("acme", &acme, &granted(name), module).await.0,
            201
        );
    }
    assert_eq!(
        server
            .deploy("acme", &acme, &manifest("ungranted"), probe())
            .await
            .0,
        201
    );
    assert_eq!(
        server
            .deploy("globex", &globex, &granted("cmd"), probe())
            .await
            .0,
        201
    );

    let ask = |tenant: &'static str, action: &'static str, key: String| {
        let server = &server;
        async move {
            let path = format!(
                "/t/{tenant}/customAction?name={action}&documentId={}&documentVersionId={}&secret=api-token",
                common::DOC,
                common::VER
            );
            let (status, body) = server.get(&path, &[("apiKey", key.as_str())]).await;
            assert_eq!(status, 200, "{tenant}/{action}: {body}");
            body["message"].as_str().unwrap().to_owned()
        }
    };
    let expected = "secret api-token = acme-secret; config folder = Some(\"F\")";
    assert_eq!(ask("acme", "cmd", acme_key.clone()).await, expected);
    assert_eq!(ask("acme", "comp", acme_key.clone()).await, expected);
    assert_eq!(
        ask("acme", "ungranted", acme_key.clone()).await,
        "secret api-token is not available"
    );
    assert_eq!(
        ask("globex", "cmd", globex_key.clone()).await,
        "secret api-token = globex-secret; config folder = Some(\"F\")"
    );

    // A new value reaches the next invocation.
    let path = "/tenants/acme/secrets/api-token";
    server
        .admin("PUT", path, Some(&acme), Some(json!({"value": "rotated"})))
        .await;
    assert!(
        ask("acme", "comp", acme_key)
            .await
            .starts_with("secret api-token = rotated;")
    );
}
