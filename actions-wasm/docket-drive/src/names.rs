//! Which file and folder names the drive accepts, and when two collide.

/// The longest name, in characters (Workfront's limit for ids and names).
pub const MAX_NAME_CHARS: usize = 255;

/// Checks a new file or folder name: not empty or blank, no `/`, no control
/// characters, not `.` or `..`, at most [`MAX_NAME_CHARS`] characters.
/// Answers the reason when it is refused.
pub fn validate(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("a name cannot be empty".to_owned());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "a name can have at most {MAX_NAME_CHARS} characters"
        ));
    }
    if name.contains('/') {
        return Err(format!("\"{name}\" is not a valid name: it contains '/'"));
    }
    if name.chars().any(char::is_control) {
        return Err(format!(
            "\"{}\" is not a valid name: it contains a control character",
            name.escape_debug()
        ));
    }
    if name == "." || name == ".." {
        return Err(format!("\"{name}\" is not a valid name"));
    }
    Ok(())
}

/// Whether two names collide in one folder: the drive compares names
/// case-insensitively, as it sorts them.
pub fn same(a: &str, b: &str) -> bool {
    a == b || a.to_lowercase() == b.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for name in ["report.pdf", "Q4 plan (final).docx", "é", ".hidden", "a..b"] {
            assert_eq!(validate(name), Ok(()), "{name}");
        }
        assert_eq!(validate(&"x".repeat(255)), Ok(()));
        assert_eq!(validate(&"é".repeat(255)), Ok(()));
    }

    #[test]
    fn refuses_bad_names() {
        for name in ["", "   ", "a/b", "/", ".", "..", "tab\there", "nl\n"] {
            assert!(validate(name).is_err(), "{name:?}");
        }
        assert!(validate(&"x".repeat(256)).unwrap_err().contains("255"));
    }

    #[test]
    fn collisions_ignore_case() {
        assert!(same("Report.PDF", "report.pdf"));
        assert!(same("Ärger", "ärger"));
        assert!(!same("report.pdf", "report.pdf "));
    }
}
