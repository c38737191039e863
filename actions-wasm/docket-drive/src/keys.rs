//! The keys the drive keeps in the key-value store and the blob store.
//!
//! * `doc:<id>`: the [`Record`](crate::record::Record) of a file or folder, as JSON;
//! * `in:<parent>:<id>`: an empty marker saying `<id>` is in folder `<parent>`.
//!   The tree is read from these keys alone, and each new file or folder
//!   writes keys of its own, so concurrent uploads into one folder cannot
//!   overwrite each other's entries;
//! * `next-id`: the counter new ids come from;
//! * `rev:<folder>`: the folder's revision, a counter each change of its
//!   contents takes the next value of (see [`crate::index`]);
//! * blob `file/<id>`: a file's bytes;
//! * blob `index/<folder>`: the folder's listing index ([`crate::index`]).
//!
//! Ids are the counter's values in base 36 ("1", "2", … "a", … "10"), so they
//! never contain `:`; the root folder is "/" and has no record.

/// The root folder's id.
pub const ROOT: &str = "/";
/// The counter new ids come from.
pub const COUNTER: &str = "next-id";

const DOC: &str = "doc:";
const CHILD: &str = "in:";
const REV: &str = "rev:";

/// The key of the record of `id`.
pub fn doc(id: &str) -> String {
    format!("{DOC}{id}")
}

/// The marker key saying `id` is in folder `parent`.
pub fn child(parent: &str, id: &str) -> String {
    format!("{CHILD}{parent}:{id}")
}

/// The `(parent, id)` a marker key names, or `None` for other keys.
pub fn parse_child(key: &str) -> Option<(&str, &str)> {
    key.strip_prefix(CHILD)?.rsplit_once(':')
}

/// The key of folder `id`'s revision counter.
pub fn rev(id: &str) -> String {
    format!("{REV}{id}")
}

/// The blob key of folder `id`'s listing index.
pub fn index(id: &str) -> String {
    format!("index/{id}")
}

/// The blob key of a file's bytes.
pub fn blob(id: &str) -> String {
    format!("file/{id}")
}

/// The id for counter value `n`: `n` in base 36, lower case.
pub fn id_from_counter(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Whether `id` could be one of the drive's ids (checked before it is put in
/// a key, so a malformed id is simply not found).
pub fn plausible(id: &str) -> bool {
    id == ROOT
        || (!id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_keys_round_trip() {
        assert_eq!(parse_child(&child(ROOT, "1a")), Some((ROOT, "1a")));
        assert_eq!(parse_child(&child("z", "10")), Some(("z", "10")));
        assert_eq!(parse_child(&doc("1a")), None);
        assert_eq!(parse_child(COUNTER), None);
    }

    #[test]
    fn ids_are_base36() {
        assert_eq!(id_from_counter(0), "0");
        assert_eq!(id_from_counter(1), "1");
        assert_eq!(id_from_counter(35), "z");
        assert_eq!(id_from_counter(36), "10");
        assert_eq!(id_from_counter(u64::MAX), "3w5e11264sgsf");
    }

    #[test]
    fn plausible_ids() {
        assert!(plausible("/"));
        assert!(plausible("1a"));
        assert!(!plausible(""));
        assert!(!plausible("a:b"));
        assert!(!plausible("../x"));
        assert!(!plausible(&"1".repeat(33)));
    }
}
