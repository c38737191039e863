//! What `docket serve` prints when it is ready: where it listens, and for
//! each declarative tenant its actions, Base API URL, credentials and the
//! lines to paste; and the error for an address it cannot listen on.

use docket::declarative::LoadedTenant;
use docket::registry::keys::KeySource;
use std::net::SocketAddr;

/// A wildcard listen address is not something a browser or curl can reach; show loopback.
pub(crate) fn display_addr(addr: SocketAddr) -> SocketAddr {
    let mut shown = addr;
    if addr.ip().is_unspecified() {
        shown.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    shown
}

/// `name (abi), …` for a loaded tenant's actions.
pub(crate) fn action_list(tenant: &LoadedTenant) -> String {
    let names: Vec<_> = tenant
        .actions
        .iter()
        .map(|(name, abi)| match tenant.provider.as_ref() == Some(name) {
            true => format!("{name} (document provider, {abi})"),
            false => format!("{name} ({abi})"),
        })
        .collect();
    names.join(", ")
}

/// Why `docket serve` could not listen on `addr`, with what to do about it.
pub(crate) fn listen_error(addr: SocketAddr, err: std::io::Error) -> anyhow::Error {
    let other = SocketAddr::new(addr.ip(), if addr.port() == 9090 { 9091 } else { 9090 });
    let elsewhere = format!(
        "listen elsewhere with `make run LISTEN={other}` or `docket serve --listen {other}`"
    );
    if err.kind() == std::io::ErrorKind::AddrInUse {
        anyhow::anyhow!(
            "cannot listen on {addr}: port {} is already in use (another docket, such as an \
             earlier `make run`, may still be running); stop it, or {elsewhere}",
            addr.port()
        )
    } else {
        anyhow::anyhow!("cannot listen on {addr}: {err}; {elsewhere}")
    }
}

/// Prints where one of a declarative tenant's credentials came from, as
/// `  {label}: …`; returns what to paste for it in a command line.
fn print_credential(label: &str, source: &KeySource, var: &str, noun: &str) -> String {
    match source {
        KeySource::Environment(set) => {
            println!("  {label}: the value of {set}");
            format!("${set}")
        }
        KeySource::Generated(secret) => {
            println!("  {label}: {secret}");
            println!("          (generated now and shown only this once; only its hash is stored)");
            secret.clone()
        }
        KeySource::Stored(path) => {
            println!(
                "  {label}: generated at an earlier start and shown then; only its hash is kept in {}.",
                path.display()
            );
            println!(
                "          Set {var} to choose {noun}, or delete that file to mint a new one."
            );
            format!("${var}")
        }
    }
}

/// The start-up banner: where Docket listens (and, with `--public-url`, where
/// Workfront reaches it), then each declarative tenant's Base API URL,
/// webhook key, admin token and lines to paste.
pub(crate) fn print_banner(local_url: &str, public_url: Option<&str>, tenants: &[LoadedTenant]) {
    match public_url {
        Some(public) => {
            println!("docket listening on {local_url}; Workfront reaches it at {public}")
        }
        None => println!("docket listening on {local_url}"),
    }
    let base = public_url.unwrap_or(local_url);
    for tenant in tenants {
        println!();
        if tenant.actions.is_empty() {
            println!("tenant {}: no action served", tenant.name);
        } else {
            println!("tenant {}: {}", tenant.name, action_list(tenant));
        }
        if !tenant.skipped.is_empty() {
            let skipped: Vec<_> = tenant
                .skipped
                .iter()
                .map(|s| {
                    if s.still_live {
                        format!("{} (an earlier version is still served)", s.name)
                    } else {
                        s.name.to_string()
                    }
                })
                .collect();
            println!(
                "  skipped, module not built (`make actions` builds them): {}",
                skipped.join(", ")
            );
        }
        println!("  Base API URL: {base}/t/{}", tenant.name);
        let key = print_credential(
            "apiKey",
            &tenant.key,
            &tenant.name.api_key_env_var(),
            "a key",
        );
        let token = print_credential(
            "admin token",
            &tenant.admin_token,
            &tenant.name.admin_token_env_var(),
            "a token",
        );
        println!("  serviceInfo: curl {base}/t/{}/serviceInfo", tenant.name);
        let first_action = tenant
            .actions
            .iter()
            .find(|(name, _)| tenant.provider.as_ref() != Some(name));
        if let Some((action, _)) = first_action {
            println!(
                "  try:  curl -H \"apiKey: {key}\" -H 'username: jane.doe' \
                 '{base}/t/{}/customAction?name={action}&documentId=5f0c8e2a9b1d4c3e8f7a6b5c4d3e2f10&documentVersionId=7a6b5c4d3e2f10fedcba98765432100a'",
                tenant.name
            );
        }
        if let Some(provider) = &tenant.provider {
            let t = format!("{base}/t/{}", tenant.name);
            let h = format!("-H \"apiKey: {key}\" -H 'username: jane.doe'");
            println!("  documents ({provider}), as Workfront calls them:");
            println!("    browse:   curl {h} '{t}/files?parentId=/'");
            println!(
                "    upload:   curl {h} -X POST '{t}/uploadInit?parentId=/&filename=notes.txt'   (answers the new file's id)"
            );
            println!("              curl {h} -X PUT --data-binary @notes.txt '{t}/upload?id=<id>'");
            println!("    download: curl {h} -o notes.txt '{t}/download?id=<id>'");
            println!("    search:   curl {h} '{t}/search?query=notes'");
        }
        // The CLI's default server is http://127.0.0.1:8080.
        let server = if local_url == "http://127.0.0.1:8080" {
            String::new()
        } else {
            format!(" --server {local_url}")
        };
        println!(
            "  run log: docket logs {}{server} --token {token}",
            tenant.name
        );
        println!(
            "  console: {local_url}/console   (sign in with tenant {} and the admin token {token})",
            tenant.name
        );
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
}
