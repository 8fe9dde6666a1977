# mod_http_muc_kick — see README.md. `make demo` and `make test` install what is missing.

# The Lua the installed Prosody runs (asked with `prosodyctl about`); LUA=5.1|5.2|5.3|5.4|luajit
# (or an interpreter's path) overrides. One build per Lua, each in its own cargo target dir.
override LUA := $(shell scripts/lua-version.sh $(LUA))
ifeq ($(LUA),)
$(error LUA must be one of 5.1 5.2 5.3 5.4 luajit)
endif
LUAS := 5.1 5.2 5.3 5.4 luajit
LUA_NAME := lua$(LUA:lua%=%)
FEATURE := $(subst .,,$(LUA_NAME))
CARGO_FEATURES := --no-default-features --features $(FEATURE)
LIB := target/$(LUA_NAME)/release/libhttp_muc_kick_core.so
# Debian's prosody.cfg.lua lists this directory in plugin_paths.
PLUGIN_DIR ?= /usr/local/lib/prosody/modules
MODULE_DIR := $(DESTDIR)$(PLUGIN_DIR)/mod_http_muc_kick
ROCKSPEC := mod_http_muc_kick-0.1.0-1.rockspec
ROCK_DIR := target/rock/$(LUA_NAME)
PYTHON ?= /usr/bin/python3
STAGE := target/plugins
PROSODY13 := $(CURDIR)/target/prosody13

.PHONY: all build builds build-for-% install rock stage test test-rust test-lua test-valgrind test-e2e test-e2e-13 test-e2e-both lint demo bench bench-ir bench-bans fuzz mutants deps clean

all: build

# Debian packages for tests and the demo (never for build/install: those need only cargo).
deps:
	@scripts/deps.sh

build:
	@command -v cargo >/dev/null || { echo "cargo not found: install Rust 1.85+ (Debian 13: sudo apt-get install cargo; Debian 12: https://rustup.rs)" >&2; exit 1; }
	cargo build --release $(CARGO_FEATURES) --target-dir target/$(LUA_NAME)

# Every Lua's build, for the busted specs under each interpreter and the e2e suite: two at a time
# (each cargo ends in a single-threaded LTO step), each in its own target dir.
builds:
	@$(MAKE) --no-print-directory -j2 $(LUAS:%=build-for-%)

build-for-%:
	@$(MAKE) --no-print-directory build LUA=$*

# Rebuilt when a source changed, so `make build` then `sudo make install` needs no cargo for root.
$(LIB): Cargo.toml Cargo.lock $(shell find src -name '*.rs')
	@$(MAKE) --no-print-directory build

