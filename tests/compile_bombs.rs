//! Compile bombs through the real binary: modules whose compile would take the
//! server's memory (one function of 2.5 million nested blocks took 2.1 GB) and
//! modules with imports Docket does not know are refused by the static checks
//! before any compile, naming the limit, while another tenant is served.

mod common;

use common::modules::{command, nested_blocks};
use common::{DOC, Server, VER, message_module};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn manifest(name: &str) -> String {
    format!("name = \"{name}\"\ndisplay-name = \"The {name} action\"\n")
}

/// The nested-block bomb (one function, 7.5 MB), a four-function variant (7.2
/// MB, each function under the size limit but nested far too deep) and an
/// unknown-import module with a 2 MB body are uploaded at once: each is refused
/// with 400 naming its limit, in well under a second of server work, the
/// server's peak memory stays under 1 GiB, and another tenant's action answers
/// 200 throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compile_bombs_are_refused_before_compiling_while_others_are_served() {
    let server = Server::hosted(&[]);
    let (attacker, _) = server.create_tenant("attacker", json!({})).await;
    let (calm_token, calm_key) = server.create_tenant("calm", json!({})).await;
    let (status, body) = server
        .deploy(
            "calm",
            &calm_token,
            &manifest("hello"),
            message_module("hi"),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let one = command(&[], &[nested_blocks(2_500_000)]);
    let four = command(&[], &vec![nested_blocks(600_000); 4]);
    let mut nops = vec![0x00];
    nops.extend(std::iter::repeat_n(0x01, 2_000_000)); // nop
    nops.push(0x0b);
    let unknown = command(&[("env", "launch_missiles")], &[nops]);
    assert!(
        one.len() > 7_000_000 && four.len() > 7_000_000,
        "bomb sizes"
    );

    // The other tenant calls its action every 20 ms during the uploads.
    let uploading = Arc::new(AtomicBool::new(true));
    let calls = tokio::spawn({
        let uploading = uploading.clone();
        let url = format!(
            "{}/t/calm/customAction?name=hello&documentId={DOC}&documentVersionId={VER}",
            server.base
        );
        async move {
            let client = reqwest::Client::new();
            let mut statuses = Vec::new();
            // At least one call, however quickly the uploads are refused.
            loop {
                let response = client
                    .get(&url)
                    .header("apiKey", &calm_key)
                    .header("username", "jane.doe")
                    .send()
                    .await;
                statuses.push(response.map_or(0, |r| r.status().as_u16()));
                if !uploading.load(Ordering::Relaxed) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            statuses
        }
    });

    let started = Instant::now();
    let timed = |name: &'static str, module: Vec<u8>| {
        let server = &server;
        let attacker = &attacker;
        async move {
            let started = Instant::now();
            let (status, body) = server
                .deploy("attacker", attacker, &manifest(name), module)
                .await;
            (status, body, started.elapsed())
        }
    };
    let (one, four, unknown) = tokio::join!(
        timed("one", one),
        timed("four", four),
        timed("unknown", unknown)
    );
    let uploads_took = started.elapsed();
    uploading.store(false, Ordering::Relaxed);
    let statuses = calls.await.unwrap();

    for ((status, body, took), expected) in [
        (&one, "over the limit of 2097152 bytes (--max-function-kb)"),
        (
            &four,
            "nests blocks more than 5000 deep, the limit (--max-nesting-depth)",
        ),
        (
            &unknown,
            "imports that Docket does not provide: env::launch_missiles",
        ),
    ] {
        assert_eq!(*status, 400, "{body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(expected), "{error}");
        eprintln!("refused in {took:?}: {error}");
    }
    let peak = server.memory_mib("VmHWM:");
    eprintln!(
        "three bombs refused in {uploads_took:?}; server peak RSS {peak} MiB; \
         the other tenant answered {} calls meanwhile",
        statuses.len()
    );
    assert!(peak < 1024, "server peak RSS {peak} MiB");
    assert!(
        !statuses.is_empty() && statuses.iter().all(|s| *s == 200),
        "{statuses:?}"
    );
    assert!(uploads_took < Duration::from_secs(10), "{uploads_took:?}");
    // Nothing of the attacker's was stored.
    let (status, body) = server
        .admin("GET", "/tenants/attacker/actions", Some(&attacker), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["actions"].as_array().map(Vec::len), Some(0), "{body}");
}
