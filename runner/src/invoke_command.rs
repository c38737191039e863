//! `docket invoke`: one action or one provider endpoint on this machine
//! (or an action through a server's webhook), as the CLI parses it; the
//! running itself is the library's `local_run`.

use anyhow::{Context, bail};
use docket::client::call_webhook;
use docket::config::InvokeArgs;
use docket::engine::ActionRequest;
use docket::local_run::{ArtifactCache, EndpointBody, run_endpoint_locally, run_locally};
use docket::manifest::{ActionManifest, DEFAULT_FAILURE_WORD};
use docket::names::DocEndpoint;
use docket::outln;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub(crate) async fn invoke(args: InvokeArgs) -> anyhow::Result<()> {
    if let Some(endpoint) = args.endpoint {
        return invoke_endpoint(&args, endpoint).await;
    }
    let (status, body) = match args.remote_server() {
        Some(server) => {
            if args.module.is_some() {
                bail!(
                    "--module runs a build on this machine, and --server or --api-key (or \
                     DOCKET_SERVER, DOCKET_API_KEY) calls a server: `docket deploy --module` \
                     puts a build on a server"
                );
            }
            let action = args.action.as_deref().context(
                "calling a server (--server or --api-key given, or DOCKET_SERVER or DOCKET_API_KEY \
                 set) needs the tenant and the action: docket invoke TENANT ACTION",
            )?;
            let api_key = args.api_key.as_deref().context(
                "with --server, give the tenant's webhook key with --api-key or DOCKET_API_KEY",
            )?;
            let mut query = vec![
                ("name".to_owned(), action.to_owned()),
                (
                    "documentId".to_owned(),
                    args.document_id.clone().unwrap_or_default(),
                ),
                (
                    "documentVersionId".to_owned(),
                    args.document_version_id.clone().unwrap_or_default(),
                ),
            ];
            query.extend(args.params.iter().cloned());
            let answer =
                call_webhook(server, &args.target, api_key, &args.username, &query).await?;
            if let Some(id) = &answer.request_id {
                eprintln!(
                    "request id: {id}  (`docket replay {} {id}` reruns it on this machine)",
                    args.target
                );
            }
            (answer.status, answer.body)
        }
        None => invoke_locally(&args).await?,
    };
    outln!("HTTP {status} {body}");
    if status != 200 {
        std::process::exit(1);
    }
    Ok(())
}

/// Finds the manifest: TARGET itself, or `<manifests>/<tenant>/*.toml` naming ACTION.
fn local_manifest(args: &InvokeArgs) -> anyhow::Result<PathBuf> {
    let Some(action) = &args.action else {
        return Ok(PathBuf::from(&args.target));
    };
    let dir = args.manifests.join(&args.target);
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml")
            && let Ok(text) = std::fs::read_to_string(&path)
            && let Ok(manifest) = ActionManifest::parse(&text, &docket::limits::Ceilings::default())
            && manifest.name.as_str() == action
        {
            return Ok(path);
        }
    }
    bail!("no manifest for action {action:?} in {}", dir.display())
}

/// The manifest at `path` and the module to run under it, with its path:
/// `module` when given (the manifest then needs no `module` key), else the
/// file its `module` key names, relative to the manifest.
pub(crate) fn manifest_and_module(
    path: &Path,
    module: Option<&Path>,
    ceilings: &docket::limits::Ceilings,
) -> anyhow::Result<(ActionManifest, PathBuf, Vec<u8>)> {
    let manifest = match module {
        Some(_) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            ActionManifest::parse(&text, ceilings).map_err(|error| {
                docket::manifest::ManifestFileError::Invalid {
                    path: path.to_owned(),
                    error,
                }
            })?
        }
        None => ActionManifest::load(path, ceilings)?,
    };
    let module_path = match module {
        Some(module) => module.to_owned(),
        None => manifest.module.clone().unwrap_or_default(),
    };
    let bytes = std::fs::read(&module_path).with_context(|| {
        let hint = if module_path.exists() {
            ""
        } else {
            " (not built yet? build the project, or give --module FILE)"
        };
        format!("reading module {}{hint}", module_path.display())
    })?;
    Ok((manifest, module_path, bytes))
}

async fn invoke_locally(args: &InvokeArgs) -> anyhow::Result<(u16, Value)> {
    let path = local_manifest(args)?;
    let (manifest, module_path, bytes) =
        manifest_and_module(&path, args.module.as_deref(), &args.limits.ceilings())?;
    let mut request = local_request(args, &manifest, args.params.iter().cloned().collect());
    request.document_id = args.document_id.clone().unwrap_or_default();
    request.document_version_id = args.document_version_id.clone().unwrap_or_default();
    let cache = ArtifactCache::from_args(&args.cache);
    let answer = run_locally(
        &args.limits,
        &manifest,
        &bytes,
        request,
        DEFAULT_FAILURE_WORD,
        cache.as_ref(),
    )
    .await
    .with_context(|| format!("running module {}", module_path.display()))?;
    if let Some(line) = &answer.stderr_tail {
        eprintln!("stderr (last line): {line}");
    }
    eprintln!("ran in {} ms", answer.duration.as_millis());
    Ok((answer.status, answer.body))
}

