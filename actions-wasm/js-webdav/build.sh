#!/usr/bin/env bash
# Builds js-webdav (JavaScript, document provider) into $DIST/js-webdav.wasm with
# componentize-js, installed from npm into $TOOLCHAINS/js when missing.
# Run from the repository root: DIST=… TOOLCHAINS=… bash actions-wasm/js-webdav/build.sh
set -euo pipefail

NAME=js-webdav
: "${DIST:?set DIST to the output directory}" "${TOOLCHAINS:?set TOOLCHAINS to the toolchain directory}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$DIST/$NAME.wasm
INPUTS=("$HERE/webdav.js" "$HERE/dav.js" "$HERE/build.sh" "$HERE/wit" "$ROOT/guest-sdk/js/provider.js" "$ROOT/guest-sdk/wit-provider" "$ROOT/guest-sdk/wit/deps")

# shellcheck source=../componentize-js.sh
source "$HERE/../componentize-js.sh"
# componentize-js lets the source import files under the working directory only:
# run from the repository root so webdav.js can import guest-sdk/js/provider.js.
cd "$ROOT"
# Written beside the output and renamed, so a failed build leaves no stale module.
"$BIN" --wit "$HERE/wit" --world-name webdav -o "$OUT.tmp" actions-wasm/js-webdav/webdav.js
mv "$OUT.tmp" "$OUT"
