"""Instructions per request inside Prosody, counted with callgrind: `make bench-ir`.

One Prosody 0.12 runs as `valgrind --tool=callgrind lua5.4 /usr/bin/prosody` with three MUC
components serving POST /muc_kick and GET /muc_kick/occupants: ours (mod_http_muc_kick, staged from the current tree into
target/bench-ir/plugins), a pure-Lua baseline of the same contract, and the floor (Prosody's own
cost: a fixed response, or only the room lookup and set_role for a kick, or the room lookup and
the walk of what the view shows), the last two from bench/ir/plugins. Paths: 404, 404u, 400, 401,
200 (a kick) and view (the occupants of a room of ten). For each path the components get windows in the order ours pure floor floor
pure ours, ROUNDS times. A window: a full collect and the collector stopped (admin shell),
WARMUP requests, `callgrind_control -z`, the counted requests over one keep-alive connection
(every status checked), `callgrind_control -d`. The whole run is done twice: without
`statistics` and with `statistics = "internal"`.

Environment: BENCH_IR_REQUESTS (100) requests per refusal window, BENCH_IR_KICKS (50) per kick
window, BENCH_IR_ROUNDS (2); BENCH_IR_KEEP=DIR keeps every window's callgrind dump there
(stats-path-component-N.callgrind); BENCH_IR_PLUGIN_DIR=DIR measures the mod_http_muc_kick
installed there instead of staging the current tree; BENCH_IR_LUA=PATH runs Prosody under that
Lua 5.4 (Debian's has no symbols: a build of its source with -g names the interpreter's own
functions in the dumps).
"""

import asyncio
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "spec", "e2e"))
from harness import Occupant, XmppLoop, free_port, has_status, wait_for_port  # noqa: E402

OUT = os.path.join(ROOT, "target", "bench-ir")
STAGED = os.path.join(OUT, "plugins")
BENCH_PLUGINS = os.path.join(HERE, "plugins")
REQUESTS = int(os.environ.get("BENCH_IR_REQUESTS", "100"))
KICKS = int(os.environ.get("BENCH_IR_KICKS", "50"))  # per 200 window: a kick costs Prosody 5x a refusal
ROUNDS = int(os.environ.get("BENCH_IR_ROUNDS", "2"))
WARMUP = 5
KEEP = os.environ.get("BENCH_IR_KEEP")
LUA = os.environ.get("BENCH_IR_LUA", "lua5.4")  # another Lua 5.4, e.g. one built with symbols to trace

SECRET = "Bearer bench-ir-secret"
WRONG = "Bearer bench-ir-wrong!"  # as long as SECRET: the requests differ only in what is measured
HOSTS = {"ours": "ours.localhost", "pure": "pure.localhost", "floor": "floor.localhost"}
ORDER = ("ours", "pure", "floor", "floor", "pure", "ours")
# 404u: the 404 with a nickname that needs Prosody's full stringprep (not plain ASCII).
# view: GET /muc_kick/occupants?muc= of a room of VIEWERS occupants.
PATHS = tuple(os.environ.get("BENCH_IR_PATHS", "404 404u 400 401 200 view").split())
VIEWERS = 10
# The lowest level written to the log file: "error" leaves the 401 path's warn line out, so the
# difference between two runs is what writing that line costs.
LOG_LEVEL = os.environ.get("BENCH_IR_LOG_LEVEL", "warn")
STATS = (("off", ""), ("internal", 'statistics = "internal"\nstatistics_interval = "manual"'))

KICK_OPTIONS = f'''
    muc_room_locking = false
    http_muc_kick_authorization_header = "{SECRET}"
    http_muc_kick_max_auth_failures = 4294967295
'''


