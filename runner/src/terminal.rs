//! What the CLI writes to the terminal and asks of it.
//!
//! Commands print their results through [`outln!`](crate::outln) and
//! [`out!`](crate::out) rather than `println!`: when whoever reads stdout has
//! gone (`docket logs acme | head`), the process ends quietly with status 0,
//! as a Unix filter does, instead of panicking. [`confirm`] asks a y/N
//! question, only of a terminal.

use std::io::{IsTerminal, Write};

/// Writes to stdout and flushes; ends the process with status 0 if the
/// reader has gone (a broken pipe), or 1 on any other write error.
#[doc(hidden)]
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    let written = {
        let mut stdout = std::io::stdout().lock();
        stdout.write_fmt(args).and_then(|()| stdout.flush())
    };
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("error: writing to stdout: {e}");
            std::process::exit(1);
        }
    }
}

/// `println!` for the CLI's output: a closed stdout ends the process quietly
/// (see the [module](crate::terminal)).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::terminal::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::terminal::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for the CLI's output: a closed stdout ends the process quietly
/// (see the [module](crate::terminal)).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::terminal::write_stdout(format_args!($($arg)*))
    };
}

/// Asks `question` on stderr, followed by `[y/N]`, and reads the answer from
/// stdin: `Some(true)` for `y` or `yes` (any case), `Some(false)` for
/// anything else, and `None` without asking when stdin is not a terminal
/// (nobody is there to answer).
pub fn confirm(question: &str) -> std::io::Result<Option<bool>> {
    if !std::io::stdin().is_terminal() {
        return Ok(None);
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    let answer = answer.trim().to_ascii_lowercase();
    Ok(Some(answer == "y" || answer == "yes"))
}
