#!/usr/bin/env bash
# Property-based check of the live admin API against its own OpenAPI document
# (runner/openapi.json, served at /admin/v1/openapi.json), with schemathesis.
# Run from the repository root after `cargo build` (`make api-check`).
#
# Installs a pinned schemathesis from PyPI into $TOOLCHAINS/schemathesis and
# skips with a message if it cannot. Starts target/debug/docket on a free port
# with a temporary data directory, creates the tenants it needs, runs a seeded,
# bounded schemathesis run (one worker: concurrent hypothesis workers hit a
# CPython 3.11 ast.parse race) with the operator token on operator routes and a
# tenant's admin token on tenant routes, and stops the server.
#
# The deploy route (multipart: a TOML manifest and a Wasm module) is fuzzed
# for server errors and response conformance only: random parts are never a
# valid manifest and module, which the document cannot express, so the
# positive-data-acceptance check is off for it.
#
# The run log stream (GET …/invocations/stream, server-sent events) never
# ends by design, so it is left out; tests/run_logs.rs covers it.
set -euo pipefail

ST_VERSION=4.32.5
SEED=${DOCKET_API_CHECK_SEED:-20261127}
EXAMPLES=${DOCKET_API_CHECK_EXAMPLES:-100}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLCHAINS="${TOOLCHAINS:-$ROOT/.toolchains}"
VENV="$TOOLCHAINS/schemathesis"
BIN="$ROOT/target/debug/docket"

skip() { echo "skipping api-check: $*"; exit 0; }

installed() { [ -x "$VENV/bin/st" ] && [ "$("$VENV/bin/st" --version 2>/dev/null | grep -o '[0-9][0-9.]*$')" = "$ST_VERSION" ]; }

if ! installed; then
    command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"
    mkdir -p "$TOOLCHAINS"
    python3 -m venv "$VENV" >/dev/null 2>&1 || skip "python3 -m venv failed (Debian: python3-venv)"
    if ! "$VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$ST_VERSION" >"$VENV/install.log" 2>&1; then
        skip "pip install schemathesis==$ST_VERSION failed ($(grep -m1 -i 'error' "$VENV/install.log" || tail -n1 "$VENV/install.log"))"
    fi
    installed || skip "pip install did not produce st (see $VENV/install.log)"
fi
[ -x "$BIN" ] || { echo "api-check: $BIN is missing; run cargo build first" >&2; exit 1; }

WORK="$(mktemp -d)"
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT/admin/v1"
OPERATOR="op-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"

DOCKET_ADMIN_TOKEN="$OPERATOR" "$BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$WORK/data" \
    --shutdown-grace-ms 1000 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do
    curl -fsS -o /dev/null "$BASE/openapi.json" 2>/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; echo "api-check: docket did not start" >&2; exit 1; }
    sleep 0.1
done

# A tenant to test the tenant routes as, and one the operator may delete.
create_tenant() {
    curl -fsS -X POST "$BASE/tenants" -H "Authorization: Bearer $OPERATOR" \
        -H 'Content-Type: application/json' -d "{\"name\": \"$1\"}" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["adminToken"])'
}
TENANT_TOKEN="$(create_tenant acme)"
create_tenant doomed >/dev/null
create_tenant rotated >/dev/null
# An action with two versions, so the version and rollback routes reach past 404.
DEPLOYED=0
if [ -f "$ROOT/actions-wasm/dist/archive.wasm" ]; then
    for _ in 1 2; do
        curl -fsS -o /dev/null -X POST "$BASE/tenants/acme/actions" -H "Authorization: Bearer $TENANT_TOKEN" \
            -F "manifest=<$ROOT/manifests/demo/archive.toml" -F "module=@$ROOT/actions-wasm/dist/archive.wasm"
    done
    DEPLOYED=1
else
    echo "api-check: actions-wasm/dist/archive.wasm is missing (make actions); the action routes will mostly see 404"
fi

cat >"$WORK/schemathesis.toml" <<EOF
seed = $SEED
workers = 1
max-failures = 50
continue-on-failure = true
headers = { Authorization = "Bearer $TENANT_TOKEN" }

[parameters]
tenant = "acme"

[cache]
enabled = false

[generation]
max-examples = $EXAMPLES
database = "none"

[phases]
stateful.enabled = false

[checks]
negative_data_rejection.expected-statuses = ["400", "401", "403", "404", "413"]
positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409"]

[[operations]]
include-path-regex = "^/tenants$"
headers = { Authorization = "Bearer $OPERATOR" }

[[operations]]
include-name = "POST /tenants/{tenant}/admin-token"
headers = { Authorization = "Bearer $OPERATOR" }
parameters = { tenant = "rotated" }

[[operations]]
include-name = "DELETE /tenants/{tenant}"
headers = { Authorization = "Bearer $OPERATOR" }
parameters = { tenant = "doomed" }

# OAuth2 settings: schema-valid data names an issuer that does not answer,
# which the spec documents as 400.
[[operations]]
include-name = "PUT /tenants/{tenant}/oauth"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409"]

# A try's schema-valid data may name a user no HTTP header can carry (a
# control character), which the spec documents as 400.
[[operations]]
include-name = "POST /tenants/{tenant}/try"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404"]

# A deploy's schema-valid data is a manifest and arbitrary bytes: the bytes
# the tester makes are never a usable WebAssembly action, which the spec
# documents as 400 (and an oversized one as 413). Its examples phase sends
# the manifest example the spec gives.
[[operations]]
include-name = "POST /tenants/{tenant}/actions"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "413"]
$([ "$DEPLOYED" = 1 ] && printf '%s\n' '' '[[operations]]' 'include-path-regex = "/actions/\\{action\\}/(versions|rollback)$"' 'parameters = { tenant = "acme", action = "archive" }')
$([ "$DEPLOYED" = 1 ] && printf '%s\n' '' '[[operations]]' 'include-path-regex = "/versions/\\{version\\}(/module)?$"' 'parameters = { tenant = "acme", action = "archive", version = 1 }')

EOF

echo "api-check: schemathesis $ST_VERSION against $BASE (seed $SEED, at most $EXAMPLES examples per operation)"
# Every check schemathesis has, on every operation (the never-ending stream
# route is left out: a tester's request to it does not end).
CHECKS=all
st_run() {
    # From the scratch directory, so hypothesis's files stay out of the tree.
    (cd "$WORK" && "$VENV/bin/st" --config-file "$WORK/schemathesis.toml" --no-color run "$BASE/openapi.json" \
        --suppress-health-check all --no-shrink --output-truncate false "$@")
}
status=0
st_run --checks "$CHECKS" --exclude-path-regex '/stream$' || status=$?
if [ "$status" != 0 ]; then
    echo "api-check: failed; the server's log:" >&2
    tail -n 40 "$WORK/server.log" >&2
fi
exit "$status"
