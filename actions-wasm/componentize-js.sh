# Sourced by the JavaScript examples' build.sh (js-approvers, js-webdav): the
# caller sets NAME, OUT and INPUTS (and DIST, TOOLCHAINS from the Makefile).
# Exits 0 when OUT is newer than every input, or, with a message, when
# componentize-js cannot be installed; otherwise installs it from npm into
# $TOOLCHAINS/js when missing and sets BIN and COMPONENTIZE_JS.

COMPONENTIZE_JS=0.23.0
TOOL=$TOOLCHAINS/js
BIN=$TOOL/node_modules/.bin/componentize-js

skip() { echo "skipping $NAME: $*"; exit 0; }

# Up to date: the output is newer than every input.
if [ -f "$OUT" ] && [ -z "$(find "${INPUTS[@]}" "${BASH_SOURCE[0]}" -newer "$OUT" -print -quit)" ]; then
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
