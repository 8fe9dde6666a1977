"""Operations: metrics, log lines and levels, module:reload, and secrets kept out of the log."""

import re

import pytest

from harness import kick_presence_from
from support import (MUC, REFUSED_SECRETS, SECRETS, SMALL, SMALL_FAILURES, SMALL_LIMIT, SMALL_TOKEN,
                     assert_json, entries_with_ip, join, log_entries, wait_kick)

SOURCE = f"{MUC}:http_muc_kick"


def scrape(server):
    """{(metric name, frozenset of labels): value} from GET /metrics."""
    response = server.request("GET", host="localhost", path="/metrics")
    assert response.status == 200, response
    samples = {}
    for line in response.body.splitlines():
        match = re.match(r"^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$", line)
        if match:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
            samples[(match.group(1), labels)] = float(match.group(3))
    return samples


def requests_total(samples, host, status):
    key = ("prosody_mod_http_muc_kick__requests_total",
           frozenset({("host", host), ("status", str(status))}))
    return samples.get(key, 0.0)


def kicked_total(samples, host):
    """The module's other counter (occupants kicked) for `host`, whatever its exact name."""
    found = [value for (name, labels), value in samples.items()
             if name.startswith("prosody_mod_http_muc_kick__") and name.endswith("_total")
             and "kick" in name.split("__", 1)[1] and not name.endswith("__requests_total")
             and ("host", host) in labels]
    assert len(found) <= 1, found
    return found[0] if found else None


def test_metrics_count_requests_by_status(server, api):
    before = scrape(server)
    for n in range(3):
        assert_json(api.post({"muc": f"metrics-{n}-{api.ip}@muc.localhost", "nickname": "x"}), 404)
    assert_json(api.post({"muc": "x@muc.localhost", "nickname": "x"}, token="Bearer no"), 401)
    after = scrape(server)

    assert requests_total(after, MUC, 404) >= requests_total(before, MUC, 404) + 3
    assert requests_total(after, MUC, 401) >= requests_total(before, MUC, 401) + 1
    line = f'prosody_mod_http_muc_kick__requests_total{{host="{MUC}",status="404"}}'
    body = server.request("GET", host="localhost", path="/metrics").body
    assert re.search(re.escape(line) + r" (\d+)", body), "no 404 requests sample for muc.localhost"


def test_metrics_count_kicked_occupants(server, api, xmpp, bob, bob_laptop, new_room):
    room = new_room()
    join(xmpp, bob, room, "BobPhone")
    join(xmpp, bob_laptop, room, "BobLaptop")
    before = scrape(server)

    assert_json(api.post({"muc": room, "jid": "bob@localhost"}), 200)
    after = scrape(server)

    assert kicked_total(after, MUC) is not None, "no kicked-occupants counter for muc.localhost"
    assert kicked_total(after, MUC) >= (kicked_total(before, MUC) or 0) + 2
    assert requests_total(after, MUC, 200) >= requests_total(before, MUC, 200) + 1


def test_a_kick_is_logged_at_info_with_room_nick_real_jid_reason_and_caller_ip(
        server, api, xmpp, bob, new_room):
    room = new_room()
    join(xmpp, bob, room, "Bob")
    reason = "posting links to a phishing site"

    assert_json(api.post({"muc": room, "nickname": "Bob", "reason": reason}), 200)

    lines = entries_with_ip(server, api.ip, SOURCE)
    kicks = [e for e in lines if room in e[2]]
    assert len(kicks) == 1, lines
    source, level, message = kicks[0]
    assert level == "info"
    for part in ("Bob", "bob@localhost", reason):
        assert part in message, (part, message)
    wait_kick(xmpp, bob, room, "Bob")


