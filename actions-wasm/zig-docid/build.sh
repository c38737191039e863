#!/usr/bin/env bash
# Builds actions-wasm/zig-docid into $DIST/zig-docid.wasm with Zig from PyPI
# (package ziglang, installed into $TOOLCHAINS/zig). Run from the repo root.
set -euo pipefail

ZIG_VERSION=0.17.1
here=actions-wasm/zig-docid
out="$DIST/zig-docid.wasm"
inputs=("$here/docid.zig" "$here/build.sh" guest-sdk/zig/docket.zig)

# Up to date: nothing to do.
if [[ -f "$out" ]] && [[ -z "$(find "${inputs[@]}" -newer "$out")" ]]; then exit 0; fi

zig() { PYTHONPATH="$TOOLCHAINS/zig" python3 -m ziglang "$@"; }
if [[ "$(zig version 2>/dev/null)" != "$ZIG_VERSION" ]]; then
    log="$(mktemp)"
    if ! python3 -m pip install --quiet --disable-pip-version-check --no-input --upgrade \
        --target "$TOOLCHAINS/zig" "ziglang==$ZIG_VERSION" >"$log" 2>&1 \
        || [[ "$(zig version 2>/dev/null)" != "$ZIG_VERSION" ]]; then
        echo "skipping zig-docid: could not install ziglang==$ZIG_VERSION from PyPI ($(grep -m1 -i error "$log" || echo 'pip failed'))"
        rm -f "$log"
        exit 0
    fi
    rm -f "$log"
fi

echo "building zig-docid (Zig $ZIG_VERSION, wasm32-wasi)"
mkdir -p "$DIST"
export ZIG_GLOBAL_CACHE_DIR="$TOOLCHAINS/zig-cache/global" ZIG_LOCAL_CACHE_DIR="$TOOLCHAINS/zig-cache/local"
zig build-exe -j1 -target wasm32-wasi -O ReleaseSmall -fstrip --name zig-docid \
    --dep docket -Mroot="$here/docid.zig" -Mdocket=guest-sdk/zig/docket.zig \
    -femit-bin="$out.tmp"
mv "$out.tmp" "$out"
