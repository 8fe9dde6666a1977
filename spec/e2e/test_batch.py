"""Several targets (SPEC: "Seeing and reconciling", "Several targets"): `nickname` or `jid` as an
array of 1 to 100 strings in kick, ban, unban and every room. All or nothing validation (a 400
names the field and the item's index, nothing happens), then each target as its single form in
order, a repeated one done once; 200 {"muc", "results": [...]} even when every item was refused,
404 only for a missing room, 500 for a fault part-way with a log line naming what was done.

On a Prosody of this file's own (module scope): batch.localhost with the module, and
braise.localhost where another module's hook raises on every leave. Every test logs in fresh
sessions.
"""

import itertools
import re
import time
from datetime import datetime, timezone

import pytest

from harness import has_status, kick_details, muc_user
from test_every_room import cpu, log_level
from test_operations import kicked_total, requests_total, scrape
from support import assert_json, join, kick_presences, log_entries, serve, wait_kick

BATCH = "batch.localhost"
RAISING = "braise.localhost"
TOKEN = "Bearer batch-s3cret"
USERS = (("alice", "alice-pw"), ("bob", "bob-pw"), ("carol", "carol-pw"))
NOT_FOUND = {"status": 404, "condition": "item-not-found", "error": "No such occupant in the room"}
NOT_BANNED = {"status": 404, "condition": "item-not-found", "error": "That account is not banned in the room"}

COMPONENTS = f'''
Component "{BATCH}" "muc"
    modules_enabled = {{ "http_muc_kick" }}
    muc_room_locking = false
    http_muc_kick_authorization_header = "{TOKEN}"

Component "{RAISING}" "muc"
    modules_enabled = {{ "http_muc_kick", "e2e_raise_on_leave" }}
    muc_room_locking = false
    http_muc_kick_authorization_header = "{TOKEN}"
'''


@pytest.fixture(scope="module")
def server():
    yield from serve(COMPONENTS, USERS)


@pytest.fixture
def post(api):
    def send(body, host=BATCH):
        return api.post(body, token=TOKEN, host=host)
    return send


_rooms = itertools.count(1)


def new_room(host=BATCH):
    return f"b{next(_rooms)}@{host}"


def still_there(post, xmpp, client, room, nick):
    """nick was still in room: a kick now finds it (and it is its only kick)."""
    assert assert_json(post({"muc": room, "nickname": nick}), 200) == {"muc": room, "kicked": [nick]}
    wait_kick(xmpp, client, room, nick)
    assert len(kick_presences(client, room, nick)) == 1


def test_kick_by_nicknames_each_in_order_missing_ones_refused_a_repeat_done_once(connect, post, xmpp):
    room = new_room()
    alice, bob, carol = connect("alice"), connect("bob", "phone"), connect("carol")
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")
    join(xmpp, carol, room, "Carol")

    # fullwidth Ｂob is Bob after resourceprep: the same target, done once
    response = post({"muc": room, "nickname": ["Bob", "Nobody", "Carol", "Ｂob", "Bob"], "reason": "cleanup"})

    assert assert_json(response, 200) == {"muc": room, "results": [
        {"nickname": "Bob", "kicked": ["Bob"]},
        {"nickname": "Nobody", "error": NOT_FOUND},
        {"nickname": "Carol", "kicked": ["Carol"]},
        {"nickname": "Ｂob", "kicked": ["Bob"]},
        {"nickname": "Bob", "kicked": ["Bob"]},
    ]}
    for client, nick in ((bob, "Bob"), (carol, "Carol")):
        for seen_by in (client, alice):
            presence = wait_kick(xmpp, seen_by, room, nick)
            assert kick_details(presence)[:2] == ("none", "cleanup")
    time.sleep(0.2)
    assert len(kick_presences(alice, room, "Bob")) == 1
    still_there(post, xmpp, alice, room, "Alice")


