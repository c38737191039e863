# Docket: `make run` serves the demo tenant, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo
JOBS ?= 2
LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= ./data
DIST := actions-wasm/dist
WASM_PROFILE := wasm-action

# name:target:cargo-output-name for each example action, and for each Rust test guest.
RUST_ACTIONS := archive:wasm32-wasip1:archive.wasm review-gate:wasm32-wasip2:review_gate.wasm \
	workfront-tag:wasm32-wasip2:workfront_tag.wasm chat-notify:wasm32-wasip1:chat-notify.wasm \
	docket-drive:wasm32-wasip2:docket_drive.wasm
RUST_TEST_GUESTS := sandbox-probe:wasm32-wasip1:sandbox-probe.wasm http-probe:wasm32-wasip2:http_probe.wasm \
	panic-rust:wasm32-wasip1:panic-rust.wasm provider-probe:wasm32-wasip2:provider_probe.wasm
# The Rust actions the demo tenant needs; `make run` builds only these (the
# other examples join the demo once `make actions` built them).
DEMO_ACTIONS := archive:wasm32-wasip1:archive.wasm review-gate:wasm32-wasip2:review_gate.wasm \
	docket-drive:wasm32-wasip2:docket_drive.wasm
GUEST_DIST := tests/guests/dist
# name:source for each C example action (command ABI, guest-sdk/c/docket.h).
C_ACTIONS := c-intake:actions-wasm/c-intake/intake.c
C_PACKAGES := clang lld wasi-libc libclang-rt-14-dev-wasm32
# Example actions in Zig, AssemblyScript, Go, JavaScript and Python: each
# build.sh installs its toolchain into $(TOOLCHAINS) (from PyPI, npm or Debian),
# builds only when a source changed, and skips with a message if it cannot install.
LANGUAGE_BUILDS := $(sort $(wildcard actions-wasm/*/build.sh))
TOOLCHAINS := .toolchains
BENCH_GUESTS := noop-command:wasm32-wasip1:noop-command.wasm noop-component:wasm32-wasip2:noop_component.wasm noop-http:wasm32-wasip2:noop_http.wasm sleep-command:wasm32-wasip1:sleep-command.wasm
# wasmtime-cli for the peers benchmark: the version of the workspace's wasmtime.
WASMTIME_CLI_VERSION := 48.0.8
BENCH_TOOLS := $(abspath target/bench-tools)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help targets c-toolchain actions guests console build run demo-actions docket-binary cluster test test-tools api-check fuzz bench bench-wasmtime lint fmt clean

help:
	@echo "make run    build docket, its console and the demo's Rust actions, serve the demo tenant on http://$(LISTEN)"
	@echo "           (examples in other languages join the demo once \`make actions\` built them)"
	@echo "make cluster  the demo on three replicas sharing PostgreSQL, behind HAProxy on http://$(LISTEN)"
	@echo "make test   run every test (unit, black-box, admin API vs its OpenAPI document, lint)"
	@echo "make api-check  schemathesis against the live admin API and runner/openapi.json"
	@echo "make actions  build the example actions into $(DIST)/"
	@echo "make fuzz   a longer fuzz run (DOCKET_FUZZ_CASES=20000 by default)"
	@echo "make bench  throughput, latency, cold paths and concurrency vs a bare axum baseline, and peers (wasmtime serve, the design floor)"

## The WebAssembly targets the example actions compile to (auto-install is off here).
targets:
	@rustup target add wasm32-wasip1 wasm32-wasip2 >/dev/null 2>&1 || rustup target add wasm32-wasip1 wasm32-wasip2

# Builds each name:target:output of $(1) into directory $(2).
define build_wasm
	@mkdir -p $(2)
	@set -e; for spec in $(1); do \
		IFS=: read -r name target output <<< "$$spec"; \
		echo "building $$name ($$target)"; \
		$(CARGO) build -j$(JOBS) --quiet --profile $(WASM_PROFILE) --target $$target -p $$name; \
		cp target/$$target/$(WASM_PROFILE)/$$output $(2)/$$name.wasm; \
	done
endef

## Example actions, built from source into actions-wasm/dist/<name>.wasm.
actions: targets c-toolchain
	$(call build_wasm,$(RUST_ACTIONS),$(DIST))
	@set -e; if $(C_WASM_OK); then for spec in $(C_ACTIONS); do \
		IFS=: read -r name source <<< "$$spec"; \
		echo "building $$name (C, wasm32-wasi)"; \
		clang --target=wasm32-wasi -O2 -Wall -Wextra -Werror -o $(DIST)/$$name.wasm $$source; \
	done; else echo "skipping C actions: clang cannot target wasm32-wasi here (Debian: $(C_PACKAGES))"; fi
	@set -e; for script in $(LANGUAGE_BUILDS); do \
		DIST=$(abspath $(DIST)) TOOLCHAINS=$(abspath $(TOOLCHAINS)) bash $$script; \
	done

# True when clang can build a WASI program.
C_WASM_OK = (printf 'int main(void){return 0;}' | clang --target=wasm32-wasi -x c -o /dev/null - >/dev/null 2>&1)

## The C toolchain for WASI, from Debian's packages, when it is missing.
c-toolchain:
	@$(C_WASM_OK) || ($(SUDO) apt-get install -y -qq $(C_PACKAGES) >/dev/null 2>&1 \
		|| ($(SUDO) apt-get update -qq >/dev/null 2>&1 && $(SUDO) apt-get install -y -qq $(C_PACKAGES) >/dev/null 2>&1)) \
		|| echo "could not install $(C_PACKAGES); C actions will be skipped"

## Rust test guests for the adversarial suite, into tests/guests/dist/.
guests: targets
	$(call build_wasm,$(RUST_TEST_GUESTS),$(GUEST_DIST))

## The web console (console/: TypeScript bundled by esbuild, from npm) into
## console/dist, which the docket binary embeds when it is built.
console:
	@[ console/node_modules/.package-lock.json -nt console/package-lock.json ] || \
		npm ci --prefix console --no-audit --no-fund --loglevel=error
	@npm run --prefix console --silent build

# Builds what `make test` builds (same targets, so the same feature set): after
# one of the two, the other does not recompile the dependencies.
build: console
	$(CARGO) build -j$(JOBS) --workspace --all-targets

## The fast front door: only the docket binary and the demo's Rust actions (no
## language toolchains, no tests). A demo manifest whose module is not built yet
## is skipped with a warning; `make actions` builds the rest.
## The two builds run side by side (JOBS of them at most), so the actions use
## the core the binary's build leaves idle while it waits on one crate.
run: targets
	@$(MAKE) --no-print-directory -j$(JOBS) demo-actions docket-binary
	./target/debug/docket serve --listen $(LISTEN) --manifests manifests --data-dir $(DATA_DIR) --skip-missing-modules

demo-actions: targets
	$(call build_wasm,$(DEMO_ACTIONS),$(DIST))

docket-binary: console
	$(CARGO) build -j$(JOBS) -p docket --bin docket

## Three replicas on one PostgreSQL database behind HAProxy; see docs/deploying.md.
cluster: actions build
	DOCKET_SKIP_MISSING_MODULES=true LISTEN=$(LISTEN) bash scripts/cluster.sh

## A longer fuzz run than the one in `make test` (DOCKET_FUZZ_CASES, DOCKET_FUZZ_SEED).
fuzz: actions guests
	DOCKET_FUZZ_CASES=$${DOCKET_FUZZ_CASES:-20000} $(CARGO) test -j$(JOBS) -p docket --test fuzz -- --nocapture

## Benchmarks against a bare axum baseline in the same run; see bench/README.md.
## bench-floor is built in the same cargo run as docket, so it unifies to the
## same feature sets and reuses docket's wasmtime instead of building another.
bench: actions console bench-wasmtime
	$(call build_wasm,$(BENCH_GUESTS),bench/guests/dist)
	$(CARGO) build -j$(JOBS) --release -p docket -p bench-baseline -p bench-floor
	@command -v wrk >/dev/null || ($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wrk)
	@(command -v nginx || test -x /usr/sbin/nginx) >/dev/null && command -v curl >/dev/null || \
		($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq nginx curl)
	python3 bench/run.py $(BENCH_ONLY)

## `wasmtime serve` for the peers scenario (bench/peers.py): wasmtime-cli from
## crates.io, built once into $(BENCH_TOOLS) (its own target directory; a long
## build) and skipped while the cached binary reports this version.
bench-wasmtime:
	@$(BENCH_TOOLS)/bin/wasmtime --version 2>/dev/null | grep -qE '^wasmtime $(WASMTIME_CLI_VERSION)( |$$)' || \
		$(CARGO) install -j$(JOBS) wasmtime-cli --version =$(WASMTIME_CLI_VERSION) --locked --root $(BENCH_TOOLS)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy -j$(JOBS) --workspace --all-targets -- -D warnings

## What the black-box tests drive besides Docket: HAProxy (the load-balancer
## failure drill and the TLS proxy), openssl (the TLS proxy's test
## certificate), PyYAML (the Kubernetes manifest check), rclone (the real
## WebDAV server the JavaScript provider fronts) and Chromium with the
## OpenID Connect provider's npm packages (OAuth2 mode). PostgreSQL must
## be running on 127.0.0.1:5432 (or DOCKET_TEST_POSTGRES); .ci/run starts it.
test-tools:
	@command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || \
		($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq haproxy)
	@command -v openssl >/dev/null || \
		($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq openssl)
	@python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet pyyaml
	@[ tests/oidc/node_modules/.package-lock.json -nt tests/oidc/package-lock.json ] || \
		npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error
	@command -v chromium >/dev/null || \
		($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium)
	@command -v rclone >/dev/null || \
		($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq rclone)

test: actions guests console test-tools
	$(CARGO) test -j$(JOBS) --workspace
	@echo "the JavaScript WebDAV provider's own tests, under node, against rclone serve webdav"
	DIST=$(abspath $(DIST)) TOOLCHAINS=$(abspath $(TOOLCHAINS)) node --import ./actions-wasm/js-webdav/test/wasi-stub.mjs \
		--test actions-wasm/js-webdav/test/*.test.mjs
	@echo "the hostile guests and every language's example again, on Winch's baseline code alone"
	DOCKET_COMPILE_TIERS=baseline $(CARGO) test -j$(JOBS) -p docket --test sandbox --test languages
	$(MAKE) api-check
	$(MAKE) lint

## The live admin API against its own OpenAPI document (schemathesis, seeded and
## bounded; installs into $(TOOLCHAINS)/schemathesis, skips if it cannot).
api-check: build
	TOOLCHAINS=$(abspath $(TOOLCHAINS)) bash tests/api_check.sh

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
	rm -rf $(DIST) $(TOOLCHAINS) console/dist console/node_modules
