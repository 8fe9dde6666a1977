"""Installing the Prosody way: the binary rock through `prosodyctl install` on a machine without
cargo, `make install`'s default directory, and a library built for another Lua refused by name.

Each test owns a throwaway Prosody (not the session's), so what it loads comes only from what
the test installed. Needs `make rock` and `make builds` (make test-e2e runs both).
"""

import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from harness import PROSODYCTL, Occupant, Prosody, kick_presence_from
from support import ROOT, assert_json, log_entries

HOST = "rock.localhost"
TOKEN = "Bearer rock-s3cret"
DEBIAN_PLUGIN_DIR = "/usr/local/lib/prosody/modules"


def prosody_lua():
    """The Lua the Prosody under test runs: 5.4, or luajit, ... (as `make install` finds it)."""
    return subprocess.run([os.path.join(ROOT, "scripts", "lua-version.sh")], check=True,
                          capture_output=True, text=True, env={**os.environ, "PROSODYCTL": PROSODYCTL}).stdout.strip()


def lua_name(lua):
    return "luajit" if lua == "luajit" else f"lua{lua}"


def built_library(lua):
    path = os.path.join(ROOT, "target", lua_name(lua), "release", "libhttp_muc_kick_core.so")
    assert os.path.exists(path), f"{path} missing: run `make builds`"
    return path


def lua_files():
    """The module's Lua files as installed: mod_http_muc_kick.lua and its *.lib.lua parts."""
    return {f for f in os.listdir(os.path.join(ROOT, "lua")) if f.endswith(".lua")}


def path_without_cargo(scratch):
    """PATH with no Rust toolchain on it: a server without cargo. A directory holding cargo or
    rustc is replaced by one (under scratch) of links to everything else in it: on Debian 13 that
    is /usr/bin, which also holds prosodyctl, lua5.4 and luarocks."""
    dirs = []
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if d and any(os.path.exists(os.path.join(d, tool)) for tool in ("cargo", "rustc")):
            shadow = os.path.join(scratch, f"path-without-rust-{len(dirs)}")
            os.makedirs(shadow)
            for name in os.listdir(d):
                if not name.startswith(("cargo", "rust")):
                    os.symlink(os.path.join(d, name), os.path.join(shadow, name))
            d = shadow
        dirs.append(d)
    path = os.pathsep.join(dirs)
    assert shutil.which("cargo", path=path) is None and shutil.which("rustc", path=path) is None
    return path


