#!/usr/bin/env bash
# Builds {{name}}.wasm (a document-provider component) and copies it beside
# {{name}}.toml, from wherever Cargo put it: target/, CARGO_TARGET_DIR, a
# workspace's target directory or a `build.target-dir` setting alike.
# Arguments go to `cargo build` (e.g. `bash build.sh --offline`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
cargo=${CARGO:-cargo}
"$cargo" build --release --target wasm32-wasip2 "$@"
target_dir=$("$cargo" metadata --format-version 1 --no-deps --offline |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
# A cdylib's file name spells `-` as `_`.
lib=$(echo "{{name}}" | tr - _)
cp "$target_dir/wasm32-wasip2/release/$lib.wasm" {{name}}.wasm
echo "built {{name}}.wasm"
