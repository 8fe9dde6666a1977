"""The failure lockout under attack (SPEC: "The failure lockout"), on a Prosody of its own.

One address per X-Forwarded-For value (loopback is a trusted proxy by default). The attack fills
the table of attack.localhost, where one failure locks an address, with 10 000 locked 9 KB keys;
Prosody's RSS and CPU per 401 are read from /proc. canon.localhost (3 failures) pins that every
spelling of an address is one counter and that IPv6 addresses count per /64.
"""

import os
import socket
import threading
import tempfile
import time

import pytest

from harness import Prosody
from support import PLUGIN_DIR, assert_json

ATTACK = "attack.localhost"   # max_auth_failures 1: one failure locks an address
CANON = "canon.localhost"     # max_auth_failures 3
WARM = "warm.localhost"       # lockout off: warms the request path without touching a table
TOKEN = "Bearer attack-s3cret"
CANON_FAILURES = 3

TABLE_SIZE = 10_000           # SPEC: the table holds at most 10 000 entries
BATCH = 1_000                 # 401s measured with the table empty, then full
KEY_SIZE = 9_000              # bytes of each X-Forwarded-For value (Prosody's head limit is 10 KiB)
# Prosody 13.0.2+ drops an X-Forwarded-For entry that does not begin with an address (the request
# then counts as the proxy); one that begins with a bracketed IPv6 address reaches the module as
# written on every version, and is still no address to it.
NOT_ADDRESS = "[2001:db8::]"
CONNECTIONS = 8
RSS_GROWTH_LIMIT = 6 * 1024 * 1024
CPU_RATIO_LIMIT = 2.0
CPU_SLACK = 0.02e-3           # seconds per request, so that a tiny denominator does not flake
BATCH_DEADLINE = 15           # seconds: a measured batch that takes longer is cut short
WINDOW = 60                   # SPEC: a lockout ends 60 s after the address's first failure

COMPONENTS = f'''
Component "{ATTACK}" "muc"
    modules_enabled = {{ "http_muc_kick" }}
    http_muc_kick_authorization_header = "{TOKEN}"
    http_muc_kick_max_auth_failures = 1

Component "{CANON}" "muc"
    modules_enabled = {{ "http_muc_kick" }}
    http_muc_kick_authorization_header = "{TOKEN}"
    http_muc_kick_max_auth_failures = {CANON_FAILURES}

Component "{WARM}" "muc"
    modules_enabled = {{ "http_muc_kick" }}
    http_muc_kick_authorization_header = "{TOKEN}"
    http_muc_kick_max_auth_failures = 0
'''


@pytest.fixture(scope="module")
def server():
    """This file's own Prosody: the attack fills tables that no other test should share, and
    RSS is read on a quiet server. Only errors are logged: every 401 logs its 9 KB address."""
    if not os.path.exists(os.path.join(PLUGIN_DIR, "mod_http_muc_kick", "mod_http_muc_kick.lua")):
        pytest.exit(f"{PLUGIN_DIR} has no mod_http_muc_kick: run `make stage` first", returncode=2)
    directory = tempfile.mkdtemp(prefix="http_muc_kick_attack.")
    log = os.path.join(directory, "prosody.log")  # the harness's log_path, at level error
    prosody = Prosody(PLUGIN_DIR, COMPONENTS, extra_global=f'log = {{ error = "{log}" }}', keep_dir=directory)
    try:
        yield prosody
    finally:
        prosody.cleanup()


# /proc readings of the Prosody process


