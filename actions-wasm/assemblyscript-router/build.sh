#!/usr/bin/env bash
# Builds $DIST/assemblyscript-router.wasm (AssemblyScript, WASI command via
# @assemblyscript/wasi-shim). Run from the repo root with DIST and TOOLCHAINS set.
# Installs the compiler from the npm registry into $TOOLCHAINS/assemblyscript.
set -euo pipefail

NAME=assemblyscript-router
ASC_VERSION=0.28.20
SHIM_VERSION=0.1.0
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
: "${DIST:?set DIST to the output directory}"
: "${TOOLCHAINS:?set TOOLCHAINS to the toolchain directory}"
TC="$TOOLCHAINS/assemblyscript"
OUT="$DIST/$NAME.wasm"
SOURCES=("$HERE/router.ts" "$ROOT/guest-sdk/assemblyscript/docket.ts" "$HERE/build.sh")

skip() { echo "skipping $NAME: $*"; exit 0; }

installed() {
    [ -x "$TC/node_modules/.bin/asc" ] &&
        [ -f "$TC/node_modules/@assemblyscript/wasi-shim/asconfig.json" ] &&
        grep -q "\"version\": \"$ASC_VERSION\"" "$TC/node_modules/assemblyscript/package.json" &&
        grep -q "\"version\": \"$SHIM_VERSION\"" "$TC/node_modules/@assemblyscript/wasi-shim/package.json"
}

if ! installed; then
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || skip "node and npm are not installed"
    node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' ||
        skip "assemblyscript $ASC_VERSION needs node >= 20 (found $(node --version))"
    mkdir -p "$TC"
    if ! npm install --prefix "$TC" --no-audit --no-fund --save-exact --loglevel=error \
        "assemblyscript@$ASC_VERSION" "@assemblyscript/wasi-shim@$SHIM_VERSION" >"$TC/install.log" 2>&1; then
        skip "npm install assemblyscript@$ASC_VERSION failed ($(grep -m1 -i 'err' "$TC/install.log" || tail -n1 "$TC/install.log"))"
    fi
    installed || skip "npm install did not produce asc (see $TC/install.log)"
fi

if [ -f "$OUT" ]; then
    fresh=1
    for f in "${SOURCES[@]}"; do [ "$f" -nt "$OUT" ] && fresh=0; done
    [ "$fresh" = 1 ] && exit 0
fi

echo "building $NAME (AssemblyScript $ASC_VERSION, wasm32-wasi)"
mkdir -p "$DIST"
# asc resolves the shim's "lib" path against the working directory only when the
# --config path is relative, so compile from inside the toolchain directory.
cd "$TC"
./node_modules/.bin/asc "$HERE/router.ts" --config ./node_modules/@assemblyscript/wasi-shim/asconfig.json \
    -Oz -o "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
