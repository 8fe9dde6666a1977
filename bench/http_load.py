"""Requests per second and Prosody's memory under load, per response path, with wrk on loopback.

Usage: bench/http_load.py PLUGIN_DIR. Each scenario runs wrk for a bounded time (BENCH_SECONDS, 5 s by
default); nothing in the room changes (404, 400, 401 and 405 paths).
"""

import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "spec", "e2e"))
from harness import Occupant, Prosody, XmppLoop  # noqa: E402

SECRET = "Bearer bench-secret"
ROOM = "bench@muc.localhost"
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))

SCENARIOS = [
    ("404 occupant not found (full path)", "POST", SECRET, {"muc": ROOM, "nickname": "Nobody", "reason": "x"}),
    ("404 room not found", "POST", SECRET, {"muc": "nowhere@muc.localhost", "nickname": "Bob"}),
    ("400 invalid JSON", "POST", SECRET, '{"muc": "bench@muc.localhost",}'),
    ("401 wrong token", "POST", "Bearer wrong", {"muc": ROOM, "nickname": "Stay"}),
    ("405 GET", "GET", SECRET, ""),
]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def wrk(port, method, token, body):
    body = body if isinstance(body, str) else json.dumps(body)
    script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    script.write(f'wrk.method = {json.dumps(method)}\nwrk.body = {json.dumps(body)}\n'
                 f'wrk.headers["Host"] = "muc.localhost"\nwrk.headers["Authorization"] = {json.dumps(token)}\n')
    script.close()
    try:
        out = subprocess.run(["wrk", "-t1", "-c8", f"-d{SECONDS}s", "-s", script.name,
                              f"http://127.0.0.1:{port}/muc_kick"],
                             capture_output=True, text=True, timeout=SECONDS + 30, check=True).stdout
    finally:
        os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = re.search(r"Latency\s+(\S+)", out).group(1)
    return rps, latency


def main(plugin_dir):
    server = Prosody(plugin_dir, f'''
        Component "muc.localhost" "muc"
            modules_enabled = {{ "http_muc_kick" }}
            muc_room_locking = false
            http_muc_kick_authorization_header = "{SECRET}"
            http_muc_kick_max_auth_failures = 0
        ''', extra_global='log = { warn = "*stderr" }', users=[("stay", "pw")])
    xmpp = XmppLoop()
    try:
        stay = xmpp.run(Occupant("stay@localhost/bench", "pw").start(server.c2s_port))
        xmpp.run(stay.join(ROOM, "Stay"))
        print(f"wrk -t1 -c8 -d{SECONDS}s per scenario, Prosody 0.12 on 127.0.0.1")
        print(f"{'scenario':<40} {'req/s':>10} {'mean latency':>13} {'RSS after':>10}")
        start_rss = rss_kib(server.proc.pid)
        for name, method, token, body in SCENARIOS:
            rps, latency = wrk(server.http_port, method, token, body)
            print(f"{name:<40} {rps:>10.0f} {latency:>13} {rss_kib(server.proc.pid):>7} KiB")
        print(f"Prosody RSS before load: {start_rss} KiB")
    finally:
        xmpp.close()
        server.cleanup()


if __name__ == "__main__":
    main(sys.argv[1])
