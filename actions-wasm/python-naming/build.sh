#!/usr/bin/env bash
# Builds python-naming (component ABI, Python + guest-sdk/python) with componentize-py
# into $DIST/python-naming.wasm. Run from the repository root with DIST and TOOLCHAINS set.
set -euo pipefail
name=python-naming
version=0.25.1 # componentize-py, from PyPI
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
src=$root/actions-wasm/$name
sdk=$root/guest-sdk/python
tool=$TOOLCHAINS/python
out=$DIST/$name.wasm

# Up to date: the output is newer than every input.
if [ -f "$out" ] && [ -z "$(find "$src" "$sdk" "$root/guest-sdk/wit" -type f -not -path '*/__pycache__/*' -newer "$out" -print -quit)" ]; then
    exit 0
fi

if [ ! -f "$tool/componentize_py-$version.dist-info/RECORD" ]; then
    if ! python3 -m pip --version >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        (apt-get install -y -qq python3-pip || (apt-get update -qq && apt-get install -y -qq python3-pip)) >/dev/null 2>&1 || true
    fi
    rm -rf "$tool"
    if ! python3 -m pip install --quiet --disable-pip-version-check --no-input \
        --target "$tool" "componentize-py==$version" >/dev/null 2>&1; then
        rm -rf "$tool"
        echo "skipping $name: could not install componentize-py==$version from PyPI with python3 -m pip"
        exit 0
    fi
fi

echo "building $name (Python, componentize-py $version)"
# Lay the sources out the way `docket new` does: app.py next to the docket/ package.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$src/app.py" "$work/"
mkdir "$work/docket"
cp -r "$sdk/." "$work/docket/"
cp -r "$root/guest-sdk/wit" "$work/docket/wit"
rm -rf "$work/docket/__pycache__"
mkdir -p "$DIST"
(cd "$work" && PYTHONPATH="$tool" python3 -c \
    'import sys; from componentize_py import script; sys.argv[0] = "componentize-py"; sys.exit(script())' \
    -q -d docket/wit -w action componentize -p . app -o "$work/$name.wasm")
mv "$work/$name.wasm" "$out"
