//! The folder tree, from the `in:<parent>:<id>` marker keys alone.

use std::collections::{BTreeMap, BTreeSet};

/// Everything below `top` (not `top` itself), each with its parent, parents
/// before their children. `links` are `(parent, id)` pairs; ones not
/// reachable from `top` are left out, and so is a cycle back to `top`.
pub fn below(top: &str, links: &[(String, String)]) -> Vec<(String, String)> {
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (parent, id) in links {
        children.entry(parent).or_default().push(id);
    }
    let mut out = Vec::new();
    let mut seen = BTreeSet::from([top]);
    let mut queue = vec![top];
    let mut next = 0;
    while let Some(&folder) = queue.get(next) {
        next += 1;
        for &id in children.get(folder).into_iter().flatten() {
            if seen.insert(id) {
                out.push((folder.to_owned(), id.to_owned()));
                queue.push(id);
            }
        }
    }
    out
}

/// The ids of `parent`'s direct children.
pub fn children(parent: &str, links: &[(String, String)]) -> Vec<String> {
    links
        .iter()
        .filter(|(p, _)| p == parent)
        .map(|(_, id)| id.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(p, i)| ((*p).to_owned(), (*i).to_owned()))
            .collect()
    }

    #[test]
    fn subtree_in_breadth_first_order() {
        let l = links(&[("/", "1"), ("1", "2"), ("2", "3"), ("/", "4"), ("9", "8")]);
        let all: Vec<_> = below("/", &l).into_iter().map(|(_, id)| id).collect();
        assert_eq!(all, ["1", "4", "2", "3"]);
        assert_eq!(below("1", &l), links(&[("1", "2"), ("2", "3")]));
        assert!(below("3", &l).is_empty());
        assert!(below("nope", &l).is_empty());
    }

    #[test]
    fn cycles_end() {
        let l = links(&[("1", "2"), ("2", "1")]);
        assert_eq!(below("1", &l), links(&[("1", "2")]));
    }

    #[test]
    fn direct_children() {
        let l = links(&[("/", "1"), ("1", "2"), ("/", "4")]);
        assert_eq!(children("/", &l), ["1", "4"]);
        assert!(children("2", &l).is_empty());
    }
}
