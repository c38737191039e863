//! The CLI's admin commands against a server: `tenant`, `keys` and `logs`
//! (the run log, printed one line per invocation).

use anyhow::{Context, bail};
use docket::client::AdminClient;
use docket::config::{KeysCommand, LogsArgs, OAuthCommand, TenantCommand};
use docket::{out, outln};
use serde_json::{Value, json};

/// Stderr lines `docket logs` shows of an invocation: the last ones.
const STDERR_LINES_SHOWN: usize = 10;

/// `docket tenant …`: prints the server's answer as JSON.
pub async fn tenant(command: TenantCommand) -> anyhow::Result<()> {
    let body = match command {
        TenantCommand::Create {
            name,
            display_name,
            server,
        } => {
            let body = json!({"name": name, "displayName": display_name});
            AdminClient::new(&server)?.post("/tenants", &body).await?
        }
        TenantCommand::List { server } => AdminClient::new(&server)?.get("/tenants").await?,
        TenantCommand::Suspend { name, server } => {
            let path = format!("/tenants/{name}");
            AdminClient::new(&server)?
                .patch(&path, &json!({"suspended": true}))
                .await?
        }
        TenantCommand::Resume { name, server } => {
            let path = format!("/tenants/{name}");
            AdminClient::new(&server)?
                .patch(&path, &json!({"suspended": false}))
                .await?
        }
        TenantCommand::Delete { name, yes, server } => {
            let client = AdminClient::new(&server)?;
            if !yes {
                confirm_delete(&name)?;
            }
            client.delete(&format!("/tenants/{name}")).await?;
            json!({"deleted": name})
        }
    };
    print_json(&body);
    Ok(())
}

/// `docket keys …`: prints the server's answer as JSON.
pub async fn keys(command: KeysCommand) -> anyhow::Result<()> {
    let body = match command {
        KeysCommand::Create { tenant, server } => {
            let path = format!("/tenants/{tenant}/keys");
            AdminClient::new(&server)?.post(&path, &json!({})).await?
        }
        KeysCommand::List { tenant, server } => {
            AdminClient::new(&server)?
                .get(&format!("/tenants/{tenant}/keys"))
                .await?
        }
        KeysCommand::Revoke { id, tenant, server } => {
            let path = format!("/tenants/{tenant}/keys/{id}");
            AdminClient::new(&server)?.delete(&path).await?;
            json!({"revoked": id})
        }
    };
    print_json(&body);
    Ok(())
}

/// `docket oauth …`: prints the server's answer as JSON.
pub async fn oauth(command: OAuthCommand) -> anyhow::Result<()> {
    let path = |tenant: &str, rest: &str| format!("/tenants/{tenant}/oauth{rest}");
    let body = match command {
        OAuthCommand::Show(t) => {
            AdminClient::new(&t.server)?
                .get(&path(&t.tenant, ""))
                .await?
        }
        OAuthCommand::Configure {
            workfront_redirect_uri,
            issuer,
            client_id,
            client_secret,
            username_claim,
            access_token_seconds,
            refresh_token_seconds,
            target: t,
        } => {
            let mut body = json!({
                "workfrontRedirectUri": workfront_redirect_uri,
                "issuer": issuer,
                "clientId": client_id,
            });
            let optional = [
                ("clientSecret", client_secret.map(Value::from)),
                ("usernameClaim", username_claim.map(Value::from)),
                ("accessTokenSeconds", access_token_seconds.map(Value::from)),
                (
                    "refreshTokenSeconds",
                    refresh_token_seconds.map(Value::from),
                ),
            ];
            for (name, value) in optional {
                if let Some(value) = value {
                    body[name] = value;
                }
            }
            AdminClient::new(&t.server)?
                .put(&path(&t.tenant, ""), &body)
                .await?
        }
        OAuthCommand::RotateSecret(t) => {
            AdminClient::new(&t.server)?
                .post(&path(&t.tenant, "/client-secret"), &json!({}))
                .await?
        }
        OAuthCommand::Disable(t) => {
            AdminClient::new(&t.server)?
                .delete(&path(&t.tenant, ""))
                .await?;
            json!({ "disabled": t.tenant })
        }
        OAuthCommand::Users(t) => {
            AdminClient::new(&t.server)?
                .get(&path(&t.tenant, "/users"))
                .await?
        }
        OAuthCommand::Revoke {
            username,
            target: t,
        } => {
            let user: String = form_urlencoded::byte_serialize(username.as_bytes()).collect();
            AdminClient::new(&t.server)?
                .delete(&path(&t.tenant, &format!("/users/{user}")))
                .await?
        }
        OAuthCommand::RevokeAll(t) => {
            AdminClient::new(&t.server)?
                .delete(&path(&t.tenant, "/users"))
                .await?
        }
    };
    print_json(&body);
    Ok(())
}

