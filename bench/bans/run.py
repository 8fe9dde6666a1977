"""What bans cost Prosody at scale, and what lifts falling due together do to everyone else:
`make bench-bans`. Measured, never asserted (bench/README.md).

A throwaway Prosody on loopback (spec/e2e/harness.py), the module staged in target/plugins on
muc.localhost with persistent rooms, storage `internal` (or `--storage sql`: SQLite). CPU is
Prosody's own (utime+stime of its process), read from /proc/<pid>/schedstat (the same time in ns)
or, where the kernel has none, /proc/<pid>/stat (clock ticks).

1. CPU per ban (`{"muc", "jid": "uN@localhost", "ban": 3600}`) at HELD bans already in room
   `big` (filled up to each level with the room's save a no-op), in BATCH-ban batches with
   Prosody's room save real and a no-op (the room object's `save` replaced through the admin shell;
   the stub counts its calls and the stored room must not change), alternated ROUNDS times, the
   lowest batch kept; the same in room `few` (few bans) as the first-ban reference, and a 404.
2. LIFTS bans in room `wave` (filled with the save a no-op, then restored: the lifts run Prosody's
   real saves, timed by a wrapper) all ending in the same second. From a few seconds before until
   the last lift, an HTTP 404 and an XMPP ping go out every ~10 ms; their latency over the
   baseline (the median before the lifts) is the delay; the log is tailed for "Timed lift" lines.
   Prosody's CPU during the lifts excludes the probes' own (their rate before the due time).
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "spec", "e2e"))
from harness import Occupant, Prosody, XmppLoop  # noqa: E402

HOST = "muc.localhost"
TOKEN = "Bearer bench-bans"
PROBE = {"muc": f"nosuch@{HOST}", "nickname": "Nobody"}  # a 404: the room does not exist
SQL = 'storage = "sql"\nsql = { driver = "SQLite3", database = "prosody.sqlite" }'
COMPONENTS = f'''
Component "{HOST}" "muc"
    modules_enabled = {{ "http_muc_kick" }}
    muc_room_locking = false
    muc_room_default_persistent = true
    http_muc_kick_authorization_header = "{TOKEN}"
'''


class Http:
    """One keep-alive connection to the module's endpoint; every status is checked."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def post(self, body, status=200):
        self.conn.request("POST", "/muc_kick", json.dumps(body),
                          {"Host": HOST, "Authorization": TOKEN, "Content-Type": "application/json"})
        response = self.conn.getresponse()
        data = response.read()
        if response.status != status:
            raise RuntimeError(f"expected {status}, got {response.status} {data[:200]!r} for {body}")
        return json.loads(data)


