# Docket: `make run` serves the demo tenant, `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo
JOBS ?= 2
LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= ./data
DIST := actions-wasm/dist
WASM_PROFILE := wasm-action

# name:target:cargo-output-name for each example action.
RUST_ACTIONS := archive:wasm32-wasip1:archive.wasm review-gate:wasm32-wasip2:review_gate.wasm

.PHONY: help targets actions build run test lint fmt clean

help:
	@echo "make run    build everything and serve the demo tenant on http://$(LISTEN)"
	@echo "make test   run every test (unit, black-box, lint)"
	@echo "make actions  build the example actions into $(DIST)/"

## The WebAssembly targets the example actions compile to (auto-install is off here).
targets:
	@rustup target add wasm32-wasip1 wasm32-wasip2 >/dev/null

## Example actions, built from source into actions-wasm/dist/<name>.wasm.
actions: targets
	@mkdir -p $(DIST)
	@set -e; for spec in $(RUST_ACTIONS); do \
		IFS=: read -r name target output <<< "$$spec"; \
		echo "building action $$name ($$target)"; \
		$(CARGO) build -j$(JOBS) --quiet --profile $(WASM_PROFILE) --target $$target -p $$name; \
		cp target/$$target/$(WASM_PROFILE)/$$output $(DIST)/$$name.wasm; \
	done
	@ls -l $(DIST)

build:
	$(CARGO) build -j$(JOBS) -p docket

run: actions build
	$(CARGO) run -j$(JOBS) --quiet -p docket -- serve --listen $(LISTEN) --manifests manifests --data-dir $(DATA_DIR)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy -j$(JOBS) --workspace --all-targets -- -D warnings

test: actions
	$(CARGO) test -j$(JOBS) --workspace
	$(MAKE) lint

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
	rm -rf $(DIST)
