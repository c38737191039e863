#!/usr/bin/env bash
# Builds {{name}}.wasm (a WASI command) and copies it beside {{name}}.toml,
# from wherever Cargo put it: target/, CARGO_TARGET_DIR, a workspace's
# target directory or a `build.target-dir` setting alike.
# Arguments go to `cargo build` (e.g. `bash build.sh --offline`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
cargo=${CARGO:-cargo}
"$cargo" build --release --target wasm32-wasip1 "$@"
target_dir=$("$cargo" metadata --format-version 1 --no-deps --offline |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
cp "$target_dir/wasm32-wasip1/release/{{name}}.wasm" {{name}}.wasm
echo "built {{name}}.wasm"
