//! Quotas on everything a tenant can store, through the real binary: manifest
//! size and field lengths, versions kept per action (the oldest are pruned),
//! and the storage quota counting manifests, config and secrets as well as
//! module bytes.

mod common;

use common::{Server, message_module};
use serde_json::{Value, json};

fn manifest(name: &str) -> String {
    format!("name = \"{name}\"\ndisplay-name = \"The {name} action\"\n")
}

/// The server's peak resident set so far, in KiB (`VmHWM`).
fn peak_rss_kib(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/<pid>/status")
}

fn version_numbers(body: &Value) -> Vec<u64> {
    body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect()
}

fn module_files(server: &Server) -> usize {
    std::fs::read_dir(server.data_dir.join("modules"))
        .unwrap()
        .count()
}

/// A 20 MiB manifest (its display name) is refused with a message naming the
/// limit, is never buffered whole (the server's peak RSS barely moves), and
/// nothing of it is stored or served.
#[tokio::test]
async fn huge_manifest_is_refused_without_buffering_it() {
    let server = Server::hosted(&[]);
    let (token, _) = server
        .create_tenant("acme", json!({"maxStorageBytes": 100_000}))
        .await;
    let huge = format!(
        "name = \"big\"\ndisplay-name = \"{}\"\n",
        "x".repeat(20 * 1024 * 1024)
    );
    let before = peak_rss_kib(&server);
    let (status, body) = server
        .deploy("acme", &token, &huge, message_module("big"))
        .await;
    let after = peak_rss_kib(&server);
    drop(huge);
    assert!(status == 413 || status == 400, "{status} {body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("65536 bytes"), "{error}");
    assert!(
        after - before < 8 * 1024,
        "peak RSS grew by {} KiB while refusing the manifest",
        after - before
    );
    let (status, _) = server
        .admin(
            "GET",
            "/tenants/acme/actions/big/versions",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (_, service) = server.get("/t/acme/serviceInfo", &[]).await;
    assert_eq!(service["customActions"], json!([]));
    assert_eq!(module_files(&server), 0);
}

/// A display name longer than Workfront's menu can show is refused, naming the
/// field and its limit.
#[tokio::test]
async fn long_display_name_is_refused_naming_the_field() {
    let server = Server::hosted(&[]);
    let (token, _) = server.create_tenant("acme", json!({})).await;
    let long = format!("name = \"greet\"\ndisplay-name = \"{}\"\n", "d".repeat(200));
    let (status, body) = server
        .deploy("acme", &token, &long, message_module("x"))
        .await;
    assert_eq!(status, 400, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("display-name") && error.contains("128"),
        "{error}"
    );
}

/// With `maxVersions` = 3, the 4th deploy prunes the oldest version: only 3
/// are listed, the live one answers, and rollback to the pruned one is a 404.
/// The version live before a deploy is kept, so a bad deploy can always be
/// rolled back; pruned modules' files are deleted.
#[tokio::test]
async fn versions_beyond_the_quota_prune_the_oldest() {
    let server = Server::hosted(&[]);
    let (token, key) = server
        .create_tenant("acme", json!({"maxVersions": 3}))
        .await;
    for n in 1..=4 {
        let (status, body) = server
            .deploy(
                "acme",
                &token,
                &manifest("greet"),
                message_module(&format!("v{n}")),
            )
            .await;
        assert_eq!((status, body["version"].as_u64()), (201, Some(n)), "{body}");
    }
    let versions_path = "/tenants/acme/actions/greet/versions";
    let (_, body) = server.admin("GET", versions_path, Some(&token), None).await;
    assert_eq!(version_numbers(&body), [4, 3, 2]);
    assert_eq!(server.call("acme", "greet", &key).await.1["message"], "v4");
    assert_eq!(module_files(&server), 3, "v1's module file is deleted");

    let rollback = "/tenants/acme/actions/greet/rollback";
    let (status, body) = server
        .admin("POST", rollback, Some(&token), Some(json!({"version": 1})))
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = server
        .admin("POST", rollback, Some(&token), Some(json!({"version": 2})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(server.call("acme", "greet", &key).await.1["message"], "v2");

    // The next deploy keeps v2 (live until now) and prunes v3 instead.
    let (status, _) = server
        .deploy("acme", &token, &manifest("greet"), message_module("v5"))
        .await;
    assert_eq!(status, 201);
    let (_, body) = server.admin("GET", versions_path, Some(&token), None).await;
    assert_eq!(version_numbers(&body), [5, 4, 2]);
    assert_eq!(server.call("acme", "greet", &key).await.1["message"], "v5");
    let (_, actions) = server
        .admin("GET", "/tenants/acme/actions", Some(&token), None)
        .await;
    assert_eq!(actions["actions"][0]["versions"], 3);
}

/// `--tenant-max-versions` sets the default, shown in the tenant's quotas; a
/// tenant override of 0 is refused (the live version is always kept).
#[tokio::test]
async fn version_quota_default_comes_from_the_operator_flag() {
    let server = Server::hosted(&["--tenant-max-versions", "2"]);
    let (token, _) = server.create_tenant("acme", json!({})).await;
    let (_, tenant) = server
        .admin("GET", "/tenants/acme", Some(&token), None)
        .await;
    assert_eq!(tenant["quotas"]["maxVersions"], 2);
    for n in 1..=3 {
        let (status, _) = server
            .deploy(
                "acme",
                &token,
                &manifest("greet"),
                message_module(&format!("v{n}")),
            )
            .await;
        assert_eq!(status, 201);
    }
    let (_, body) = server
        .admin(
            "GET",
            "/tenants/acme/actions/greet/versions",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(version_numbers(&body), [3, 2]);
    let (status, body) = server
        .admin(
            "PATCH",
            "/tenants/acme",
            Some(common::OPERATOR),
            Some(json!({"quotas": {"maxVersions": 0}})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("maxVersions"));
}

/// Secrets count against the storage quota: one that would take the tenant
/// over it is refused with 409 naming the quota; replacing a secret counts
/// only the new value.
#[tokio::test]
async fn secrets_count_against_stored_bytes() {
    let server = Server::hosted(&[]);
    let (token, _) = server
        .create_tenant("acme", json!({"maxStorageBytes": 100_000}))
        .await;
    let value = json!({"value": "s".repeat(60_000)});
    let put = |name: &'static str| {
        let value = value.clone();
        let server = &server;
        let token = token.clone();
        async move {
            server
                .admin(
                    "PUT",
                    &format!("/tenants/acme/secrets/{name}"),
                    Some(&token),
                    Some(value),
                )
                .await
        }
    };
    assert_eq!(put("first").await.0, 204);
    assert_eq!(
        put("first").await.0,
        204,
        "a replacement is not counted twice"
    );
    let (status, body) = put("second").await;
    assert_eq!(status, 409, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("maxStorageBytes") && error.contains("stored bytes"),
        "{error}"
    );
    let (_, listed) = server
        .admin("GET", "/tenants/acme/secrets", Some(&token), None)
        .await;
    assert_eq!(listed["secrets"].as_array().unwrap().len(), 1);
}

/// A manifest's config counts against the storage quota: a deploy that would
/// go over it is refused with 409 naming the quota, and leaves nothing behind.
#[tokio::test]
async fn config_counts_against_stored_bytes() {
    let server = Server::hosted(&[]);
    let (token, _) = server
        .create_tenant("acme", json!({"maxStorageBytes": 20_000}))
        .await;
    let entries: String = (0..8)
        .map(|i| format!("key{i} = \"{}\"\n", "c".repeat(4000)))
        .collect();
    let heavy = format!("{}[config]\n{entries}", manifest("greet"));
    let (status, body) = server
        .deploy("acme", &token, &heavy, message_module("heavy"))
        .await;
    assert_eq!(status, 409, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("maxStorageBytes"), "{error}");
    let (status, _) = server
        .admin(
            "GET",
            "/tenants/acme/actions/greet/versions",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 404, "the refused deploy left no action behind");
    assert_eq!(module_files(&server), 0, "nor its module file");

    let light = format!("{}[config]\nfolder = \"Archive\"\n", manifest("greet"));
    let (status, body) = server
        .deploy("acme", &token, &light, message_module("light"))
        .await;
    assert_eq!(status, 201, "{body}");
}

/// The storage quota counts a deploy after its pruning: a tenant whose kept
/// versions fill most of its quota can still deploy, since the oldest version
/// makes room (a CI deploying every commit is never stuck at its quota).
#[tokio::test]
async fn pruned_versions_make_room_under_the_storage_quota() {
    let server = Server::hosted(&[]);
    let (token, key) = server
        .create_tenant("acme", json!({"maxVersions": 2, "maxStorageBytes": 8_000}))
        .await;
    // Each version: a distinct module of about 3.1 kB, plus its manifest row.
    for n in 1..=3 {
        let message = format!("v{n}{}", "m".repeat(3000));
        let (status, body) = server
            .deploy("acme", &token, &manifest("greet"), message_module(&message))
            .await;
        assert_eq!(status, 201, "deploy {n}: {body}");
    }
    let (status, body) = server
        .deploy(
            "acme",
            &token,
            &manifest("other"),
            message_module(&"o".repeat(3000)),
        )
        .await;
    assert_eq!(status, 409, "a second action does not fit: {body}");
    let (_, answer) = server.call("acme", "greet", &key).await;
    assert!(answer["message"].as_str().unwrap().starts_with("v3"));
}

/// What the admin API's schema allows, the server accepts, and what it
/// refuses is invalid input (400) naming the rule: a secret value is limited
/// in characters, as the schema's `maxLength` is (so 65,536 characters of
/// multi-byte UTF-8 fit); `maxModuleBytes` is at least 1.
#[tokio::test]
async fn the_schema_limits_are_the_servers() {
    let server = Server::hosted(&[]);
    let (token, _) = server.create_tenant("acme", json!({})).await;
    let path = "/tenants/acme/secrets/long";
    let at_limit = Some(json!({ "value": "é".repeat(65_536) }));
    let (status, body) = server.admin("PUT", path, Some(&token), at_limit).await;
    assert_eq!(status, 204, "{body}");
    let over = Some(json!({ "value": "x".repeat(65_537) }));
    let (status, body) = server.admin("PUT", path, Some(&token), over).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("65536 characters"));

    let zero = Some(json!({ "quotas": { "maxModuleBytes": 0 } }));
    let (status, body) = server
        .admin("PATCH", "/tenants/acme", Some(common::OPERATOR), zero)
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("maxModuleBytes"));
}
