//! `docket migrate`: an embedded (SQLite) install moved into PostgreSQL is
//! served by a replica exactly as before (live versions, history, counters,
//! secrets, keys), running it twice changes nothing, and bad sources are
//! refused with nothing moved.

mod common;

use common::cluster::{Database, SECRETS_KEY};
use common::{DOC, OPERATOR, Server, VER, built_guest, message_module};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A manifest for the probe: a tenant-wide counter and the `api-token` secret.
const COUNTER: &str =
    "name = \"counter\"\n[capabilities]\nkey-value = \"tenant\"\nsecrets = [\"api-token\"]\n";

/// What `docket migrate` printed.
struct Migrated {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs `docket migrate --from DIR --to URL` with `DOCKET_SECRETS_KEY` set to
/// `key` (or unset).
fn migrate(from: &Path, to: &str, key: Option<&str>) -> Migrated {
    let mut command = Command::new(env!("CARGO_BIN_EXE_docket"));
    command
        .arg("migrate")
        .arg("--from")
        .arg(from)
        .args(["--to", to])
        .env_remove("DOCKET_SECRETS_KEY")
        .env_remove("DOCKET_DATABASE_URL")
        .env("DOCKET_LOG", "warn");
    if let Some(key) = key {
        command.env("DOCKET_SECRETS_KEY", key);
    }
    let output = command.output().unwrap();
    Migrated {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The probe's answer to `query` (after the document ids).
async fn probe(server: &Server, key: &str, query: &str) -> String {
    let path = format!(
        "/t/acme/customAction?name=counter&documentId={DOC}&documentVersionId={VER}{query}"
    );
    let (status, body) = server.get(&path, &[("apiKey", key)]).await;
    assert_eq!(status, 200, "{query}: {body}");
    body["message"].as_str().unwrap().to_owned()
}

/// acme's invocation log, once it holds `expected` records.
async fn invocations(server: &Server, token: &str, expected: usize) -> Vec<Value> {
    for _ in 0..100 {
        let (status, body) = server
            .admin(
                "GET",
                "/tenants/acme/invocations?limit=100",
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let list = body["invocations"].as_array().unwrap().clone();
        if list.len() >= expected {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the invocation log never held {expected} records");
}

async fn get(server: &Server, path: &str, token: &str) -> Value {
    let (status, body) = server.admin("GET", path, Some(token), None).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn an_embedded_install_moves_into_postgresql_and_a_replica_serves_it_the_same() {
    let server = Server::hosted_with_env(&[], &[("DOCKET_SECRETS_KEY", SECRETS_KEY)]);
    let (token, key) = server
        .create_tenant("acme", json!({"maxActions": 7, "maxStorageBytes": 500_000}))
        .await;
    let (_, globex_key) = server.create_tenant("globex", json!({})).await;
    let greet = "name = \"greet\"\ndisplay-name = \"The greet action\"\n";
    for message in ["v1", "v2"] {
        let (status, body) = server
            .deploy("acme", &token, greet, message_module(message))
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let rollback = Some(json!({"version": 1}));
    let path = "/tenants/acme/actions/greet/rollback";
    assert_eq!(
        server.admin("POST", path, Some(&token), rollback).await.0,
        200
    );
    let put = Some(json!({"value": "s3cret-value"}));
    let path = "/tenants/acme/secrets/api-token";
    assert_eq!(server.admin("PUT", path, Some(&token), put).await.0, 204);
    let (status, body) = server
        .deploy("acme", &token, COUNTER, built_guest("sandbox-probe"))
        .await;
    assert_eq!(status, 201, "{body}");
    for n in 1..=3 {
        assert_eq!(
            probe(&server, &key, "&count=visits").await,
            format!("count {n}")
        );
    }
    let secret = probe(&server, &key, "&secret=api-token").await;
    assert!(
        secret.starts_with("secret api-token = s3cret-value;"),
        "{secret}"
    );
    assert_eq!(server.call("acme", "greet", &key).await.1["message"], "v1");
    let suspend = Some(json!({"suspended": true}));
    let (status, body) = server
        .admin("PATCH", "/tenants/globex", Some(OPERATOR), suspend)
        .await;
    assert_eq!(status, 200, "{body}");
    let history = invocations(&server, &token, 5).await;
    let tenants = get(&server, "/tenants", OPERATOR).await;
    let versions = get(&server, "/tenants/acme/actions/greet/versions", &token).await;
    let data = server.crash().expect("owned data dir");

    let db = Database::create().await;
    let mut moved = Vec::new();
    for run in 1..=2 {
        let out = migrate(data.path(), &db.url, Some(SECRETS_KEY));
        assert!(out.success, "run {run}:\n{}\n{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains("verified: counts and digests match"),
            "run {run}: {}",
            out.stdout
        );
        assert!(out.stdout.contains("compiled artifacts: not migrated"));
        assert!(out.stdout.contains("DOCKET_SECRETS_KEY was used"));
        assert!(!out.stdout.contains(SECRETS_KEY), "the key was printed");
        let table: Vec<String> = out
            .stdout
            .lines()
            .skip(2)
            .take(8)
            .map(str::to_owned)
            .collect();
        moved.push(table);
        let counts = db
            .query(
                "SELECT format('%s %s %s %s %s %s', (SELECT COUNT(*) FROM tenants), \
                 (SELECT COUNT(*) FROM versions), (SELECT COUNT(*) FROM modules), \
                 (SELECT COUNT(*) FROM kv), (SELECT COUNT(*) FROM secrets), \
                 (SELECT COUNT(*) FROM invocations))",
            )
            .await;
        assert_eq!(
            counts,
            [format!("2 3 3 1 1 {}", history.len())],
            "run {run}"
        );
    }
    assert_eq!(moved[0], moved[1], "the second run moved the same");
    assert!(
        moved[0]
            .iter()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["versions", "3", "3"]),
        "{:?}",
        moved[0]
    );

    let scratch = tempfile::tempdir().unwrap();
    let replica = Server::replica(&db.url, "127.0.0.1:0", scratch.path());
    assert_eq!(replica.call("acme", "greet", &key).await.1["message"], "v1");
    assert_eq!(probe(&replica, &key, "&count=visits").await, "count 4");
    assert_eq!(probe(&replica, &key, "&secret=api-token").await, secret);
    assert_eq!(replica.call("globex", "greet", &globex_key).await.0, 403);
    assert_eq!(get(&replica, "/tenants", OPERATOR).await, tenants);
    assert_eq!(
        get(&replica, "/tenants/acme/actions/greet/versions", &token).await,
        versions
    );
    let now = invocations(&replica, &token, history.len() + 3).await;
    let ids = |list: &[Value]| -> Vec<String> {
        list.iter()
            .map(|r| r["requestId"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(&now[now.len() - history.len()..]),
        ids(&history),
        "the old records follow the new ones, in their order"
    );

    // A corrupt module file is refused by digest, and nothing is moved.
    let digest = db
        .query("SELECT module FROM versions WHERE action = 'counter'")
        .await
        .remove(0);
    let file = data.path().join("modules").join(format!("{digest}.wasm"));
    std::fs::write(&file, b"\0asm not really").unwrap();
    let fresh = Database::create().await;
    let out = migrate(data.path(), &fresh.url, Some(SECRETS_KEY));
    assert!(!out.success, "{}", out.stdout);
    assert!(
        out.stderr.contains(&format!("module {digest}")) && out.stderr.contains("corrupt"),
        "{}",
        out.stderr
    );
    assert!(untouched(&fresh).await, "refused before writing anything");
    std::fs::remove_file(&file).unwrap();
    let out = migrate(data.path(), &fresh.url, Some(SECRETS_KEY));
    assert!(!out.success && out.stderr.contains(&format!("module {digest}")));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_key_file_is_named_not_printed_and_bad_sources_are_refused() {
    let db = Database::create().await;
    let empty = tempfile::tempdir().unwrap();
    let out = migrate(empty.path(), &db.url, None);
    assert!(
        !out.success && out.stderr.contains("has no docket.db"),
        "{}",
        out.stderr
    );
    let out = migrate(empty.path(), "mysql://127.0.0.1/test", None);
    assert!(
        !out.success && out.stderr.contains("postgres://"),
        "{}",
        out.stderr
    );

    let mut server = Server::hosted(&[]);
    let (token, _) = server.create_tenant("acme", json!({})).await;
    let put = Some(json!({"value": "from-the-key-file"}));
    let path = "/tenants/acme/secrets/api-token";
    assert_eq!(server.admin("PUT", path, Some(&token), put).await.0, 204);
    // A clean stop this time (the other test's server is killed).
    server.signal("TERM");
    assert!(server.wait_for_exit(Duration::from_secs(30)).is_some());
    let data = server.crash().expect("owned data dir");
    let key_file = common::secrets_key_beside(data.path());
    let key_hex = hex(&std::fs::read(&key_file).unwrap());

    // The server sealed with the file: another key in the environment is refused.
    let out = migrate(data.path(), &db.url, Some(SECRETS_KEY));
    assert!(
        !out.success && out.stderr.contains("does not open"),
        "{}",
        out.stderr
    );
    assert!(untouched(&db).await, "refused before writing anything");

    let out = migrate(data.path(), &db.url, None);
    assert!(out.success, "{}\n{}", out.stdout, out.stderr);
    let instruction = format!(
        "set DOCKET_SECRETS_KEY to the 64 hex digits of {path} (e.g. `xxd -p -c 64 {path}`)",
        path = key_file.display()
    );
    assert!(out.stdout.contains(&instruction), "{}", out.stdout);
    assert!(!out.stdout.contains(&key_hex) && !out.stderr.contains(&key_hex));

    let sealed = db.query("SELECT tenant || '/' || name FROM secrets").await;
    assert_eq!(sealed, ["acme/api-token"]);
}

/// Whether `db` has no Docket tables yet: a refused source is refused
/// before the database is touched at all.
async fn untouched(db: &Database) -> bool {
    let sql = "SELECT tablename::TEXT FROM pg_tables WHERE tablename = 'tenants'";
    db.query(sql).await.is_empty()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