/// Deleting a tenant cannot be undone: asks on a terminal, and refuses
/// without `--yes` anywhere else.
fn confirm_delete(name: &str) -> anyhow::Result<()> {
    let question = format!(
        "Delete tenant {name} and everything it owns (actions, versions, keys, secrets, \
         key-value data, run log)? This cannot be undone."
    );
    match docket::terminal::confirm(&question).context("reading the answer")? {
        Some(true) => Ok(()),
        Some(false) => bail!("tenant {name} not deleted"),
        None => bail!(
            "deleting tenant {name} removes its actions, versions, keys, secrets, key-value \
             data and run log for good: pass --yes to confirm (stdin is not a terminal, so \
             there is no one to ask)"
        ),
    }
}

/// Prints a JSON value, pretty.
pub fn print_json(value: &Value) {
    outln!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

/// `docket logs`: the newest `--limit` invocations, oldest first; with
/// `--follow`, then every new one as it is recorded, until Ctrl-C.
pub async fn logs(args: LogsArgs) -> anyhow::Result<()> {
    let client = AdminClient::new(&args.server)?;
    let mut filters = form_urlencoded::Serializer::new(String::new());
    if let Some(action) = &args.action {
        filters.append_pair("action", action);
    }
    if let Some(outcome) = &args.outcome {
        filters.append_pair("outcome", outcome);
    }
    let filters = filters.finish();
    let base = format!("/tenants/{}/invocations", args.tenant);
    let listed = client
        .get(&format!("{base}?limit={}&{filters}", args.limit))
        .await?;
    let records = listed["invocations"]
        .as_array()
        .context("the server's answer has no invocations")?;
    for record in records.iter().rev() {
        out!("{}", invocation_line(record));
    }
    if !args.follow {
        return Ok(());
    }
    // Resuming after the newest one listed loses nothing recorded in between.
    let newest = records.first().and_then(|r| r["id"].as_str());
    let mut events = client
        .events(&format!("{base}/stream?{filters}"), newest)
        .await?;
    loop {
        tokio::select! {
            event = events.next() => match event? {
                Some(record) => out!("{}", invocation_line(&record)),
                None => bail!("the server ended the stream"),
            },
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// One invocation as `docket logs` prints it: time, action@version,
/// outcome, duration, the limit hit (or `-`) and the request id, then,
/// indented, the error Workfront was answered (`error: …`), the outbound
/// requests (`→ METHOD host status ms`) and the last lines of its stderr
/// (`stderr: …`).
fn invocation_line(record: &Value) -> String {
    let text = |name: &str| record[name].as_str().unwrap_or("-");
    let mut line = format!(
        "{}  {}@{}  {}  {} ms  {}  {}\n",
        text("time"),
        text("action"),
        record["version"],
        text("outcome"),
        record["ms"],
        text("limitHit"),
        text("requestId"),
    );
    if let Some(error) = record["answer"]["body"]["error"].as_str() {
        line.push_str(&format!("    error: {error}\n"));
    }
    for call in record["outbound"].as_array().into_iter().flatten() {
        line.push_str(&outbound_line(call));
    }
    if let Some(stderr) = record["stderr"].as_str() {
        let lines: Vec<&str> = stderr.lines().collect();
        let shown = lines.len().min(STDERR_LINES_SHOWN);
        if lines.len() > shown {
            line.push_str(&format!(
                "    stderr: … {} earlier lines (the whole record: GET …/invocations/{})\n",
                lines.len() - shown,
                record["id"].as_str().unwrap_or("-"),
            ));
        }
        for stderr_line in &lines[lines.len() - shown..] {
            line.push_str(&format!("    stderr: {stderr_line}\n"));
        }
    }
    line
}

/// One outbound request of an invocation: `→ POST api.example.com 201 12 ms`,
/// or the outcome (`denied`, `error`) where no status came back.
pub fn outbound_line(call: &Value) -> String {
    let status = match call["status"].as_u64() {
        Some(status) => status.to_string(),
        None => call["outcome"].as_str().unwrap_or("-").to_owned(),
    };
    format!(
        "    → {} {} {} {} ms\n",
        call["method"]
            .as_str()
            .filter(|m| !m.is_empty())
            .unwrap_or("-"),
        call["host"].as_str().unwrap_or("-"),
        status,
        call["ms"],
    )
}
