//! Reading a crashed action's stderr the way its author would.
//!
//! Language runtimes report a panic on stderr and then exit or trap; the last
//! line they print is almost never the useful one (Rust and Python end with a
//! backtrace hint, Zig with "Cannot print stack trace", Go with a stack frame
//! and its source path). So Docket looks for the panic report itself — the
//! rule is in `guest-sdk/CONTRACT.md` — and shows its message:
//!
//! * a line starting with `panic: ` (Go, Zig), `fatal error: ` (Go) or
//!   `abort: ` (AssemblyScript), after an optional thread label;
//! * a line containing `panicked at` (Rust), whose message follows on the next
//!   lines (or, in the older form, is quoted on the same line).

/// Longest panic message shown, in characters.
const MAX_MESSAGE_CHARS: usize = 512;

/// The panic report in `stderr`, as the user is shown it: `panic: MESSAGE`
/// or `fatal error: MESSAGE`. `None` when there is none.
pub fn panic_report(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr.lines().collect();
    // componentize-py prints the Python traceback, then its runtime panics
    // with "Python function threw an unexpected exception": the exception
    // line is what the author needs.
    if let Some(exception) = python_exception(&lines) {
        return Some(format!("exception: {exception}"));
    }
    for (i, line) in lines.iter().enumerate() {
        let rest = without_thread_label(line.trim());
        if let Some((_, after)) = rest.split_once("panicked at ") {
            return Some(format!("panic: {}", rust_message(after, &lines[i + 1..])));
        }
        if let Some(message) = rest.strip_prefix("panic: ") {
            let message = message.trim_end_matches(" [recovered]");
            return Some(format!("panic: {}", bounded(message)));
        }
        if let Some(message) = rest.strip_prefix("fatal error: ") {
            return Some(format!("fatal error: {}", bounded(message)));
        }
        if let Some(message) = rest.strip_prefix("abort: ") {
            return Some(format!(
                "panic: {}",
                bounded(without_source_location(message))
            ));
        }
    }
    None
}

/// The exception line ending a Python traceback: the first line after
/// `Traceback (most recent call last):` that is not indented.
fn python_exception(lines: &[&str]) -> Option<String> {
    let start = lines
        .iter()
        .position(|l| l.trim_end() == "Traceback (most recent call last):")?;
    lines[start + 1..]
        .iter()
        .find(|l| !l.is_empty() && !l.starts_with(char::is_whitespace))
        .map(|l| bounded(l.trim()))
}

/// The line of `stderr` that best explains a failure with no answer: the last
/// non-empty line that is not a runtime's hint or stack frame.
pub fn meaningful_line(stderr: &str) -> Option<String> {
    stderr
        .lines()
        .rev()
        .map(str::trim_end)
        .filter(|line| !line.trim().is_empty())
        .find(|line| !is_runtime_noise(line))
        .map(|line| bounded(line.trim()))
}

fn is_runtime_noise(line: &str) -> bool {
    let trimmed = line.trim_start();
    line.starts_with('\t')
        || trimmed.starts_with("note: run with `RUST_BACKTRACE")
        || trimmed.starts_with("Cannot print stack trace")
        || trimmed.contains("debug info unavailable for target")
        || trimmed.contains("Redirecting call to abort()")
        || trimmed.starts_with("stack backtrace:")
        || (trimmed.starts_with("goroutine ") && trimmed.ends_with(':'))
        || trimmed.starts_with("exit status ")
}

/// `thread 'main' panicked…` → `panicked…`; `thread 1 panic: …` → `panic: …`.
fn without_thread_label(line: &str) -> &str {
    let Some(rest) = line.strip_prefix("thread ") else {
        return line;
    };
    if let Some(quoted) = rest.strip_prefix('\'') {
        return quoted.split_once("' ").map_or(line, |(_, after)| after);
    }
    rest.split_once(' ')
        .filter(|(label, _)| label.chars().all(|c| c.is_ascii_digit()))
        .map_or(line, |(_, after)| after)
}

