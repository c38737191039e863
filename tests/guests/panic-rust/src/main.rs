//! Test guest: a Rust action with no helper, as an author would write it from
//! `guest-sdk/CONTRACT.md`. It reads the request and panics with `boom`; with
//! the request parameter `answer=not-found` it first prints a `not-found`
//! failure on stdout, so the answer and the panic report race each other.

use std::io::{Read, Write};

fn main() {
    let mut request = String::new();
    std::io::stdin()
        .read_to_string(&mut request)
        .expect("read the request");
    if request.contains(r#""answer":"not-found""#) {
        let mut stdout = std::io::stdout();
        stdout
            .write_all(b"{\"status\":\"failure\",\"kind\":\"not-found\",\"error\":\"gone\"}\n")
            .expect("write the answer");
        stdout.flush().expect("flush the answer");
    }
    panic!("boom");
}