def stage():
    """The plugin dir to measure and what it holds. By default our own copy of the module, built
    from the current tree (a concurrent `make stage` elsewhere then changes nothing here);
    BENCH_IR_PLUGIN_DIR measures an already installed one instead (e.g. to compare two builds)."""
    given = os.environ.get("BENCH_IR_PLUGIN_DIR")
    if given:
        plugins, source = os.path.abspath(given), f"installed in {given}"
    else:
        shutil.rmtree(os.path.join(STAGED, "mod_http_muc_kick"), ignore_errors=True)  # no stale files
        subprocess.run(["make", "--no-print-directory", "install", f"PLUGIN_DIR={STAGED}"],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        plugins, source = STAGED, "built from the tree at " + tree_state()
    digest = hashlib.sha256()
    module_dir = os.path.join(plugins, "mod_http_muc_kick")
    for name in sorted(os.listdir(module_dir)):
        with open(os.path.join(module_dir, name), "rb") as f:
            digest.update(name.encode() + b"\0" + f.read())
    return plugins, f"mod_http_muc_kick {source}; files sha256 {digest.hexdigest()[:12]}"


def tree_state():
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout
    state = git("rev-parse", "--short", "HEAD").strip()
    changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
    if changed:
        state += f" + uncommitted changes in {', '.join(changed)}"
    return state


class CallgrindProsody:
    """A throwaway Prosody on loopback, run by Lua under callgrind, controlled through vgdb."""

    def __init__(self, plugins, stats, stats_config):
        self.stats = stats
        os.makedirs(OUT, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix="run.", dir=OUT)
        self.config = os.path.join(self.dir, "prosody.cfg.lua")
        self.log_path = os.path.join(self.dir, "prosody.log")
        self.dumps = os.path.join(self.dir, "callgrind.out")
        # A private vgdb prefix: callgrind_control then finds this Prosody and no one else's.
        self.vgdb_prefix = os.path.join(self.dir, "vgdb")
        self.c2s_port, self.http_port = free_port(), free_port()
        for sub in ("data", "certs"):
            os.makedirs(os.path.join(self.dir, sub))
        components = "".join(f'''
            Component "{HOSTS[name]}" "muc"
                modules_enabled = {{ "{module}" }}
                {KICK_OPTIONS}
            ''' for name, module in (("ours", "http_muc_kick"), ("pure", "http_muc_kick_purelua"),
                                     ("floor", "bench_floor")))
        with open(self.config, "w") as f:
            f.write(textwrap.dedent(f"""\
                run_as_root = true
                daemonize = false
                pidfile = "{self.dir}/prosody.pid"
                data_path = "{self.dir}/data"
                certificates = "{self.dir}/certs"
                admin_socket = "{self.dir}/admin.sock"
                log = {{ {LOG_LEVEL} = "{self.log_path}" }}
                plugin_paths = {{ "{plugins}", "{BENCH_PLUGINS}" }}
                interfaces = {{ "127.0.0.1" }}
                local_interfaces = {{ "127.0.0.1" }}
                c2s_ports = {{ {self.c2s_port} }}
                c2s_interfaces = {{ "127.0.0.1" }}
                http_ports = {{ {self.http_port} }}
                http_interfaces = {{ "127.0.0.1" }}
                https_ports = {{}}
                s2s_ports = {{}}
                component_ports = {{}}
                c2s_require_encryption = false
                authentication = "internal_hashed"
                muc_room_cache_size = 10000
                modules_enabled = {{ "roster"; "saslauth"; "disco"; "http"; "admin_shell" }}
                modules_disabled = {{ "s2s"; "tls" }}
                {stats_config}
                VirtualHost "localhost"
            """) + textwrap.dedent(components))
        for user in ("stay", "victim", *(f"viewer{i}" for i in range(VIEWERS))):
            self.prosodyctl("register", user, "localhost", "pw")
        # Uninstrumented until measure() switches callgrind on: start-up and joins run faster.
        with open(os.path.join(self.dir, "valgrind.log"), "w") as valgrind_log:
            self.proc = subprocess.Popen(
                ["setpriv", "--pdeathsig", "TERM", "valgrind", "--tool=callgrind", "--instr-atstart=no",
                 f"--callgrind-out-file={self.dumps}", f"--vgdb-prefix={self.vgdb_prefix}",
                 LUA, "/usr/bin/prosody", "--config", self.config, "-F"],
                stdout=subprocess.DEVNULL, stderr=valgrind_log)
        try:
            wait_for_port(self.c2s_port, self.proc, timeout=180)
            wait_for_port(self.http_port, self.proc, timeout=60)
        except Exception:
            self.stop()
            raise

    def prosodyctl(self, *args):
        return subprocess.run(["prosodyctl", "--config", self.config, *args],
                              check=True, capture_output=True, text=True, timeout=120).stdout

    def lua(self, code):
        """Evaluates `code` in Prosody's global environment (the admin shell's `>`)."""
        return self.prosodyctl("shell", ">" + code).strip()

    def callgrind(self, *args):
        subprocess.run(["callgrind_control", f"--vgdb-prefix={self.vgdb_prefix}", *args,
                        str(self.proc.pid)], check=True, capture_output=True, timeout=120)

    def dump(self):
        """Dumps the counters since the last zero; returns (Ir, path of the dump)."""
        before = set(os.listdir(self.dir))
        self.callgrind("--dump")
        new = [n for n in os.listdir(self.dir) if n not in before and n.startswith("callgrind.out.")]
        if len(new) != 1:
            raise RuntimeError(f"expected one new callgrind dump, found {new}")
        path = os.path.join(self.dir, new[0])
        with open(path) as f:
            for line in f:
                if line.startswith("summary:"):  # callgrind_annotate's PROGRAM TOTALS
                    return int(line.split()[1]), path
        raise RuntimeError(f"{path} has no summary line")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Requests:
    """One keep-alive HTTP/1.1 connection; every response's status and body are checked.

    Each request goes out in one send() (http.client sends headers and body apart, so a request
    would sometimes reach Prosody in two reads), and the next one only once Prosody is idle
    again (blocked in epoll_wait), so every request costs Prosody the same loop iterations.
    """

    def __init__(self, port, pid):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.wchan = f"/proc/{pid}/wchan"
        self.pending = b""

    def send(self, host, method, target, token, body, headers, status, marker):
        lines = [f"{method} {target} HTTP/1.1".encode(), b"Host: " + host.encode(),
                 b"Authorization: " + token.encode()]
        lines += [f"{name}: {value}".encode() for name, value in headers]
        lines.append(b"Content-Length: %d" % len(body))
        self.sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        got, data = self.response()
        if got != status or marker not in data:
            raise RuntimeError(f"{host}: expected {status} with {marker!r}, got {got} {data[:200]!r}")
        self.wait_until_idle()

    def response(self):
        while b"\r\n\r\n" not in self.pending:
            self.receive()
        head, self.pending = self.pending.split(b"\r\n\r\n", 1)
        status_line, *fields = head.decode("latin-1").split("\r\n")
        fields = dict(f.split(":", 1) for f in fields)
        fields = {name.strip().lower(): value.strip() for name, value in fields.items()}
        if fields.get("connection", "").lower() == "close" or "content-length" not in fields:
            raise RuntimeError(f"not a keep-alive response with Content-Length: {head!r}")
        length = int(fields["content-length"])
        while len(self.pending) < length:
            self.receive()
        body, self.pending = self.pending[:length], self.pending[length:]
        return int(status_line.split()[1]), body

    def receive(self):
        data = self.sock.recv(65536)
        if not data:
            raise RuntimeError("Prosody closed the connection")
        self.pending += data

    def wait_until_idle(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.wchan) as f:
                if f.read() == "do_epoll_wait":
                    return
            time.sleep(0.0002)
        raise TimeoutError("Prosody did not go idle")

    def close(self):
        self.sock.close()


class Rooms:
    """Rooms k1, k2, ... of each component, each holding the occupant Kicked, used up in order."""

    def __init__(self):
        self.next = dict.fromkeys(HOSTS, 1)

    def take(self, name):
        index = self.next[name]
        self.next[name] += 1
        return f"k{index}@{HOSTS[name]}"


def request_for(path, name, rooms):
    """(method, target, token, body, extra headers, expected status, a byte string the body must
    hold)."""
    host = HOSTS[name]
    floor = name == "floor"
    if path == "view":
        return "GET", f"/muc_kick/occupants?muc=view@{host}", SECRET, b"", (), 200, b'"occupants"'
    return ("POST", "/muc_kick") + post_for(path, name, rooms)


def post_for(path, name, rooms):
    host = HOSTS[name]
    floor = name == "floor"
    if path == "200":
        room = rooms.take(name)
        # Every component gets the floor's headers, so the requests are the same size.
        headers = (("X-Bench-Room", room), ("X-Bench-Occupant", f"{room}/Kicked"))
        body = json.dumps({"muc": room, "nickname": "Kicked"}).encode()
        return SECRET, body, headers, 200, b'"kicked"'
    nickname = "N\u00f6body" if path == "404u" else "Nobody"
    body = b"{}" if path == "400" else json.dumps({"muc": f"bench@{host}", "nickname": nickname}).encode()
    token = WRONG if path == "401" else SECRET
    if floor:
        return token, body, (), 200, b'"refused"'
    return token, body, (), int(path[:3]), b'"condition"'


def window(server, path, name, rooms, label):
    """Ir per request of `path` to component `name` (REQUESTS requests, KICKS for 200): a full
    collect, the collector stopped, WARMUP requests, then the counted ones. The collector stays
    stopped until the next window's collect (one admin shell call per window instead of two)."""
    server.lua('collectgarbage("restart"); collectgarbage("collect"); collectgarbage("stop")')
    client = Requests(server.http_port, server.proc.pid)
    try:
        for _ in range(WARMUP):
            client.send(HOSTS[name], *request_for(path, name, rooms))
        count = KICKS if path == "200" else REQUESTS
        requests = [request_for(path, name, rooms) for _ in range(count)]
        server.callgrind("--zero")
        for request in requests:
            client.send(HOSTS[name], *request)
        ir, dump = server.dump()
    finally:
        client.close()
    if KEEP:
        shutil.copy(dump, os.path.join(KEEP, f"{label}.callgrind"))
    os.unlink(dump)
    return ir / count


async def join_all(client, rooms, nick, timeout=600):
    """Joins every room as `nick` at once and waits for each self-presence."""
    waiting = {f"{room}/{nick}" for room in rooms}
    for occupant in sorted(waiting):
        presence = client.make_presence(pto=occupant)
        presence.append(ET.Element("{http://jabber.org/protocol/muc}x"))
        presence.send()
    deadline = asyncio.get_running_loop().time() + timeout
    seen = 0
    while waiting:
        for p in client.presences[seen:]:
            if p.get("type") is None and has_status(p, "110"):
                waiting.discard(p.get("from"))
        seen = len(client.presences)
        left = deadline - asyncio.get_running_loop().time()
        if waiting and left <= 0:
            raise TimeoutError(f"{len(waiting)} rooms not joined")
        if waiting:
            client.changed.clear()
            try:
                await asyncio.wait_for(client.changed.wait(), left)
            except asyncio.TimeoutError:
                pass


async def start_client(jid, port):
    client = Occupant(jid, "pw")
    client.whitespace_keepalive = False  # nothing from the clients during a window
    return await client.start(port)


def measure(server):
    """{path: {component: [Ir/request per window]}} for one Prosody."""
    xmpp = XmppLoop()
    clients = []
    try:
        stay = xmpp.run(start_client("stay@localhost/bench", server.c2s_port), timeout=120)
        victim = xmpp.run(start_client("victim@localhost/bench", server.c2s_port), timeout=120)
        clients = [stay, victim]
        if "view" in PATHS:
            for i in range(VIEWERS):
                viewer = xmpp.run(start_client(f"viewer{i}@localhost/bench", server.c2s_port), timeout=120)
                clients.append(viewer)
                xmpp.run(join_all(viewer, [f"view@{host}" for host in HOSTS.values()], f"Viewer {i}"),
                         timeout=600)
        xmpp.run(join_all(stay, [f"bench@{host}" for host in HOSTS.values()], "Stay"), timeout=600)
        kick_rooms = 2 * ROUNDS * (KICKS + WARMUP)  # two windows per component and round
        xmpp.run(join_all(victim, [f"k{i}@{host}" for host in HOSTS.values()
                                   for i in range(1, kick_rooms + 1)], "Kicked"), timeout=900)
        server.callgrind("--instr=on")
        rooms = Rooms()
        results = {}
        for path in PATHS:
            results[path] = {name: [] for name in HOSTS}
            for name in ORDER * ROUNDS:
                label = f"{server.stats}-{path}-{name}-{len(results[path][name]) + 1}"
                results[path][name].append(window(server, path, name, rooms, label))
        server.lua('collectgarbage("restart")')
        return results
    finally:
        for client in clients:
            try:
                xmpp.run(client.stop(), timeout=10)
            except Exception:
                pass
        xmpp.close()


def machine(server):
    with open("/proc/cpuinfo") as f:
        cpu = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M).group(1)
    version = server.lua("prosody.version").removeprefix("Result: ")
    lua = server.lua("_VERSION").removeprefix("Result: ")
    valgrind = subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip()
    return f"CPU {cpu}, {os.cpu_count()} cores; Prosody {version} on {lua}; {valgrind}"


