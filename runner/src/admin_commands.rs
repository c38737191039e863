//! The CLI's admin commands against a server: `tenant`, `keys` and `logs`
//! (the run log, printed one line per invocation).

use anyhow::{Context, bail};
use docket::client::AdminClient;
use docket::config::{KeysCommand, LogsArgs, TenantCommand};
use serde_json::{Value, json};

/// `docket tenant …`: prints the server's answer as JSON.
pub async fn tenant(command: TenantCommand) -> anyhow::Result<()> {
    let body = match command {
        TenantCommand::Create {
            name,
            display_name,
            server,
        } => {
            let body = json!({"name": name, "displayName": display_name});
            AdminClient::new(&server).post("/tenants", &body).await?
        }
        TenantCommand::List { server } => AdminClient::new(&server).get("/tenants").await?,
        TenantCommand::Suspend { name, server } => {
            let path = format!("/tenants/{name}");
            AdminClient::new(&server)
                .patch(&path, &json!({"suspended": true}))
                .await?
        }
        TenantCommand::Resume { name, server } => {
            let path = format!("/tenants/{name}");
            AdminClient::new(&server)
                .patch(&path, &json!({"suspended": false}))
                .await?
        }
        TenantCommand::Delete { name, server } => {
            AdminClient::new(&server)
                .delete(&format!("/tenants/{name}"))
                .await?;
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
            AdminClient::new(&server).post(&path, &json!({})).await?
        }
        KeysCommand::List { tenant, server } => {
            AdminClient::new(&server)
                .get(&format!("/tenants/{tenant}/keys"))
                .await?
        }
        KeysCommand::Revoke { id, tenant, server } => {
            let path = format!("/tenants/{tenant}/keys/{id}");
            AdminClient::new(&server).delete(&path).await?;
            json!({"revoked": id})
        }
    };
    print_json(&body);
    Ok(())
}

/// Prints a JSON value, pretty.
pub fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

/// `docket logs`: the newest `--limit` invocations, oldest first; with
/// `--follow`, then every new one as it is recorded, until Ctrl-C.
pub async fn logs(args: LogsArgs) -> anyhow::Result<()> {
    let client = AdminClient::new(&args.server);
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
        print!("{}", invocation_line(record));
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
                Some(record) => print!("{}", invocation_line(&record)),
                None => bail!("the server ended the stream"),
            },
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// One invocation as `docket logs` prints it: time, action@version,
/// outcome, duration, the limit hit (or `-`) and the request id, then its
/// outbound requests (`→ METHOD host status ms`) and its stderr, indented.
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
    for call in record["outbound"].as_array().into_iter().flatten() {
        line.push_str(&outbound_line(call));
    }
    if let Some(stderr) = record["stderr"].as_str() {
        for stderr_line in stderr.lines() {
            line.push_str(&format!("    {stderr_line}\n"));
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
