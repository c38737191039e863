//! Rebuild when the embedded templates or guest SDK change (`docket new`),
//! and embed the web console's built assets (`console/dist`, made by
//! `make console`) as `$OUT_DIR/console_assets.rs`.
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=../templates");
    println!("cargo:rerun-if-changed=../guest-sdk");
    embed_console();
}

/// Writes `CONSOLE_ASSETS: &[(&str, &[u8])]`, each file of `console/dist`
/// by name; empty when the console was not built (the binary then answers
/// `/console` saying how to build it).
fn embed_console() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR");
    let dist = Path::new(&manifest_dir).join("../console/dist");
    let watched = if dist.is_dir() {
        dist.clone()
    } else {
        Path::new(&manifest_dir).join("../console")
    };
    println!("cargo:rerun-if-changed={}", watched.display());
    let mut files: Vec<_> = std::fs::read_dir(&dist)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut source = String::from(
        "/// The console's files, by name.\npub static CONSOLE_ASSETS: &[(&str, &[u8])] = &[\n",
    );
    for path in files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("a file name");
        let absolute = path.canonicalize().expect("canonical path");
        source.push_str(&format!(
            "    ({name:?}, include_bytes!({:?})),\n",
            absolute.display().to_string()
        ));
    }
    source.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("console_assets.rs");
    std::fs::write(out, source).expect("writing console_assets.rs");
}
