#!/usr/bin/env bash
# Builds js-webdav (JavaScript, document provider) into $DIST/js-webdav.wasm with
# componentize-js, installed from npm into $TOOLCHAINS/js when missing.
# Run from the repository root: DIST=… TOOLCHAINS=… bash actions-wasm/js-webdav/build.sh
set -euo pipefail

NAME=js-webdav
COMPONENTIZE_JS=0.23.0
: "${DIST:?set DIST to the output directory}" "${TOOLCHAINS:?set TOOLCHAINS to the toolchain directory}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TOOL=$TOOLCHAINS/js
BIN=$TOOL/node_modules/.bin/componentize-js
OUT=$DIST/$NAME.wasm
INPUTS=("$HERE/webdav.js" "$HERE/dav.js" "$HERE/build.sh" "$HERE/wit" "$ROOT/guest-sdk/js/provider.js" "$ROOT/guest-sdk/wit-provider" "$ROOT/guest-sdk/wit/deps")

skip() { echo "skipping $NAME: $*"; exit 0; }

# Up to date: the output is newer than every input.
if [ -f "$OUT" ] && [ -z "$(find "${INPUTS[@]}" -newer "$OUT" -print -quit)" ]; then
    exit 0
fi

command -v node >/dev/null && command -v npm >/dev/null || skip "node and npm are not installed (Node.js 20 or newer is needed)"
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" -ge 20 ] || skip "componentize-js needs Node.js 20 or newer, this is $(node --version)"

installed=$(node -p "require('$TOOL/node_modules/@bytecodealliance/componentize-js/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$COMPONENTIZE_JS" ] || [ ! -x "$BIN" ]; then
    mkdir -p "$TOOL"
    log=$(mktemp)
    if ! npm install --prefix "$TOOL" --save-exact --no-audit --no-fund --no-progress --loglevel=error \
        "@bytecodealliance/componentize-js@$COMPONENTIZE_JS" >"$log" 2>&1; then
        why=$(grep -v '^npm warn' "$log" | grep -m1 . || echo "npm install failed")
        rm -f "$log"
        skip "npm install @bytecodealliance/componentize-js@$COMPONENTIZE_JS failed: $why"
    fi
    rm -f "$log"
fi

echo "building $NAME (JavaScript, componentize-js $COMPONENTIZE_JS)"
mkdir -p "$DIST"
# componentize-js lets the source import files under the working directory only:
# run from the repository root so webdav.js can import guest-sdk/js/provider.js.
cd "$ROOT"
# Written beside the output and renamed, so a failed build leaves no stale module.
"$BIN" --wit "$HERE/wit" --world-name webdav -o "$OUT.tmp" actions-wasm/js-webdav/webdav.js
mv "$OUT.tmp" "$OUT"