def _refusal(api, status):
    small = {"token": SMALL_TOKEN, "host": SMALL}
    if status == 400:
        return api.post(b"not json")
    if status == 401:
        return api.post({"muc": "x@muc.localhost", "nickname": "x"}, token="Bearer no")
    if status == 404:
        return api.post({"muc": "no-such-room@muc.localhost", "nickname": "x"})
    if status == 405:
        return api.call("GET")
    if status == 413:
        return api.post(b" " * (SMALL_LIMIT + 1), **small)
    if status == 429:
        for _ in range(SMALL_FAILURES):
            assert api.post(b"{}", token="Bearer no", host=SMALL).status == 401
        return api.post(b"{}", **small)
    raise AssertionError(status)


@pytest.mark.parametrize("status,level", [
    (401, "warn"), (429, "warn"), (400, "info"), (404, "info"), (405, "info"), (413, "info")])
def test_refusal_is_logged_with_the_caller_ip_at_its_level(server, api, status, level):
    response = _refusal(api, status)
    assert response.status == status, response

    lines = [e for e in entries_with_ip(server, api.ip) if e[0].endswith(":http_muc_kick")]
    last = lines[-1] if lines else None
    assert last is not None, f"no log line with {api.ip}"
    assert last[1] == level, last
    # every line about this caller is at the expected level (the 429 test's 401s are warn too)
    assert {e[1] for e in lines} == {level}, lines


def test_the_logged_ip_is_the_forwarded_one_not_the_proxy(server, api):
    assert_json(api.post({"muc": "no-such@muc.localhost", "nickname": "x"}), 404)
    assert entries_with_ip(server, api.ip, SOURCE), "the X-Forwarded-For address is not logged"


@pytest.mark.run_last(1)
def test_module_reload_works_twice_in_a_row_and_the_endpoint_still_kicks(
        server, api, xmpp, alice, bob, new_room):
    logged_before = len(log_entries(server))
    for _ in range(2):
        output = server.shell(f"module:reload('http_muc_kick', '{MUC}')")
        assert re.search(r"reloaded", output, re.IGNORECASE), output
        assert "error" not in output.lower(), output

    room = new_room()
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")
    response = api.post({"muc": room, "nickname": "Bob", "reason": "after reload"})
    assert assert_json(response, 200) == {"muc": room, "kicked": ["Bob"]}
    xmpp.run(alice.wait_for(kick_presence_from(f"{room}/Bob")))
    # the rest of the route survived too
    assert api.call("GET").status == 405
    unauthorized = api.post({"muc": room, "nickname": "Alice"}, token="Bearer no")
    assert unauthorized.status == 401 and unauthorized.header("www-authenticate") == f'Bearer realm="{MUC}"'

    since = log_entries(server)[logged_before:]
    assert not [e for e in since if e[1] == "error"], since
    assert "table index is nil" not in "\n".join(e[2] for e in since)


@pytest.mark.run_last(2)
def test_configured_secrets_never_appear_in_the_log(server):
    """Runs last: by now the log holds every request of the suite and two reloads."""
    log = server.log()
    assert "http_muc_kick" in log  # the log is the one we think
    for secret in SECRETS + REFUSED_SECRETS:
        assert secret not in log, f"{secret!r} is in the log"
    for secret in SECRETS:
        token = secret.split(" ")[-1]
        assert token not in log, f"the secret part of {secret!r} is in the log"


def test_a_long_caller_address_is_cut_after_100_bytes_in_refusal_lines(server, api):
    # A trusted proxy passes any X-Forwarded-For text; 9 KB of it on every warn line would flood
    # the log. (Prosody 13.0.2+ passes it only when it begins with an address: a bracketed IPv6.)
    address = "[2001:db8::]proxy-said-" + "x" * 5000 + "-end"
    assert_json(api.post({}, token="Bearer wrong", ip=address), 401)
    lines = [e for e in log_entries(server) if e[0] == SOURCE and address[:100] in e[2]]
    assert len(lines) == 1, lines
    assert lines[0][1] == "warn"
    assert address[:100] + "..." in lines[0][2]
    assert address[:101] not in lines[0][2]