def wait_for_entries(server, predicate, timeout=10):
    """Log entries matching predicate; modules load on components after the ports open."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in log_entries(server) if predicate(e)]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.fixture
def tmp_dir():
    path = tempfile.mkdtemp(prefix="http_muc_kick_rock.")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_rock_installed_by_prosodyctl_without_cargo_loads_and_kicks(xmpp, tmp_dir):
    lua = prosody_lua()
    rock_dir = os.path.join(ROOT, "target", "rock", lua_name(lua))
    rocks = [f for f in os.listdir(rock_dir) if f.endswith(".rock")] if os.path.isdir(rock_dir) else []
    assert len(rocks) == 1, f"expected one rock in {rock_dir}: run `make rock`"
    rock = os.path.join(rock_dir, rocks[0])
    installer = os.path.join(tmp_dir, "custom_plugins")  # absolute, or prosodyctl resolves it in /var/lib/prosody
    empty = os.path.join(tmp_dir, "no_plugins")
    os.makedirs(empty)
    # The module's options are there from the start; the module is enabled once installed.
    server = Prosody(empty, f'''
Component "{HOST}" "muc"
    muc_room_locking = false
    http_muc_kick_authorization_header = "{TOKEN}"
''', extra_global=f'installer_plugin_path = "{installer}"', users=(("dave", "dave-pw"),), keep_dir=tmp_dir)
    dave = None
    try:
        assert server.request("POST", b"{}", host=HOST).status == 404  # nothing serves it yet

        # prosodyctl runs from Prosody's data directory: the rock is given by absolute path.
        installed = subprocess.run([PROSODYCTL, "--config", server.config, "install", rock],
                                   env={**os.environ, "PATH": path_without_cargo(tmp_dir)},
                                   capture_output=True, text=True, timeout=120)
        assert installed.returncode == 0, installed.stdout + installed.stderr
        module_dir = os.path.join(installer, "share", "lua", "5.1" if lua == "luajit" else lua, "mod_http_muc_kick")
        installed = set(os.listdir(module_dir))  # as packed by make rock, from lua/ at that time
        assert {"mod_http_muc_kick.lua", f"http_muc_kick_core-{lua_name(lua)}.so"} <= installed, installed
        assert all(f.endswith(".lib.lua") for f in installed - {"mod_http_muc_kick.lua", f"http_muc_kick_core-{lua_name(lua)}.so"})

        server.shell(f"module:load('http_muc_kick', '{HOST}')")
        errors = [e for e in log_entries(server) if e[1] == "error"]
        assert not errors, errors

        dave = xmpp.run(Occupant("dave@localhost/desk", "dave-pw").start(server.c2s_port))
        room = f"lounge@{HOST}"
        xmpp.run(dave.join(room, "Dave"))
        response = server.request("POST", {"muc": room, "nickname": "Dave"}, [("Authorization", TOKEN)], host=HOST)
        assert assert_json(response, 200) == {"muc": room, "kicked": ["Dave"]}, response
        xmpp.run(dave.wait_for(kick_presence_from(f"{room}/Dave")))
    finally:
        if dave is not None:
            xmpp.run(dave.stop(), timeout=5)
        server.stop()


def test_a_library_built_for_another_lua_is_refused_in_one_line_naming_both_and_the_rebuild(tmp_dir):
    lua = prosody_lua()
    other = "5.1" if lua != "5.1" else "5.4"
    plugins = os.path.join(tmp_dir, "plugins")
    module_dir = os.path.join(plugins, "mod_http_muc_kick")
    os.makedirs(module_dir)
    for name in lua_files():
        shutil.copy(os.path.join(ROOT, "lua", name), module_dir)
    shutil.copy(built_library(other), os.path.join(module_dir, f"http_muc_kick_core-{lua_name(other)}.so"))
    server = Prosody(plugins, f'''
Component "{HOST}" "muc"
    modules_enabled = {{ "http_muc_kick" }}
    http_muc_kick_authorization_header = "{TOKEN}"
''', keep_dir=tmp_dir)
    try:
        errors = wait_for_entries(server, lambda e: e[1] == "error" and "http_muc_kick" in e[2])
        running = "LuaJIT" if lua == "luajit" else f"Lua {lua}"
        assert len(errors) == 1, errors
        message = errors[0][2].split("\n")[0]  # Prosody appends a stack traceback to the line
        assert f"built for Lua {other}, but Prosody runs {running}" in message, message
        assert f'"make install LUA={lua} PLUGIN_DIR={plugins}"' in message, message
        assert "undefined symbol" not in server.log()
        assert server.request("POST", b"{}", host=HOST).status == 404  # not loaded, nothing serves
    finally:
        server.stop()


def test_make_install_defaults_to_the_directory_debians_config_lists_and_takes_lua(tmp_dir):
    """`make install` with no PLUGIN_DIR installs where Debian's prosody.cfg.lua looks (checked
    with DESTDIR, so nothing lands on this machine); LUA=5.1 installs the 5.1 build."""
    env = {**os.environ, "PROSODYCTL": PROSODYCTL}
    for lua in (None, "5.1"):
        args = ["make", "--no-print-directory", "-C", ROOT, "install", f"DESTDIR={tmp_dir}"]
        done = subprocess.run(args + ([f"LUA={lua}"] if lua else []), env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    module_dir = tmp_dir + DEBIAN_PLUGIN_DIR + "/mod_http_muc_kick"
    assert set(os.listdir(module_dir)) == lua_files() | {
        f"http_muc_kick_core-{lua_name(prosody_lua())}.so", "http_muc_kick_core-lua5.1.so"}
    # the 5.1 file is a 5.1 build: Lua 5.1 loads it (another Lua's build fails in dlopen)
    loaded = subprocess.run(["lua5.1", "-e", f'assert(package.loadlib("{module_dir}/http_muc_kick_core-lua5.1.so", '
                             '"luaopen_http_muc_kick_core"))'], capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr

    # The config Debian's package ships: /etc/prosody for /usr/bin/prosodyctl, else beside the tree.
    tree = os.path.realpath(os.path.join(os.path.dirname(shutil.which(PROSODYCTL)), "..", ".."))
    config = os.path.join(tree, "etc", "prosody", "prosody.cfg.lua")
    with open(config) as f:
        assert re.search(r'^plugin_paths\s*=\s*{\s*"' + re.escape(DEBIAN_PLUGIN_DIR) + '"', f.read(), re.M), config