def prosody_pid(server):
    """The pid of the Lua interpreter running Prosody: setpriv and env exec it, so normally
    the pid we started; its descendants are searched in case something forked instead."""
    pending = [server.proc.pid]
    while pending:
        pid = pending.pop(0)
        try:
            if os.path.basename(os.readlink(f"/proc/{pid}/exe")).startswith("lua"):
                return pid
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    pending.extend(int(child) for child in f.read().split())
        except OSError:
            continue
    raise RuntimeError(f"no Lua process under pid {server.proc.pid}")


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid):
    """utime + stime of the whole process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Sending many requests fast: raw HTTP/1.1 over a few keep-alive connections


def raw_post(host, ip, token, body=b'{"muc":"x@nowhere.localhost","nickname":"x"}'):
    return (b"POST /muc_kick HTTP/1.1\r\nHost: " + host.encode() + b"\r\nX-Forwarded-For: " + ip.encode()
            + b"\r\nAuthorization: " + token.encode()
            + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def read_response(sock, buffer):
    """(status, rest of the buffer) of one response read from `sock`."""
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed before a response")
        buffer += data
    head, buffer = buffer.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(buffer) < length:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed inside a body")
        buffer += data
    return status, buffer[length:]


def blast(server, requests, deadline_seconds=BATCH_DEADLINE):
    """Sends each request once, CONNECTIONS at a time; returns (statuses, seconds taken).
    Stops at the deadline: the statuses then count fewer requests than were given."""
    source = iter(requests)
    lock = threading.Lock()
    statuses = []
    errors = []
    deadline = time.monotonic() + deadline_seconds

    def worker():
        sock = None
        buffer = b""
        try:
            while time.monotonic() < deadline:
                with lock:
                    request = next(source, None)
                if request is None:
                    return
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", server.http_port), timeout=deadline_seconds)
                    buffer = b""
                sock.sendall(request)
                status, buffer = read_response(sock, buffer)
                with lock:
                    statuses.append(status)
        except OSError as e:
            errors.append(e)
        finally:
            if sock is not None:
                sock.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:3]
    return statuses, time.monotonic() - started


def key(n):
    """The n-th attacker's X-Forwarded-For value: KEY_SIZE bytes, not an IP address."""
    head = f"{NOT_ADDRESS}k{n:07d}-"
    return head + "abcdefghijklmnopqrstuvwxyz"[n % 26] * (KEY_SIZE - len(head))


def address(n):
    """The n-th attacker's IPv4 address (short keys cost Prosody less, so a table's cost shows)."""
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


def failures(host, keys):
    """A wrong secret from each of `keys`."""
    return (raw_post(host, k, "Bearer wrong") for k in keys)


def measured(server, pid, host, keys):
    """failures() sent; (statuses, Prosody CPU seconds)."""
    cpu = cpu_seconds(pid)
    statuses, _ = blast(server, failures(host, keys))
    return statuses, cpu_seconds(pid) - cpu


def post(server, host, ip, token):
    return server.request("POST", {"muc": f"x@{host}", "nickname": "x"},
                          [("X-Forwarded-For", ip), ("Authorization", token)], host=host)


# Canonical keys: every spelling of one address is one counter; IPv6 counts per /64


def fail_from(server, ips, host=CANON):
    for ip in ips:
        assert_json(post(server, host, ip, "Bearer wrong"), 401, "not-authorized")


def assert_locked(server, ip, host=CANON):
    assert_json(post(server, host, ip, TOKEN), 429, "too-many-requests")


def assert_not_locked(server, ip, host=CANON):
    assert_json(post(server, host, ip, TOKEN), 404, "item-not-found")


def test_spellings_of_one_ipv6_address_share_one_counter(server):
    fail_from(server, ["2001:db8::1", "2001:DB8::1", "2001:0db8:0:0::1"])

    for spelling in ("2001:db8::1", "2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8:0:0:0:0:0:1"):
        assert_locked(server, spelling)


def test_an_ipv4_mapped_ipv6_address_is_its_ipv4_address(server):
    fail_from(server, ["::ffff:203.0.113.7", "203.0.113.7", "::FFFF:203.0.113.7"])

    for spelling in ("203.0.113.7", "::ffff:203.0.113.7", "::ffff:cb00:7107"):
        assert_locked(server, spelling)
    assert_not_locked(server, "203.0.113.8")  # IPv4 addresses count one by one


def test_two_ipv6_addresses_in_one_64_share_a_counter_two_64s_do_not(server):
    fail_from(server, ["2001:db8:0:5::1", "2001:db8:0:5::ffff:1", "2001:db8:0:5:ffff:ffff:ffff:ffff"])

    assert_locked(server, "2001:db8:0:5::1")
    assert_locked(server, "2001:db8:0:5:1234::abcd")
    assert_not_locked(server, "2001:db8:0:6::1")
    assert_not_locked(server, "2001:db8:0:4:ffff:ffff:ffff:ffff")


