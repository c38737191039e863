//! The layers `runner/src/lib.rs` and docs/architecture.md describe hold in
//! the source: each top-level module of the library imports only modules of
//! lower layers, so control flows down (http → invocation → app → …) and no
//! two modules import each other. A new import against the layers fails here
//! with the file that has it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Each top-level module's layer: a module may import only modules of a
/// lower layer. Keep in step with docs/architecture.md#modules-and-layering.
const LAYERS: &[(&str, u32)] = &[
    ("limits", 0),
    ("names", 0),
    ("metrics", 0),
    ("telemetry", 0),
    ("wasm_pool", 0),
    ("terminal", 0),
    ("capabilities", 1),
    ("manifest", 2),
    ("engine", 2),
    ("registry", 3),
    ("compiles", 3),
    ("app", 4),
    ("invocation", 5),
    ("declarative", 5),
    ("oauth", 5),
    ("http", 6),
    ("migrate", 6),
    ("scaffold", 6),
    ("config", 7),
    ("client", 8),
    ("local_run", 8),
];

fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The `.rs` files of a top-level module (its file and its folder), without
/// test-only files.
fn files_of(module: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let single = source_dir().join(format!("{module}.rs"));
    if single.exists() {
        files.push(single);
    }
    let mut folders = vec![source_dir().join(module)];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "conformance" {
                    folders.push(path);
                }
            } else if name.ends_with(".rs")
                && name != "tests.rs"
                && !name.ends_with("_tests.rs")
                && name != "test_postgres.rs"
                && name != "conformance.rs"
            {
                files.push(path);
            }
        }
    }
    files
}

/// The top-level modules a file names as `crate::<module>`, outside comments
/// and its inline `mod tests { … }`.
fn imports(text: &str) -> Vec<String> {
    let code = match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    };
    let mut found = Vec::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            found.push(name);
        }
    }
    found
}

/// Every top-level module is in the table, and imports only lower layers.
#[test]
fn modules_import_only_lower_layers() {
    let layers: BTreeMap<&str, u32> = LAYERS.iter().copied().collect();
    let lib = std::fs::read_to_string(source_dir().join("lib.rs")).unwrap();
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    for module in &declared {
        assert!(
            layers.contains_key(module),
            "runner/src/lib.rs declares `{module}`, which tests/layers.rs gives no layer"
        );
    }
    let mut against = Vec::new();
    for (module, layer) in LAYERS {
        assert!(
            declared.contains(module),
            "tests/layers.rs names `{module}`, which lib.rs does not declare"
        );
        for file in files_of(module) {
            let text = std::fs::read_to_string(&file).unwrap();
            for imported in imports(&text) {
                let Some(&their_layer) = layers.get(imported.as_str()) else {
                    continue;
                };
                if imported != *module && their_layer >= *layer {
                    against.push(format!(
                        "{} (`{module}`, layer {layer}) imports `{imported}` (layer {their_layer})",
                        file.strip_prefix(source_dir()).unwrap().display()
                    ));
                }
            }
        }
    }
    against.sort();
    against.dedup();
    assert!(
        against.is_empty(),
        "imports against the layers:\n{}",
        against.join("\n")
    );
}