def test_kick_by_jids_every_session_missing_refused_repeat_after_preparation_done_once(connect, post, xmpp):
    room = new_room()
    alice, phone, laptop = connect("alice"), connect("bob", "phone"), connect("bob", "laptop")
    join(xmpp, alice, room, "Alice")
    join(xmpp, phone, room, "BobP")
    join(xmpp, laptop, room, "BobL")

    response = post({"muc": room, "jid": ["bob@localhost", "carol@localhost", "BOB@LOCALHOST"]})

    body = assert_json(response, 200)
    assert body["muc"] == room
    results = body["results"]
    assert [r["jid"] for r in results] == ["bob@localhost", "carol@localhost", "BOB@LOCALHOST"]
    assert sorted(results[0]["kicked"]) == ["BobL", "BobP"] and list(results[0]) == ["jid", "kicked"]
    assert results[1] == {"jid": "carol@localhost", "error": NOT_FOUND}
    assert results[2] == {"jid": "BOB@LOCALHOST", "kicked": results[0]["kicked"]}
    wait_kick(xmpp, alice, room, "BobP")
    wait_kick(xmpp, alice, room, "BobL")
    time.sleep(0.2)
    assert len(kick_presences(alice, room, "BobP")) == 1
    still_there(post, xmpp, alice, room, "Alice")


