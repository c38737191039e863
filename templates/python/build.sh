#!/usr/bin/env bash
# Builds {{name}}.wasm from app.py and the docket/ helper (needs componentize-py, see README.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
componentize-py -q -d docket/wit -w action componentize -p . app -o {{name}}.wasm
rm -rf __pycache__ docket/__pycache__