def test_values_that_are_not_addresses_are_counted_whole(server):
    """Two 9 KB values that differ only in their last byte are two counters."""
    first = NOT_ADDRESS + "x" * (KEY_SIZE - len(NOT_ADDRESS) - 1) + "a"
    second = NOT_ADDRESS + "x" * (KEY_SIZE - len(NOT_ADDRESS) - 1) + "b"
    fail_from(server, [first] * CANON_FAILURES)

    assert_locked(server, first)
    assert_not_locked(server, second)


# The attack: 10 000 locked 9 KB keys


@pytest.fixture(scope="module")
def attack(server):
    """Warms up, then fills attack.localhost's table with TABLE_SIZE locked keys: BATCH IPv4
    addresses and BATCH 9 KB keys while it is (nearly) empty, then 9 KB keys up to TABLE_SIZE.
    Then BATCH more of each kind, from new keys, against the full table: TABLE_SIZE 9 KB keys in
    all. Measures Prosody's CPU for each batch, and its RSS before and after."""
    pid = prosody_pid(server)
    warm, _ = blast(server, failures(WARM, map(key, range(BATCH))))
    assert set(warm) == {401}, set(warm)
    time.sleep(0.5)
    f = {"rss_before": rss_bytes(pid), "started": time.monotonic()}

    def batch(name, keys):
        f[name], f[name + "_cpu"] = measured(server, pid, ATTACK, keys)

    batch("empty_short", map(address, range(BATCH)))
    batch("empty", map(key, range(BATCH)))
    fill = failures(ATTACK, map(key, range(BATCH, TABLE_SIZE - BATCH)))
    f["fill"], f["fill_seconds"] = blast(server, fill, deadline_seconds=WINDOW - 15)
    batch("full_short", map(address, range(BATCH, 2 * BATCH)))
    batch("full", map(key, range(TABLE_SIZE - BATCH, TABLE_SIZE)))
    f["seconds"] = time.monotonic() - f["started"]
    f["rss_after"] = rss_bytes(pid)
    print("\nlockout attack:", {k: round(v, 3) for k, v in f.items() if not isinstance(v, list)})
    return f


def per_request(attack, batch):
    return attack[batch + "_cpu"] / max(len(attack[batch]), 1)


def test_after_10000_locked_addresses_a_fresh_one_is_still_counted_and_locked(server, attack):
    assert time.monotonic() - attack["started"] < WINDOW - 5, "too slow: the first lockouts have ended"
    filled = sum(len(attack[b]) for b in ("empty_short", "empty", "fill"))
    assert filled == TABLE_SIZE, f"the fill was cut short at {filled}"

    for fresh in ("192.0.2.77", key(TABLE_SIZE + 1)):
        assert_json(post(server, ATTACK, fresh, "Bearer wrong"), 401, "not-authorized")
        assert_locked(server, fresh, host=ATTACK)

    # ...and the flood did not lift the lockouts of the most recent attackers
    for recent in (key(TABLE_SIZE // 2), key(TABLE_SIZE - 1), address(2 * BATCH - 1)):
        assert_locked(server, recent, host=ATTACK)


def test_every_request_of_the_attack_was_answered_401_and_nothing_logged_an_error(server, attack):
    for batch in ("empty_short", "empty", "fill", "full_short", "full"):
        statuses = attack[batch]
        assert set(statuses) == {401}, (batch, {s: statuses.count(s) for s in set(statuses)})
        assert len(statuses) == (TABLE_SIZE - 2 * BATCH if batch == "fill" else BATCH), (
            f"{batch} was cut short by its deadline")
    errors = [line for line in server.log().splitlines() if "\terror\t" in line]
    assert not errors, errors[:5]


def test_10000_keys_of_9_kb_grow_prosody_rss_by_a_few_mib_at_most(attack):
    growth = attack["rss_after"] - attack["rss_before"]
    assert growth <= RSS_GROWTH_LIMIT, f"RSS grew by {growth / 2**20:.1f} MiB"


@pytest.mark.parametrize("kind", ["9 KB keys", "IPv4 addresses"])
def test_cpu_per_401_with_a_full_table_is_at_most_twice_that_with_an_empty_one(attack, kind):
    suffix = "" if kind == "9 KB keys" else "_short"
    empty, full = per_request(attack, "empty" + suffix), per_request(attack, "full" + suffix)
    assert full <= CPU_RATIO_LIMIT * empty + CPU_SLACK, (
        f"Prosody CPU per 401 from new {kind}: {full * 1e6:.0f} us with the table full, "
        f"{empty * 1e6:.0f} us with it empty")
