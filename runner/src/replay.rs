//! `docket replay TENANT REQUEST_ID`: fetches a recorded invocation, the
//! manifest and module of the version that ran (or takes `--module`, a local
//! build), reruns the recorded request on this machine and prints both
//! answers one above the other. Exits 1 when they differ.

use crate::admin_commands::outbound_line;
use anyhow::{Context, bail};
use docket::client::AdminClient;
use docket::config::ReplayArgs;
use docket::engine::ActionRequest;
use docket::local_run::{ArtifactCache, run_locally};
use docket::manifest::{ActionManifest, DEFAULT_FAILURE_WORD};
use docket::registry::{RecordedInput, SecretValues};
use docket::{out, outln};
use serde_json::Value;

/// See the module docs.
pub async fn replay(args: ReplayArgs) -> anyhow::Result<()> {
    let client = AdminClient::new(&args.server)?;
    let tenant = &args.tenant;
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("requestId", &args.request_id)
        .finish();
    let listed = client
        .get(&format!("/tenants/{tenant}/invocations?{query}"))
        .await?;
    let Some(record) = listed["invocations"].as_array().and_then(|r| r.first()) else {
        bail!(
            "tenant {tenant} has no invocation with request id {:?} (the run log keeps the newest records for a limited time)",
            args.request_id
        );
    };
    let action = record["action"]
        .as_str()
        .context("the record names no action")?;
    let version = record["version"]
        .as_u64()
        .context("the record has no version")?;
    let Some(input) = record.get("input").filter(|i| !i.is_null()) else {
        bail!(
            "the run log kept no input for this invocation: version {version} of {action} sets \
             [run-log] record-inputs = false, or the input was over 4 KiB"
        );
    };
    let input: RecordedInput =
        serde_json::from_value(input.clone()).context("reading the recorded input")?;
    let stored = client
        .get(&format!(
            "/tenants/{tenant}/actions/{action}/versions/{version}"
        ))
        .await
        .with_context(|| format!("fetching version {version} of {action}"))?;
    let manifest_text = stored["manifest"]
        .as_str()
        .context("the version has no manifest")?;
    let manifest = ActionManifest::parse(manifest_text, &args.limits.ceilings())
        .with_context(|| format!("version {version}'s manifest, under this machine's ceilings"))?;
    let (module, ran) = match &args.module {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("reading module {}", path.display()))?;
            (
                bytes,
                format!("{} under version {version}'s manifest", path.display()),
            )
        }
        None => {
            let path = format!("/tenants/{tenant}/actions/{action}/versions/{version}/module");
            (client.get_bytes(&path).await?, format!("version {version}"))
        }
    };
    let given = SecretValues(args.secrets.iter().cloned().collect());
    let missing: Vec<&str> = manifest
        .secrets
        .iter()
        .map(|name| name.as_str())
        .filter(|name| !given.0.contains_key(*name))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "note: secrets are never recorded; the action reads {} and this replay has none for them (give --secret NAME=VALUE)",
            missing.join(", ")
        );
    }
    let request = ActionRequest {
        action: action.to_owned(),
        document_id: input.document_id.clone(),
        document_version_id: input.document_version_id.clone(),
        username: input.username.clone(),
        username_verified: input.username_verified,
        params: input.params.clone(),
        config: manifest.config.clone(),
        secrets: given.granted(&manifest.secrets),
        tenant: tenant.clone(),
        request_id: args.request_id.clone(),
        provider: None,
        body: Default::default(),
    };
    // Failures are worded with the tenant's word, as the server did.
    let settings = client.get(&format!("/tenants/{tenant}")).await?;
    let word = settings["failureWord"]
        .as_str()
        .unwrap_or(DEFAULT_FAILURE_WORD);
    let cache = ArtifactCache::from_args(&args.cache);
    let local = run_locally(
        &args.limits,
        &manifest,
        &module,
        request,
        word,
        cache.as_ref(),
    )
    .await?;

    outln!(
        "{tenant}/{action} request {} at {}",
        args.request_id,
        record["time"].as_str().unwrap_or("-")
    );
    outln!(
        "  input     documentId={} documentVersionId={} username={:?} params={}",
        input.document_id,
        input.document_version_id,
        input.username,
        serde_json::to_string(&input.params).unwrap_or_default()
    );
    let recorded_status = record["answer"]["status"].as_u64();
    let recorded_body = record["answer"].get("body").cloned().unwrap_or(Value::Null);
    outln!(
        "  recorded  version {version}  HTTP {}  {} ms  {}",
        recorded_status.map_or("-".into(), |s| s.to_string()),
        record["ms"],
        recorded_body
    );
    for call in record["outbound"].as_array().into_iter().flatten() {
        out!("  {}", outbound_line(call));
    }
    outln!(
        "  replayed  {ran}  HTTP {}  {} ms  {}",
        local.status,
        local.duration.as_millis(),
        local.body
    );
    for call in &local.outbound {
        out!("  {}", outbound_line(&serde_json::to_value(call)?));
    }
    if let Some(line) = &local.stderr_tail {
        outln!("  stderr (last line): {line}");
    }
    let same_status = recorded_status == Some(u64::from(local.status));
    let same = match record["answer"].get("body") {
        Some(_) => same_status && recorded_body == local.body,
        None if recorded_status.is_some() => {
            outln!("(the recorded body was over 4 KiB and not kept: only the status is compared)");
            same_status
        }
        None => {
            outln!("(the invocation was cut off before it answered: nothing to compare)");
            false
        }
    };
    if same {
        outln!("same answer");
        Ok(())
    } else {
        outln!("the answers differ");
        std::process::exit(1);
    }
}