/// Rust's message: `panicked at 'boom', src/main.rs:3:5` (before 1.73), or
/// `panicked at src/main.rs:3:5:` with the message on the following lines.
fn rust_message(after: &str, following: &[&str]) -> String {
    if let Some(quoted) = after.strip_prefix('\'') {
        let message = quoted.rsplit_once("', ").map_or(quoted, |(m, _)| m);
        return bounded(message);
    }
    let message: Vec<&str> = following
        .iter()
        .map(|l| l.trim())
        .take_while(|l| {
            !l.is_empty() && !l.starts_with("note: ") && !l.starts_with("stack backtrace:")
        })
        .collect();
    if message.is_empty() {
        return bounded(&format!("at {}", after.trim_end_matches(':')));
    }
    bounded(&message.join(" "))
}

/// AssemblyScript ends an abort line with ` in FILE(LINE:COLUMN)`.
fn without_source_location(message: &str) -> &str {
    match message.rsplit_once(" in ") {
        Some((text, location)) if location.ends_with(')') && location.contains('(') => {
            if text.trim().is_empty() {
                message
            } else {
                text
            }
        }
        _ => message,
    }
}

fn bounded(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_panics_in_both_formats_show_their_message() {
        let new = "thread 'main' panicked at src/main.rs:3:5:\nboom\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(panic_report(new).as_deref(), Some("panic: boom"));
        let old = "thread 'main' panicked at 'boom, twice', src/main.rs:3:5\nnote: run with `RUST_BACKTRACE=1`\n";
        assert_eq!(panic_report(old).as_deref(), Some("panic: boom, twice"));
    }

    #[test]
    fn go_panics_and_fatal_errors_show_their_message_not_a_frame() {
        let go = "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n\t/src/example.com/action/main.go:50 +0x3\n";
        assert_eq!(panic_report(go).as_deref(), Some("panic: boom"));
        let fatal =
            "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [chan receive]:\n";
        assert_eq!(
            panic_report(fatal).as_deref(),
            Some("fatal error: all goroutines are asleep - deadlock!")
        );
        let repanic = "panic: first [recovered]\n\tpanic: second\n";
        assert_eq!(panic_report(repanic).as_deref(), Some("panic: first"));
    }

    #[test]
    fn zig_and_assemblyscript_reports_show_their_message() {
        let zig = "thread 1 panic: reached unreachable code\nCannot print stack trace: stack tracing is disabled\n";
        assert_eq!(
            panic_report(zig).as_deref(),
            Some("panic: reached unreachable code")
        );
        let assemblyscript = "abort: boom in assembly/index.ts(4:3)\n";
        assert_eq!(panic_report(assemblyscript).as_deref(), Some("panic: boom"));
        let bare = "abort:  in assembly/index.ts(4:3)\n";
        assert_eq!(
            panic_report(bare).as_deref(),
            Some("panic:  in assembly/index.ts(4:3)")
        );
    }

    #[test]
    fn a_python_exception_shows_its_own_line_not_the_runtime_panic() {
        let python = "Traceback (most recent call last):\n  File \"app.py\", line 3, in run\n    raise RuntimeError(\"boom\")\nRuntimeError: boom\nthread '<unnamed>' (1) panicked at runtime/src/lib.rs:1293:29:\nPython function threw an unexpected exception\n";
        assert_eq!(
            panic_report(python).as_deref(),
            Some("exception: RuntimeError: boom")
        );
    }

    #[test]
    fn ordinary_stderr_is_no_panic() {
        assert_eq!(panic_report("starting\nfolder not found\n"), None);
        assert_eq!(panic_report("the word panic: mid-line\n"), None);
    }

    #[test]
    fn the_meaningful_line_skips_runtime_hints() {
        let stderr = "disk on fire\nnote: run with `RUST_BACKTRACE=1` environment variable\n";
        assert_eq!(meaningful_line(stderr).as_deref(), Some("disk on fire"));
        let zig = "bad input\nCannot print stack trace: stack tracing is disabled\n\n";
        assert_eq!(meaningful_line(zig).as_deref(), Some("bad input"));
        assert_eq!(meaningful_line("\n \n"), None);
    }

    #[test]
    fn messages_are_bounded() {
        let long = format!("panic: {}\n", "x".repeat(2000));
        let report = panic_report(&long).unwrap();
        assert!(report.chars().count() < 600, "{}", report.len());
    }
}
