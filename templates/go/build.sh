#!/usr/bin/env bash
# Builds {{name}}.wasm with Go 1.21 or later (GO=/path/to/go to pick one; see docket/README.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
GO=${GO:-go}
GOOS=wasip1 GOARCH=wasm GOTOOLCHAIN=local "$GO" build -trimpath -ldflags='-s -w' -o {{name}}.wasm .
