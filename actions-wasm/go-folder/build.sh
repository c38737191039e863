#!/usr/bin/env bash
# Builds the go-folder example into $DIST/go-folder.wasm (Go, GOOS=wasip1).
# Run from the repository root with DIST and TOOLCHAINS set (absolute dirs).
# Go 1.23 comes from Debian bookworm-backports (golang-1.23-go, golang-1.23-src),
# fetched with `apt-get download` through a private apt configuration under
# $TOOLCHAINS/go/apt (the system's apt configuration is not touched) and unpacked
# with `dpkg -x` into $TOOLCHAINS/go. Only the standard library is used.
set -euo pipefail

name=go-folder
: "${DIST:?set DIST to the output directory}" "${TOOLCHAINS:?set TOOLCHAINS to the toolchain directory}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sdk=$(cd "$here/../../guest-sdk/go" && pwd)
out=$DIST/$name.wasm
gohome=$TOOLCHAINS/go
goroot=$gohome/usr/lib/go-1.23
packages=(golang-1.23-go golang-1.23-src)

# Up to date: nothing to do.
if [ -f "$out" ] && [ -z "$(find "$here" "$sdk" -type f \( -name '*.go' -o -name go.mod -o -name build.sh \) -newer "$out" | head -n1)" ]; then
    exit 0
fi

# The Debian mirror the machine already uses (deb.debian.org when none is found).
debian_mirror() {
    local uri
    uri=$(grep -hsoE '(https?://[^ ]+/debian)/?([[:space:]]|$)' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources | head -n1 | tr -d '[:space:]') || true
    echo "${uri%/}" | grep . || echo http://deb.debian.org/debian
}

why=""
install_go() {
    local apt=$gohome/apt keyring=/usr/share/keyrings/debian-archive-keyring.gpg signed="" deb
    command -v apt-get >/dev/null && command -v dpkg >/dev/null || { why="apt-get and dpkg are needed (Debian)"; return 1; }
    mkdir -p "$apt/etc" "$apt/state/lists/partial" "$apt/cache/archives/partial" "$apt/debs" || { why="cannot write $gohome"; return 1; }
    [ -f "$keyring" ] && signed="[signed-by=$keyring] "
    echo "deb ${signed}$(debian_mirror) bookworm-backports main" >"$apt/etc/sources.list"
    local opts=(-qq -o "Dir::Etc::SourceList=$apt/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State=$apt/state" -o "Dir::Cache=$apt/cache" -o APT::Sandbox::User="$(id -un)")
    apt-get "${opts[@]}" --error-on=any update >"$apt/update.log" 2>&1 || { why="apt-get update of bookworm-backports failed (see $apt/update.log)"; return 1; }
    rm -f "$apt/debs/"*.deb
    (cd "$apt/debs" && apt-get "${opts[@]}" download "${packages[@]}") >"$apt/download.log" 2>&1 \
        || { why="apt-get download ${packages[*]} failed (see $apt/download.log)"; return 1; }
    for deb in "$apt/debs/"*.deb; do
        dpkg -x "$deb" "$gohome" || { why="dpkg -x $deb failed"; return 1; }
    done
    rm -f "$apt/debs/"*.deb
    "$goroot/bin/go" version >/dev/null 2>&1 || { why="$goroot/bin/go does not run"; return 1; }
    "$goroot/bin/go" version >"$gohome/.installed"
}

# Keep everything the go command writes (cache, telemetry, env file) under $TOOLCHAINS/go.
export GOROOT=$goroot GOCACHE=$gohome/cache GOPATH=$gohome/gopath GOMODCACHE=$gohome/gopath/pkg/mod \
    XDG_CONFIG_HOME=$gohome/config GOTOOLCHAIN=local GOPROXY=off GOFLAGS= CGO_ENABLED=0
if [ ! -f "$gohome/.installed" ] || ! "$goroot/bin/go" version >/dev/null 2>&1; then
    if ! install_go; then
        echo "skipping $name: could not install Go 1.23 from bookworm-backports: $why"
        exit 0
    fi
    "$goroot/bin/go" telemetry off >/dev/null 2>&1 || true
fi

echo "building $name (Go $("$goroot/bin/go" env GOVERSION), wasip1/wasm)"
# Lay the sources out as `docket new` does: the helper package in ./docket.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/go.mod" "$here/"*.go "$work/"
mkdir "$work/docket"
cp "$sdk/"*.go "$work/docket/"
mkdir -p "$DIST"
(cd "$work" && GOOS=wasip1 GOARCH=wasm "$goroot/bin/go" build -p 1 -trimpath -ldflags='-s -w' -o "$work/$name.wasm" .)
mv "$work/$name.wasm" "$out"
