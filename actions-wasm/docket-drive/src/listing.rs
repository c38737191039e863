//! The order and pages of listings, and which titles a search matches.

use crate::record::Entry;

/// Sorts folders first, then files, each by title ignoring case (ties by
/// exact title, then id, so the order is stable across calls and pages).
pub fn sort(entries: &mut [Entry]) {
    entries.sort_by_cached_key(|e| {
        (
            !e.record.folder,
            e.record.title.to_lowercase(),
            e.record.title.clone(),
            e.id.clone(),
        )
    });
}

/// One page: `offset` items skipped, then at most `max` (0 means no limit,
/// as in Workfront's reference implementation).
pub fn page<T>(items: Vec<T>, max: u32, offset: u32) -> Vec<T> {
    let take = if max == 0 { usize::MAX } else { max as usize };
    items.into_iter().skip(offset as usize).take(take).collect()
}

/// A search query, prepared once: trimmed and lower-cased.
pub struct Query(String);

impl Query {
    /// Prepares `query`; `None` when it is empty or blank (nothing matches).
    pub fn new(query: &str) -> Option<Self> {
        let q = query.trim();
        (!q.is_empty()).then(|| Query(q.to_lowercase()))
    }

    /// Whether `title` contains the query, ignoring case.
    pub fn matches(&self, title: &str) -> bool {
        title.to_lowercase().contains(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Record;

    fn entry(id: &str, title: &str, folder: bool) -> Entry {
        Entry {
            id: id.into(),
            record: Record::new("/", title, folder, 0),
        }
    }

    fn ids(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(|e| e.id.as_str()).collect()
    }

    #[test]
    fn folders_first_then_titles_ignoring_case() {
        let mut entries = vec![
            entry("1", "b.txt", false),
            entry("2", "Zeta", true),
            entry("3", "A.txt", false),
            entry("4", "alpha", true),
            entry("5", "a.txt", false),
            entry("6", "a.txt", false),
        ];
        sort(&mut entries);
        assert_eq!(ids(&entries), ["4", "2", "3", "5", "6", "1"]);
    }

    #[test]
    fn pages() {
        let items: Vec<u32> = (0..10).collect();
        assert_eq!(page(items.clone(), 3, 0), [0, 1, 2]);
        assert_eq!(page(items.clone(), 3, 8), [8, 9]);
        assert_eq!(page(items.clone(), 0, 7), [7, 8, 9]);
        assert_eq!(page(items.clone(), 100, 10), Vec::<u32>::new());
        assert_eq!(page(items, 5, u32::MAX), Vec::<u32>::new());
    }

    #[test]
    fn queries_match_substrings_ignoring_case() {
        let q = Query::new("  Plan ").unwrap();
        assert!(q.matches("Q4 plan.docx"));
        assert!(q.matches("PLANNING"));
        assert!(!q.matches("plam"));
        assert!(Query::new("").is_none());
        assert!(Query::new("   ").is_none());
        assert!(Query::new("Ä").unwrap().matches("bär"));
    }
}
