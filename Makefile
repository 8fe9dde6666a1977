# mod_http_muc_kick — see README.md. `make demo` and `make test` install what is missing.

LUA ?= 5.4
PLUGIN_DIR ?=
PYTHON ?= /usr/bin/python3
FEATURE := $(if $(filter luajit,$(LUA)),luajit,lua$(subst .,,$(LUA)))
CARGO_FEATURES := --no-default-features --features $(FEATURE)
LIB := target/release/libhttp_muc_kick_core.so
STAGE := target/plugins
PROSODY13 := $(CURDIR)/target/prosody13

.PHONY: all build install stage test test-rust test-lua test-e2e test-e2e-13 lint demo bench fuzz deps clean

all: build

# Debian packages for tests and the demo (never for build/install: those need only cargo).
deps:
	@scripts/deps.sh

build:
	@command -v cargo >/dev/null || { echo "cargo not found: install Rust 1.85+ (https://rustup.rs)" >&2; exit 1; }
	cargo build --release $(CARGO_FEATURES)

# SPEC.md's layout: PLUGIN_DIR/mod_http_muc_kick/{mod_http_muc_kick.lua, http_muc_kick_core.so}
install: build
	@test -n "$(PLUGIN_DIR)" || { echo "usage: make install PLUGIN_DIR=/path/to/plugins" >&2; exit 2; }
	install -d "$(PLUGIN_DIR)/mod_http_muc_kick"
	install -m 644 lua/mod_http_muc_kick.lua "$(PLUGIN_DIR)/mod_http_muc_kick/"
	install -m 755 $(LIB) "$(PLUGIN_DIR)/mod_http_muc_kick/http_muc_kick_core.so"

stage:
	@$(MAKE) --no-print-directory install PLUGIN_DIR=$(STAGE)

test: deps lint test-rust test-lua test-e2e test-e2e-13

test-rust:
	cargo test --no-default-features

test-lua: deps build
	busted --lua=lua$(LUA) spec

test-e2e: deps stage
	$(PYTHON) -m pytest -q spec/e2e

# The same suite against Prosody 13.0.1, unpacked beside Debian's 0.12 (scripts/prosody13.sh).
test-e2e-13: deps stage
	@scripts/prosody13.sh $(PROSODY13)
	PROSODY=$(PROSODY13)/usr/bin/prosody PROSODYCTL=$(PROSODY13)/usr/bin/prosodyctl $(PYTHON) -m pytest -q spec/e2e

lint: deps
	cargo fmt --check
	cargo clippy --all-targets --no-default-features -- -D warnings
	cargo clippy --release $(CARGO_FEATURES) -- -D warnings
	luacheck lua spec

demo: deps stage
	$(PYTHON) spec/e2e/demo.py $(STAGE)

# Measured, never asserted: core time per decision, then HTTP throughput and memory with wrk.
bench: stage
	@scripts/deps.sh wrk
	cargo bench --no-default-features
	$(PYTHON) bench/http_load.py $(STAGE)

# Bounded fuzzing of the core (FUZZ_SECONDS, 60 by default); needs `cargo install cargo-fuzz`.
FUZZ_SECONDS ?= 60
fuzz:
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run decide -- -max_total_time=$(FUZZ_SECONDS)

clean:
	cargo clean
