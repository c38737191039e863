#!/usr/bin/env bash
# Builds {{name}}.wasm (a WASI command) from main.zig and docket/docket.zig.
# Needs Zig 0.17: `zig` on PATH, or `python3 -m pip install ziglang==0.17.1`.
set -euo pipefail
cd "$(dirname "$0")"
if command -v zig >/dev/null; then zig=(zig); else zig=(python3 -m ziglang); fi
export ZIG_LOCAL_CACHE_DIR="${ZIG_LOCAL_CACHE_DIR:-.zig-cache}" ZIG_GLOBAL_CACHE_DIR="${ZIG_GLOBAL_CACHE_DIR:-.zig-cache}"
"${zig[@]}" build-exe -target wasm32-wasi -O ReleaseSmall --name {{name}} \
    --dep docket -Mroot=main.zig -Mdocket=docket/docket.zig -femit-bin={{name}}.wasm
