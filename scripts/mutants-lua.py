#!/usr/bin/env python3
"""Mutation testing of the Lua boundary (src/lua_module*), which `cargo test` never compiles.

cargo-mutants lists the mutants (with the Lua 5.4 feature); each is applied to a scratch copy
of the repository, the library is built for Lua 5.4, and the busted specs run against it under
a real lua5.4. A mutant is caught when the build or the specs fail. Mutants matched by an
`exclude_re` of .cargo/mutants.toml (each with its reason there) are not run.

Usage: scripts/mutants-lua.py   (part of `make mutants`; exits 1 when a mutant is missed;
MUTANTS_LUA_FILES names the files to mutate, all of src/lua_module* by default)
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRATCH = os.path.join(ROOT, "target", "mutants-lua")
# MUTANTS_LUA_FILES="src/lua_module/occupant_list.rs" mutates only the files named.
FILES = tuple(os.environ.get("MUTANTS_LUA_FILES", "src/lua_module.rs src/lua_module/crossing.rs "
                             "src/lua_module/occupant_list.rs").split())
FEATURES = ["--no-default-features", "--features", "lua54"]
# Quick builds: the specs need the library's behaviour, not its speed.
FAST = {"CARGO_PROFILE_RELEASE_LTO": "false", "CARGO_PROFILE_RELEASE_CODEGEN_UNITS": "16",
        "CARGO_PROFILE_RELEASE_INCREMENTAL": "true", "CARGO_PROFILE_RELEASE_OPT_LEVEL": "1"}


def run(command, cwd, timeout=600):
    env = dict(os.environ, **FAST)
    try:
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        return "timeout"


def excluded_patterns():
    with open(os.path.join(ROOT, ".cargo", "mutants.toml"), "rb") as f:
        return [re.compile(p) for p in tomllib.load(f).get("exclude_re", [])]


def prepare_scratch():
    os.makedirs(SCRATCH, exist_ok=True)
    for name in ("Cargo.toml", "Cargo.lock", ".busted"):
        shutil.copy2(os.path.join(ROOT, name), SCRATCH)
    for tree in ("src", "spec", "scripts", "benches"):
        shutil.rmtree(os.path.join(SCRATCH, tree), ignore_errors=True)
        shutil.copytree(os.path.join(ROOT, tree), os.path.join(SCRATCH, tree),
                        ignore=shutil.ignore_patterns("e2e", "__pycache__"))


def restore(path):
    shutil.copy2(os.path.join(ROOT, path), os.path.join(SCRATCH, path))


def test(label):
    built = run(["cargo", "build", "--release", *FEATURES, "--target-dir", "target/lua5.4"], SCRATCH)
    if built != 0:
        return "unviable" if label == "mutant" else "build failed"
    return "missed" if run(["busted", "--lua=lua5.4", "spec"], SCRATCH, timeout=120) == 0 else "caught"


def main():
    listed = subprocess.run(["cargo", "mutants", "--list", "--json", "--diff", *FEATURES,
                             *sum((["-f", f] for f in FILES), [])],
                            cwd=ROOT, capture_output=True, text=True, check=True)
    mutants = json.loads(listed.stdout)
    patterns = excluded_patterns()
    prepare_scratch()
    if test("baseline") != "missed":
        sys.exit("mutants-lua: the unmutated library does not pass the busted specs")
    outcomes = {"caught": [], "missed": [], "unviable": [], "excluded": []}
    for mutant in mutants:
        name = mutant["name"]
        if any(p.search(name) for p in patterns):
            outcomes["excluded"].append(name)
            continue
        target = os.path.join(SCRATCH, mutant["file"])
        applied = subprocess.run(["patch", "--quiet", target], input=mutant["diff"], text=True)
        outcome = test("mutant") if applied.returncode == 0 else "unviable"
        restore(mutant["file"])
        outcomes[outcome].append(name)
        print(f"{outcome:9} {name}", flush=True)
    print("\nLua boundary: " + ", ".join(f"{len(v)} {k}" for k, v in outcomes.items()))
    for name in outcomes["missed"]:
        print(f"MISSED {name}")
    sys.exit(1 if outcomes["missed"] else 0)


if __name__ == "__main__":
    main()
