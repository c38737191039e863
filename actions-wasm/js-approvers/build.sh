#!/usr/bin/env bash
# Builds js-approvers (JavaScript, component ABI) into $DIST/js-approvers.wasm with
# componentize-js, installed from npm into $TOOLCHAINS/js when missing.
# Run from the repository root: DIST=… TOOLCHAINS=… bash actions-wasm/js-approvers/build.sh
set -euo pipefail

NAME=js-approvers
: "${DIST:?set DIST to the output directory}" "${TOOLCHAINS:?set TOOLCHAINS to the toolchain directory}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$DIST/$NAME.wasm
INPUTS=("$HERE/approvers.js" "$HERE/build.sh" "$ROOT/guest-sdk/js/docket.js" "$ROOT/guest-sdk/wit")

# shellcheck source=../componentize-js.sh
source "$HERE/../componentize-js.sh"
# componentize-js lets the source import files under the working directory only:
# run from the repository root so approvers.js can import guest-sdk/js/docket.js.
cd "$ROOT"
# Written beside the output and renamed, so a failed build leaves no stale module.
"$BIN" --wit "$ROOT/guest-sdk/wit" --world-name action -o "$OUT.tmp" actions-wasm/js-approvers/approvers.js
mv "$OUT.tmp" "$OUT"