/// `docket invoke MANIFEST --endpoint NAME`: one call of a document
/// provider's endpoint on this machine, its parameters from `--param`. The
/// JSON Workfront would get is printed as for an action; a download's bytes
/// (a thumbnail's image) go to `--output`, else to stdout, the status line
/// then to stderr when there were any; an upload's come from `--input`.
async fn invoke_endpoint(args: &InvokeArgs, endpoint: DocEndpoint) -> anyhow::Result<()> {
    if args.remote_server().is_some() {
        bail!(
            "--endpoint runs a provider on this machine; a server's document endpoints are \
             called as Workfront calls them (GET <server>/t/<tenant>/{endpoint}?…)"
        );
    }
    let bytes_out = matches!(endpoint, DocEndpoint::Download | DocEndpoint::Thumbnail);
    if args.output.is_some() && !bytes_out {
        bail!("--output is for --endpoint download or thumbnail, whose answer is bytes");
    }
    if args.input.is_some() && endpoint != DocEndpoint::Upload {
        bail!("--input is for --endpoint upload");
    }
    let path = local_manifest(args)?;
    let (manifest, module_path, bytes) =
        manifest_and_module(&path, args.module.as_deref(), &args.limits.ceilings())?;
    let mut params = BTreeMap::new();
    for (key, value) in &args.params {
        // The first of a repeated parameter, as the server reads a query.
        params.entry(key.clone()).or_insert_with(|| value.clone());
    }
    let request = local_request(args, &manifest, params);
    let to_stdout = bytes_out && args.output.is_none();
    let transfer = match (&args.output, &args.input) {
        (Some(output), _) => {
            let file = tokio::fs::File::create(output)
                .await
                .with_context(|| format!("creating {}", output.display()))?;
            EndpointBody::Output(Box::new(file))
        }
        (None, Some(input)) => {
            let file = tokio::fs::File::open(input)
                .await
                .with_context(|| format!("opening {}", input.display()))?;
            let size = file.metadata().await.ok().map(|m| m.len());
            EndpointBody::Input(Box::new(file), size)
        }
        (None, None) if to_stdout => EndpointBody::Output(Box::new(tokio::io::stdout())),
        (None, None) => EndpointBody::None,
    };
    let cache = ArtifactCache::from_args(&args.cache);
    let answer = run_endpoint_locally(
        &args.limits,
        &manifest,
        &bytes,
        request,
        endpoint,
        transfer,
        DEFAULT_FAILURE_WORD,
        cache.as_ref(),
    )
    .await
    .with_context(|| format!("running module {}", module_path.display()))?;
    if let Some(line) = &answer.stderr_tail {
        eprintln!("stderr (last line): {line}");
    }
    if let Some(written) = &answer.bytes {
        let whither = match &args.output {
            Some(path) => path.display().to_string(),
            None => "stdout".to_owned(),
        };
        if let Some(content) = &written.content {
            eprintln!(
                "{} bytes of {} to {whither}{}",
                written.bytes,
                content.mime_type,
                content
                    .filename
                    .as_deref()
                    .map(|name| format!(" (file name {name})"))
                    .unwrap_or_default()
            );
        }
        if let Some(why) = &written.cut_short {
            eprintln!("the body was cut short: {why}");
        }
    }
    eprintln!("ran in {} ms", answer.duration.as_millis());
    let line = format!("HTTP {} {}", answer.status, answer.body);
    // Bytes on stdout keep it for themselves; without them (a refusal, a
    // failure before the file opened) the status line goes there as usual.
    let wrote = answer.bytes.as_ref().is_some_and(|w| w.content.is_some());
    if to_stdout && wrote {
        eprintln!("{line}");
    } else {
        outln!("{line}");
    }
    if answer.status != 200 {
        std::process::exit(1);
    }
    Ok(())
}

/// What a local run asks: the manifest's config and granted `--secret`s,
/// `--username`, the tenant named on the command line (else `local`), and
/// `params`; no document ids and no provider call yet.
fn local_request(
    args: &InvokeArgs,
    manifest: &ActionManifest,
    params: BTreeMap<String, String>,
) -> ActionRequest {
    ActionRequest {
        action: manifest.name.to_string(),
        document_id: String::new(),
        document_version_id: String::new(),
        username: args.username.clone(),
        username_verified: args.username_verified,
        params,
        config: manifest.config.clone(),
        secrets: docket::registry::SecretValues(args.secrets.iter().cloned().collect())
            .granted(&manifest.secrets),
        tenant: if args.action.is_some() {
            args.target.clone()
        } else {
            "local".into()
        },
        request_id: "local".into(),
        provider: None,
        body: Default::default(),
    }
}