def spread(values):
    return (max(values) - min(values)) / min(values) * 100


def table(stats, results):
    mean = {path: {name: sum(v) / len(v) for name, v in by_name.items()}
            for path, by_name in results.items()}
    lines = [f"statistics {stats}: Ir per request, mean of {2 * ROUNDS} windows of {REQUESTS} requests"
             f" ({KICKS} for 200)",
             f"{'path':<5} {'floor':>9} {'ours':>9} {'ours-floor':>11} {'pure Lua':>9} {'pure-floor':>11}"
             f" {'spread':>7}"]
    for path in PATHS:
        m = mean[path]
        worst = max(spread(v) for v in results[path].values())
        lines.append(f"{path:<5} {m['floor']:>9.0f} {m['ours']:>9.0f} {m['ours'] - m['floor']:>11.0f}"
                     f" {m['pure']:>9.0f} {m['pure'] - m['floor']:>11.0f} {worst:>6.2f}%")
    return "\n".join(lines)


def main():
    started = time.monotonic()
    plugins, measured = stage()
    if KEEP:
        os.makedirs(KEEP, exist_ok=True)
    tables, description = [], None
    for stats, stats_config in STATS:
        server = CallgrindProsody(plugins, stats, stats_config)
        try:
            results = measure(server)
            description = description or machine(server)
        except BaseException:
            server.stop()
            print(f"failed; Prosody's log and config are in {server.dir}", file=sys.stderr)
            raise
        server.cleanup()
        tables.append(table(stats, results))
    print(description)
    print(measured)
    print("spread: the largest difference between two windows of one component, of the smaller")
    print("\n\n".join(tables))
    if KEEP:
        print(f"callgrind dumps of every window in {os.path.abspath(KEEP)}, e.g.\n"
              f"  callgrind_annotate --inclusive=yes {os.path.abspath(KEEP)}/off-404-ours-1.callgrind")
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