# SPEC.md's layout: PLUGIN_DIR/mod_http_muc_kick/{mod_http_muc_kick.lua, *.lib.lua, http_muc_kick_core-lua5.x.so}
install: $(LIB)
	install -d "$(MODULE_DIR)"
	install -m 644 lua/mod_http_muc_kick.lua $(wildcard lua/*.lib.lua) "$(MODULE_DIR)/"
	install -m 755 $(LIB) "$(MODULE_DIR)/http_muc_kick_core-$(LUA_NAME).so"
	rm -f "$(MODULE_DIR)/http_muc_kick_core.so"

# A binary rock for `prosodyctl install /abs/path/FILE.rock` (prosodyctl runs in Prosody's data
# dir, so a relative path is not found): the rockspec builds (cargo) and installs
# into a scratch tree, then luarocks packs what it installed. Named for the platform: it holds
# a compiled library (luarocks would say "all", as the library sits beside the Lua file).
rock:
	@test "$(LUA)" != luajit || { echo "make rock: luarocks builds for PUC Lua only; on LuaJIT use make install LUA=luajit" >&2; exit 2; }
	@scripts/deps.sh luarocks liblua$(LUA)-dev
	rm -rf $(ROCK_DIR)
	luarocks --lua-version=$(LUA) --tree=$(ROCK_DIR)/tree make $(ROCKSPEC)
	cd $(ROCK_DIR) && luarocks --lua-version=$(LUA) --tree=tree pack mod_http_muc_kick
	cd $(ROCK_DIR) && for rock in *.all.rock; do mv "$$rock" "$${rock%.all.rock}.linux-$$(uname -m).rock"; done
	@echo "Built $$(ls $(ROCK_DIR)/*.rock): install it with sudo prosodyctl install /absolute/path/to/it.rock"

stage:
	@$(MAKE) --no-print-directory install PLUGIN_DIR=$(STAGE)

test: deps lint test-rust test-lua test-valgrind test-e2e-both

test-rust:
	cargo test --no-default-features

# The busted specs under every Lua, each with its own build (.busted's helper picks it).
test-lua: deps builds
	@scripts/prosody13.sh $(PROSODY13)  # the prep spec compares with 13's util.jid too
	@for lua in $(LUAS); do echo "busted under lua$${lua#lua}"; busted --lua=lua$${lua#lua} spec || exit 1; done

# spec/crossing_spec.lua (finalizers that call back in, collected owners, the debug library,
# arguments of any type) under valgrind with Lua 5.4: fails on any invalid read or write, not
# only on a crash or a wrong answer. A quarter of the nested calls of the plain run: valgrind is
# some 40 times slower.
test-valgrind: deps
	@$(MAKE) --no-print-directory build LUA=5.4
	CROSSING_NESTED=500 valgrind -q --error-exitcode=1 --leak-check=no lua5.4 /usr/bin/busted spec/crossing_spec.lua

# The suite against Debian's Prosody: 0.12.3 on Debian 12, 13.0.1 on Debian 13.
E2E_DEBIAN = echo "e2e against Prosody $$(dpkg-query -W -f='$${Version}' prosody) (Debian's)"; \
	$(PYTHON) -m pytest -q
test-e2e: deps stage rock builds
	@$(E2E_DEBIAN) spec/e2e

# The same suite against the Prosody unpacked beside Debian's (scripts/prosody13.sh): 13.0.1 from
# bookworm-backports on Debian 12, the newest 13.0.x of trixie-backports on Debian 13.
E2E_BESIDE = echo "e2e against Prosody $$(head -n 1 $(PROSODY13)/VERSION) (beside Debian's)"; \
	PROSODY=$(PROSODY13)/usr/bin/prosody PROSODYCTL=$(PROSODY13)/usr/bin/prosodyctl $(PYTHON) -m pytest -q
test-e2e-13: deps stage rock builds
	@scripts/prosody13.sh $(PROSODY13)
	@$(E2E_BESIDE) spec/e2e

# Both at once (each suite waits on its server far more than it computes), each to its own log,
# shown one after the other.
test-e2e-both: deps stage rock builds
	@scripts/prosody13.sh $(PROSODY13)
	@mkdir -p target/e2e
	@{ $(E2E_DEBIAN) spec/e2e; } >target/e2e/debian.log 2>&1 & debian=$$!; \
	{ $(E2E_BESIDE) spec/e2e; } >target/e2e/beside.log 2>&1; beside=$$?; \
	wait $$debian; debian=$$?; cat target/e2e/debian.log target/e2e/beside.log; \
	test $$debian = 0 && test $$beside = 0

lint: deps
	cargo fmt --check
	cargo clippy --all-targets --no-default-features -- -D warnings
	cargo clippy --release $(CARGO_FEATURES) -- -D warnings
	luacheck lua spec bench/ir/plugins

demo: deps stage
	$(PYTHON) spec/e2e/demo.py $(STAGE)

# Measured, never asserted: core time per decision, then HTTP throughput and memory with wrk.
bench: stage
	@scripts/deps.sh wrk
	cargo bench --no-default-features
	$(PYTHON) bench/http_load.py $(STAGE)

# Instructions per request inside Prosody under callgrind: ours, a floor and a pure-Lua baseline,
# with statistics off and on (bench/README.md). Measured, never asserted; not in `make test`.
bench-ir:
	@scripts/deps.sh valgrind
	$(PYTHON) bench/ir/run.py

# Bans at scale (bench/README.md): Prosody's CPU per ban at 100 / 1 000 / 5 000 bans held in a room,
# and the delay other requests see while 5 000 timed lifts fall due at once. Measured, never
# asserted; not in `make test`. BENCH_BANS_ARGS="--storage sql" runs on SQLite; PROSODY and
# PROSODYCTL select another Prosody (as for test-e2e-13).
bench-bans: stage
	@scripts/deps.sh lua-dbi-sqlite3
	$(PYTHON) bench/bans/run.py $(BENCH_BANS_ARGS)

# Bounded fuzzing of the core and the lockout: FUZZ_SECONDS per target (60 by default), or
# FUZZ_RUNS executions each. cargo-fuzz needs nightly features: RUSTC_BOOTSTRAP=1 allows them.
FUZZ_SECONDS ?= 60
FUZZ_LIMIT := $(if $(FUZZ_RUNS),-runs=$(FUZZ_RUNS),-max_total_time=$(FUZZ_SECONDS))
fuzz:
	@command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none decide -- -dict=decide.dict $(FUZZ_LIMIT)
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none lockout -- -max_len=256 $(FUZZ_LIMIT)
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none view -- -max_len=512 $(FUZZ_LIMIT)

# Mutation testing (tens of minutes, not in `make test`): cargo-mutants over the core, then the
# Lua boundary (src/lua_module*) built for Lua 5.4 and checked by busted. Equivalent mutants are
# listed, each with its reason, in .cargo/mutants.toml.
mutants: deps
	@command -v cargo-mutants >/dev/null || cargo install --locked cargo-mutants
	cargo mutants --no-default-features --exclude src/lua_module.rs --exclude 'src/lua_module/*' --jobs 2
	$(PYTHON) scripts/mutants-lua.py

clean:
	cargo clean