def test_ban_by_nicknames_bans_each_with_until_and_refuses_the_missing(connect, post, xmpp):
    room = new_room()
    alice, bob = connect("alice"), connect("bob", "phone")
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")
    before = int(time.time())

    response = post({"muc": room, "nickname": ["Bob", "Nobody", "Bob"], "ban": 3600, "reason": "spam"})

    body = assert_json(response, 200)
    assert body["muc"] == room
    first, missing, again = body["results"]
    assert list(first) == ["nickname", "kicked", "banned", "until"], first
    assert first["kicked"] == ["Bob"] and first["banned"] == "bob@localhost"
    until = datetime.strptime(first["until"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    assert before + 3600 <= until <= time.time() + 3600
    assert missing == {"nickname": "Nobody", "error": NOT_FOUND}
    assert again == first
    banned = xmpp.run(alice.wait_for(lambda p: p.get("from") == f"{room}/Bob" and p.get("type") == "unavailable"
                                     and has_status(p, "301")))
    assert muc_user(banned) is not None


def test_ban_by_jids_until_lifted_and_unban_by_jids_each_as_its_single_form(connect, post, xmpp):
    room = new_room()
    alice, bob = connect("alice"), connect("bob", "phone")
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")

    response = post({"muc": room, "jid": ["bob@localhost", "carol@localhost"], "ban": True})

    assert assert_json(response, 200) == {"muc": room, "results": [
        {"jid": "bob@localhost", "kicked": ["Bob"], "banned": "bob@localhost", "until": None},
        {"jid": "carol@localhost", "kicked": [], "banned": "carol@localhost", "until": None},
    ]}

    response = post({"muc": room, "jid": ["bob@localhost", "alice@localhost", "BOB@localhost", "carol@localhost"],
                     "unban": True})

    assert assert_json(response, 200) == {"muc": room, "results": [
        {"jid": "bob@localhost", "unbanned": "bob@localhost"},
        {"jid": "alice@localhost", "error": NOT_BANNED},
        {"jid": "BOB@localhost", "unbanned": "bob@localhost"},
        {"jid": "carol@localhost", "unbanned": "carol@localhost"},
    ]}
    join(xmpp, bob, room, "Bob")  # let back in


def test_every_room_by_jids_has_results_without_muc(connect, post, xmpp):
    a, b = new_room(), new_room()
    alice, bob, carol = connect("alice"), connect("bob", "phone"), connect("carol")
    for room in (a, b):
        join(xmpp, alice, room, "Alice")
        join(xmpp, bob, room, "Bob")
    join(xmpp, carol, a, "Carol")

    response = post({"jid": ["bob@localhost", "nobody@localhost", "Bob@localhost", "carol@localhost/home"],
                     "reason": "closed"})

    body = assert_json(response, 200)
    assert list(body) == ["results"], body
    bob_result, nobody, again, carol_result = body["results"]
    assert bob_result["jid"] == "bob@localhost" and list(bob_result) == ["jid", "rooms"]
    assert sorted((r["muc"], r["kicked"]) for r in bob_result["rooms"]) == sorted([(a, ["Bob"]), (b, ["Bob"])])
    assert nobody == {"jid": "nobody@localhost", "error": NOT_FOUND}
    assert again == {"jid": "Bob@localhost", "rooms": bob_result["rooms"]}
    assert carol_result["jid"] == "carol@localhost/home"
    assert "rooms" in carol_result or "error" in carol_result
    for room in (a, b):
        assert kick_details(wait_kick(xmpp, alice, room, "Bob"))[:2] == ("none", "closed")


@pytest.mark.parametrize("bad", [0, 2, 4])
def test_an_invalid_item_anywhere_is_400_naming_it_and_nothing_happens(connect, post, xmpp, bad):
    room = new_room()
    alice, bob = connect("alice"), connect("bob", "phone")
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")
    nicknames = ["Bob", "Alice", "Bob", "Alice", "Bob"]
    nicknames[bad] = ""

    response = post({"muc": room, "nickname": nicknames})

    body = assert_json(response, 400, "bad-request")
    assert f"nickname[{bad}]" in body["error"], body
    still_there(post, xmpp, alice, room, "Bob")
    still_there(post, xmpp, alice, room, "Alice")


@pytest.mark.parametrize("bad", [0, 1, 2])
def test_an_item_prosodys_preparation_refuses_is_400_naming_it_and_nothing_happens(connect, post, xmpp, bad):
    room = new_room()
    alice, bob = connect("alice"), connect("bob", "phone")
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")
    jids = ["bob@localhost", "ålice@localhost", "alice@localhost"]
    jids[bad] = "bob@exa_mple.org"  # a domain IDNA refuses: only Prosody's preparation can tell

    response = post({"muc": room, "jid": jids, "ban": True})

    body = assert_json(response, 400, "bad-request")
    assert body["error"] == (f"Field `jid[{bad}]` is not a valid JID: "
                             "Prosody's JID preparation (RFC 7622) refused it"), body
    still_there(post, xmpp, alice, room, "Bob")


def test_a_jid_on_this_component_is_400_naming_its_index(post):
    response = post({"muc": new_room(), "jid": ["bob@localhost", f"x@{BATCH}"]})
    body = assert_json(response, 400, "bad-request")
    assert body["error"].startswith("Field `jid[1]` is not a valid JID: it is on this component"), body


def test_every_item_refused_is_still_200(connect, post, xmpp):
    room = new_room()
    join(xmpp, connect("alice"), room, "Alice")

    response = post({"muc": room, "nickname": ["Nobody", "Ｎobody", "Else"]})

    assert assert_json(response, 200) == {"muc": room, "results": [
        {"nickname": "Nobody", "error": NOT_FOUND},
        {"nickname": "Ｎobody", "error": NOT_FOUND},
        {"nickname": "Else", "error": NOT_FOUND},
    ]}


@pytest.mark.parametrize("field", ["nickname", "jid"])
def test_a_missing_room_is_404(post, field):
    body = {"muc": f"nowhere{next(_rooms)}@{BATCH}", field: ["Bob@localhost", "a@localhost"]}
    assert assert_json(post(body), 404, "item-not-found") == {
        "error": "No such room on this component", "condition": "item-not-found"}
    assert assert_json(post({**body, "muc": "r@elsewhere.localhost"}), 404, "item-not-found")


def test_a_hundred_targets_are_taken_none_or_more_than_a_hundred_are_400(connect, post, xmpp):
    room = new_room()
    join(xmpp, connect("alice"), room, "Alice")
    nicknames = [f"N{i}" for i in range(100)]

    body = assert_json(post({"muc": room, "nickname": nicknames}), 200)
    assert [r["nickname"] for r in body["results"]] == nicknames
    assert all(r["error"] == NOT_FOUND for r in body["results"])
    for too_many in ([], nicknames + ["N100"]):
        body = assert_json(post({"muc": room, "nickname": too_many}), 400, "bad-request")
        assert body["error"] == "Field `nickname` must be a string, or an array of 1 to 100 strings"


def test_a_fault_part_way_is_500_and_its_log_line_names_what_was_done(connect, api, post, server, xmpp):
    room = new_room(RAISING)
    join(xmpp, connect("bob", "phone"), room, "Bob")

    response = post({"muc": room, "nickname": ["Nobody", "Bob"], "reason": "r"}, host=RAISING)

    assert assert_json(response, 500) == {"error": "Internal error", "condition": "internal-server-error"}
    errors = [e for e in log_entries(server)
              if e[1] == "error" and e[0] == f"{RAISING}:http_muc_kick" and api.ip in e[2]]
    assert len(errors) == 1, errors
    assert 'nickname[0] "Nobody": 404' in errors[0][2], errors[0][2]
    assert "e2e_raise_on_leave: hook raised on purpose" in errors[0][2]


def test_a_batch_counts_as_one_request_each_kick_counted_and_logged(connect, api, post, server, xmpp):
    room = new_room()
    alice, bob, carol = connect("alice"), connect("bob", "phone"), connect("carol")
    join(xmpp, alice, room, "Alice")
    join(xmpp, bob, room, "Bob")
    join(xmpp, carol, room, "Carol")
    before = scrape(server)

    assert assert_json(post({"muc": room, "nickname": ["Bob", "Nobody", "Carol"], "reason": "x"}), 200)

    after = scrape(server)
    assert requests_total(after, BATCH, 200) - requests_total(before, BATCH, 200) == 1
    assert requests_total(after, BATCH, 404) == requests_total(before, BATCH, 404)
    assert (kicked_total(after, BATCH) or 0) - (kicked_total(before, BATCH) or 0) == 2

    kicks = [e for e in log_entries(server) if e[1] == "info" and api.ip in e[2] and e[2].startswith("Kicked ")]
    assert [re.match(r"Kicked (\w+) \((\S+)\) from (\S+),", e[2]).groups() for e in kicks] == [
        ("Bob", "bob@localhost", room), ("Carol", "carol@localhost", room)]


def test_a_fault_during_keep_is_500_and_its_log_line_says_what_was_done(connect, api, post, server, xmpp):
    room = new_room(RAISING)
    join(xmpp, connect("alice"), room, "Alice")

    response = post({"muc": room, "keep": []}, host=RAISING)

    assert assert_json(response, 500) == {"error": "Internal error", "condition": "internal-server-error"}
    errors = [e for e in log_entries(server)
              if e[1] == "error" and e[0] == f"{RAISING}:http_muc_kick" and api.ip in e[2]]
    assert len(errors) == 1, errors
    assert "failed inside the server, after nothing done: " in errors[0][2], errors[0][2]


SINGLES = 200
BATCHES = 10


def test_a_batch_of_100_costs_at_most_100_times_its_single_form(connect, api, post, server, xmpp, capsys):
    """SPEC's cost: Prosody's CPU for a batch of 100 targets (none found: the refusal path, which
    every target of a batch takes) against 100 times that of one such request, at info."""
    room = new_room()
    join(xmpp, connect("alice"), room, "Alice")
    nicknames = [f"Gone{i}" for i in range(100)]
    pid = server.proc.pid
    assert open(f"/proc/{pid}/comm").read().strip().startswith("lua"), "not Prosody's own process"
    log_level(server, "info")
    try:
        before = cpu(pid)
        for i in range(SINGLES):
            assert post({"muc": room, "nickname": nicknames[i % 100]}).status == 404
        single = [(a - b) / SINGLES for a, b in zip(cpu(pid), before)]
        before = cpu(pid)
        for _ in range(BATCHES):
            assert post({"muc": room, "nickname": nicknames}).status == 200
        batch = [(a - b) / BATCHES for a, b in zip(cpu(pid), before)]
    finally:
        log_level(server, "debug")
    with capsys.disabled():
        print(f"\nProsody CPU, ms as utime+stime / run time: one 404 {single[0]:.3f} / {single[1]:.3f}, "
              f"a batch of 100 {batch[0]:.2f} / {batch[1]:.2f}")
    assert batch[1] <= 100 * single[1], (batch, single)
