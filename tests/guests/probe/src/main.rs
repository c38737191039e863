//! Test guest: tries what a hostile action would try (files, directories,
//! environment, sockets) and reports each attempt as `allowed` or `denied`.
//! With a `secret` parameter, reports that secret instead (from the request).

use docket_sdk::{Outcome, Request};

#[path = "../../capability_probe.rs"]
mod capability_probe;

fn main() {
    docket_sdk::run_command(run)
}

fn verdict<T, E>(attempt: Result<T, E>) -> &'static str {
    if attempt.is_ok() { "ALLOWED" } else { "denied" }
}

fn run(req: Request) -> Outcome {
    if let Some(outcome) = capability_probe::probe(&req) {
        return outcome;
    }
    let attempts = [
        ("read-file", verdict(std::fs::read("/etc/passwd"))),
        ("list-root", verdict(std::fs::read_dir("/"))),
        ("list-cwd", verdict(std::fs::read_dir("."))),
        ("create-file", verdict(std::fs::File::create("probe.txt"))),
        (
            "socket",
            verdict(std::net::TcpStream::connect("127.0.0.1:80")),
        ),
    ];
    let report: Vec<String> = attempts
        .iter()
        .map(|(what, v)| format!("{what}={v}"))
        .collect();
    let env = std::env::vars().count();
    let args: Vec<String> = std::env::args().collect();
    Ok(Some(format!(
        "{} env={env} args={}",
        report.join(" "),
        args.join(",")
    )))
}