class Bench:
    def __init__(self, args):
        here = tempfile.mkdtemp(prefix="http_muc_kick_bench_bans.")
        # The harness logs at debug; a later `log` overrides it: info, where bans and lifts are.
        extra = f'log = {{ info = "{here}/prosody.log" }}\n' + (SQL if args.storage == "sql" else "")
        self.server = Prosody(args.plugins, COMPONENTS, users=(("probe", "pw"),), extra_global=extra,
                              keep_dir=here)
        self.args = args
        self.pid = self.server.proc.pid
        self.http = Http(self.server.http_port)
        self.next_user = 0
        self.held = {}
        for room in ("big", "few", "wave"):
            self.lua(f'prosody.hosts["{HOST}"].modules.muc.create_room("{room}@{HOST}")')
            self.held[room] = 0

    def lua(self, code):
        """Runs `code` in Prosody (the admin shell's `>`); the last line it printed, as a value."""
        return lua(self.server, code)

    def cpu(self):
        try:
            with open(f"/proc/{self.pid}/schedstat") as f:
                return int(f.read().split()[0]) / 1e9
        except FileNotFoundError:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def runqueue(self):
        """Seconds Prosody has waited for a CPU, runnable (schedstat's second field; 0 without it)."""
        try:
            with open(f"/proc/{self.pid}/schedstat") as f:
                return int(f.read().split()[1]) / 1e9
        except FileNotFoundError:
            return 0.0

    def room(self, name):
        return f'prosody.hosts["{HOST}"].modules.muc.get_room_from_jid("{name}@{HOST}")'

    def stub_save(self, name):
        """Prosody's save of room `name` becomes a no-op that counts its calls."""
        self.lua(f"local r = {self.room(name)}; r.bench_save = r.bench_save or r.save; r.bench_calls = 0;"
                 " r.save = function () r.bench_calls = r.bench_calls + 1; return true; end")

    def restore_save(self, name):
        self.lua(f"local r = {self.room(name)}; r.save = r.bench_save")
        if self.lua(f"{self.room(name)}.save == {self.room(name)}.bench_save") != "true":
            raise RuntimeError(f"the save of {name} was not restored")

    def time_saves(self, name):
        """Prosody's save of room `name` stays, timed: how many, their wall time, the longest."""
        self.lua(f"local r = {self.room(name)}; local now = require'util.time'.now; local n, sum, max = 0, 0, 0;"
                 " r.bench_save = r.bench_save or r.save; r.bench_saves = 'none';"
                 " r.save = function (...) local t = now(); local a, b = r.bench_save(...); t = now() - t;"
                 " n, sum, max = n + 1, sum + t, math.max(max, t);"
                 " r.bench_saves = ('%d, %.1f s, %.1f ms mean, %.1f ms longest'):format(n, sum, sum / n * 1000,"
                 " max * 1000); return a, b; end")

    def time_timers(self):
        """Every timer added from now on is timed (util.timer wrapped): how many runs, the longest,
        how many over 50 ms, and the longest gap between two runs of the same timer (the server's
        own turn in between). A diagnostic (--time-timers): it adds a closure call per run."""
        self.lua("local timer, now = require'util.timer', require'util.time'.now; local add = timer.add_task;"
                 " local n, max, over, gap = 0, 0, 0, 0; prosody.bench_timers = 'none';"
                 " timer.add_task = function (delay, callback, ...) local ended;"
                 " return add(delay, function (...) local t = now(); if ended then gap = math.max(gap, t - ended) end;"
                 " local r = callback(...); ended = now(); t = ended - t; n, max = n + 1, math.max(max, t);"
                 " if t > 0.05 then over = over + 1 end; prosody.bench_timers = ('%d, longest %.1f ms, %d over 50 ms,"
                 " longest gap %.1f ms'):format(n, max * 1000, over, gap * 1000); return r; end, ...); end")

    def stub_calls(self, name):
        return int(self.lua(f"{self.room(name)}.bench_calls"))

    def stored(self, name):
        """The stored room (config and state) as bytes, to check that a stubbed save wrote nothing."""
        if self.args.storage == "sql":
            return self.lua(f'require"util.hashes".sha1(require"util.serialization".serialize(prosody.hosts'
                            f'["{HOST}"].modules.muc.module:open_store("config"):get("{name}")), true)').encode()
        path = os.path.join(self.server.dir, "data", HOST.replace(".", "%2e"), "config", f"{name}.dat")
        with open(path, "rb") as f:
            return f.read()

    def ban(self, room, seconds=3600, user=None):
        if user is None:
            self.next_user += 1
            self.held[room] += 1
        user = user or self.next_user
        return self.http.post({"muc": f"{room}@{HOST}", "jid": f"u{user}@localhost", "ban": seconds})

    def batch(self, room, count, noop):
        """Prosody CPU per ban (ms) of `count` bans in `room`, its save real or a no-op."""
        if noop:
            self.stub_save(room)
            before = self.stored(room)
        started = self.cpu()
        for _ in range(count):
            self.ban(room)
        spent = self.cpu() - started
        if noop:
            calls = self.stub_calls(room)
            if calls != count or self.stored(room) != before:
                raise RuntimeError(f"the stub did not replace the save of {room} ({calls} calls)")
            self.restore_save(room)
        return spent / count * 1000

    def fill(self, room, level, due=None):
        """Bans up to `level` in `room` with its save a no-op, for an hour or until `due` (a Unix
        time: a ban whose until missed it, the clock having turned on the way, is given again);
        returns how many were given again."""
        self.stub_save(room)
        again = 0
        while self.held[room] < level:
            until = self.ban(room, due - int(time.time()) if due else 3600)["until"]
            for _ in range(3):
                if not due or until == f"{datetime.fromtimestamp(due, timezone.utc):%Y-%m-%dT%H:%M:%SZ}":
                    break
                again += 1
                until = self.ban(room, due - int(time.time()), user=self.next_user)["until"]
        self.restore_save(room)
        return again

    def per_ban(self):
        rows, batch = [], self.args.batch
        started = self.cpu()
        for _ in range(batch):
            self.http.post(PROBE, 404)
        rows.append(("404 (no such room), for scale", (self.cpu() - started) / batch * 1000, None))
        self.fill("few", 5)
        rows.append(self.measure("few"))
        for level in self.args.held:
            self.fill("big", level)
            rows.append(self.measure("big"))
        return rows

    def measure(self, room):
        held = self.held[room]
        real, noop = [], []
        for _ in range(self.args.rounds):
            real.append(self.batch(room, self.args.batch, noop=False))
            noop.append(self.batch(room, self.args.batch, noop=True))
        return f"ban, {held} held in {room}", min(real), min(noop)

    def lifts(self):
        count, args = self.args.lifts, self.args
        started = time.monotonic()
        rate = args.fill_estimate or (0.03 if args.storage == "sql" else 0.004)
        due = int(time.time() + count * rate + args.lead)
        again = self.fill("wave", count, due)
        fill_seconds = time.monotonic() - started
        if time.time() > due - 2:
            raise RuntimeError(f"filling took {fill_seconds:.0f} s: the bans fell due before the probes began")
        self.time_saves("wave")
        if self.args.time_timers:
            self.time_timers()
        result = self.probe(due, count)
        if self.args.time_timers:
            result["timer runs"] = self.lua("prosody.bench_timers")
        result["room saves"] = self.lua(f"{self.room('wave')}.bench_saves")
        self.restore_save("wave")
        return result, {"fill s": fill_seconds, "given again": again, "due": due}

    def probe(self, due, count):
        xmpp = XmppLoop()
        client = Occupant("probe@localhost/bench", "pw")
        client.register_plugin("xep_0199")
        try:
            xmpp.run(client.start(self.server.c2s_port), timeout=60)
            return self.probe_with(xmpp, client, due, count)
        finally:
            xmpp.run(client.stop(), timeout=10)
            xmpp.close()

    def probe_with(self, xmpp, client, due, count):
        log = open(self.server.log_path, errors="replace")
        log.seek(0, os.SEEK_END)
        samples, lifted, first, last, outcomes = [], 0, None, None, {}
        cpu_at_due = cpu_start = self.cpu()
        queued = self.runqueue()
        start = time.time()
        deadline = due + self.args.lift_timeout
        while lifted < count and time.time() < deadline:
            at = time.time()
            if at < due:
                cpu_at_due, queued = self.cpu(), self.runqueue()
            t0 = time.perf_counter()
            self.http.post(PROBE, 404)
            t1 = time.perf_counter()
            xmpp.run(ping(client), timeout=40)
            t2 = time.perf_counter()
            samples.append((at, t1 - t0, t2 - t1))
            for line in log.readlines():
                if "Timed lift:" in line:
                    lifted += 1
                    first = first or (time.time(), line.strip())
                    last = time.time()
                    outcome = line.rsplit(": ", 1)[1].strip()
                    outcomes[outcome] = outcomes.get(outcome, 0) + 1
            time.sleep(max(0.0, 0.01 - (time.perf_counter() - t0)))
        cpu_end, queued = self.cpu(), self.runqueue() - queued
        log.close()
        before = [s for s in samples if s[0] < due]
        during = [s for s in samples if due <= s[0] <= (last or due)]
        probe_cpu = (cpu_at_due - cpu_start) / max(1e-9, due - start)  # CPU/s of the probes alone
        lift_cpu = cpu_end - cpu_at_due - probe_cpu * ((last or due) - due)
        result = {"lifts": lifted, "outcomes": outcomes, "probes during": len(during)}
        for index, kind in ((1, "http 404"), (2, "xmpp ping")):
            base = statistics.median(s[index] for s in before)
            delays = sorted(((s[index] - base) * 1000, s[0] - due) for s in during) or [(0, 0)]
            result[f"{kind} baseline ms"] = base * 1000
            result[f"{kind} max delay ms"] = "%.1f (at due+%.1f s)" % delays[-1]
            result[f"{kind} p99 delay ms"] = delays[len(delays) * 99 // 100][0]
            result[f"{kind} over 100 ms"] = sum(1 for d in delays if d[0] > 100)
        result.update({
            "first lift seen at": "due%+.2f s (Prosody's log: %s)" % (first[0] - due, first[1]) if first else None,
            "first to last s": (last - first[0]) if first else None,
            "due to last s": (last - due) if last else None,
            "lift cpu s": lift_cpu, "waited for a cpu s": queued, "cpu per lift ms": lift_cpu / max(1, lifted) * 1000,
        })
        return result


async def ping(client):
    await client["xep_0199"].send_ping("localhost", timeout=30)


def lua(server, code):
    """The last line the admin shell printed for `code` (before it, prosodyctl's own warnings,
    e.g. for the second `log` option)."""
    return server.shell(">" + code).strip().splitlines()[-1].removeprefix("Result: ")


def describe(server):
    version, interpreter = lua(server, "prosody.version"), lua(server, "_VERSION")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    return f"Prosody {version} on {interpreter}, tree at {commit}, {datetime.now(timezone.utc):%Y-%m-%d}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--storage", choices=("internal", "sql"), default="internal")
    parser.add_argument("--plugins", default=os.path.join(ROOT, "target", "plugins"))
    parser.add_argument("--held", type=lambda s: [int(n) for n in s.split(",")], default=[100, 1000, 5000])
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lifts", type=int, default=5000)
    parser.add_argument("--fill-estimate", type=float, help="s per ban while filling (0.004, sql 0.03)")
    parser.add_argument("--lead", type=float, default=10, help="s from the filled room to the lifts")
    parser.add_argument("--time-timers", action="store_true", help="time every timer run (a diagnostic)")
    parser.add_argument("--lift-timeout", type=float, default=300)
    args = parser.parse_args()
    started = time.monotonic()
    bench = Bench(args)
    try:
        print(describe(bench.server), f"storage {args.storage}", flush=True)
        rows = bench.per_ban()
        print(f"Prosody CPU per request, ms (lowest of {args.rounds} batches of {args.batch}; the room filled"
              " up to the level with its save a no-op):")
        print(f"{'':<34} {'save real':>10} {'save no-op':>11}")
        for label, real, noop in rows:
            print(f"{label:<34} {real:>10.2f} {'' if noop is None else f'{noop:.2f}':>11}")
        sys.stdout.flush()
        if args.lifts:
            result, fill = bench.lifts()
            print(f"{args.lifts} lifts due in one second, at {datetime.fromtimestamp(fill['due'])} (room filled in"
                  f" {fill['fill s']:.0f} s with its save a no-op, {fill['given again']} bans given again for"
                  " that second; lifted with Prosody's real saves):")
            for key, value in result.items():
                print(f"  {key:<24} {value:.3f}" if isinstance(value, float) else f"  {key:<24} {value}")
    except BaseException:
        print(f"failed; Prosody's log and config are in {bench.server.dir}", file=sys.stderr)
        bench.server.stop()
        raise
    bench.server.cleanup()
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
