"""SPEC's edges: 411 for chunked bodies, values refused at load, the scheme announced for odd
values, a value configured twice, whole-number floats, and persistent rooms of other hosts."""

import http.client
import json
import os
import re
import time

import pytest

from harness import Response
from support import (DUP, DUP_TOKEN, FLOATS, FLOATS_BODY_SIZE, FLOATS_FAILURES, FLOATS_TOKEN, MUC,
                     ODD, ODD_TOKENS, OTHER, PERSIST, PERSIST_TOKEN, REFUSED, REFUSED_NUMBERS,
                     REFUSED_NUMBERS_TOKEN, REFUSED_SECRETS, SECRETS, SMALL, SMALL_FAILURES,
                     SMALL_LIMIT, SMALL_TOKEN, TOKEN, assert_json, assert_still_there,
                     is_module_json, join, kick_presences, log_entries)


def post_chunked(server, ip, body, token, host=MUC, chunk_size=16):
    """A POST whose body goes out with Transfer-Encoding: chunked (no Content-Length)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=15)
    try:
        conn.putrequest("POST", "/muc_kick", skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        conn.putheader("X-Forwarded-For", ip)
        if token is not None:
            conn.putheader("Authorization", token)
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for start in range(0, len(body), chunk_size):
            chunk = body[start:start + chunk_size]
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.send(b"0\r\n\r\n")
        r = conn.getresponse()
        response = Response(r.status, {k.lower(): v for k, v in r.getheaders()},
                            r.read().decode("utf-8", "replace"))
    finally:
        conn.close()
    for secret in SECRETS:
        assert secret not in response.body and secret not in str(response.headers), response
    return response


def kick_body(room, nick):
    return json.dumps({"muc": room, "nickname": nick}).encode()


# 411 length-required: Prosody does not read chunked request bodies


def test_chunked_body_with_the_right_secret_is_411_length_required_and_kicks_nobody(
        server, api, xmpp, bob, new_room):
    room = new_room()
    join(xmpp, bob, room, "Bob")

    response = post_chunked(server, api.ip, kick_body(room, "Bob"), TOKEN)

    assert_json(response, 411, "length-required")
    assert set(response.json()) == {"error", "condition"}, response
    assert kick_presences(bob, room, "Bob") == []
    assert_still_there(api, xmpp, bob, room, "Bob")


@pytest.mark.parametrize("token", [None, "Bearer wrong"], ids=["no Authorization", "wrong secret"])
def test_chunked_body_from_an_unauthorised_caller_is_401_not_411(server, api, xmpp, bob, new_room, token):
    room = new_room()
    join(xmpp, bob, room, "Bob")

    response = post_chunked(server, api.ip, kick_body(room, "Bob"), token)

    assert_json(response, 401, "not-authorized")
    assert response.header("www-authenticate") == f'Bearer realm="{MUC}"'
    assert kick_presences(bob, room, "Bob") == []
    assert_still_there(api, xmpp, bob, room, "Bob")


@pytest.mark.parametrize("size", [0, SMALL_LIMIT, SMALL_LIMIT + 1, 10 * SMALL_LIMIT],
                         ids=["empty", "at the limit", "over the limit", "far over the limit"])
def test_chunked_body_of_any_size_is_411(server, api, size):
    body = b" " * size
    assert_json(post_chunked(server, api.ip, body, SMALL_TOKEN, host=SMALL), 411, "length-required")


def test_chunked_body_from_a_locked_out_caller_is_429_not_411(server, api):
    for _ in range(SMALL_FAILURES):
        response = api.post({"muc": f"x@{SMALL}", "nickname": "x"}, token="Bearer wrong", host=SMALL)
        assert_json(response, 401, "not-authorized")

    response = post_chunked(server, api.ip, kick_body(f"x@{SMALL}", "x"), SMALL_TOKEN, host=SMALL)

    assert_json(response, 429, "too-many-requests")


def test_chunked_411_is_not_a_failed_authorization(server, api):
    for _ in range(SMALL_FAILURES + 2):
        response = post_chunked(server, api.ip, kick_body(f"x@{SMALL}", "x"), SMALL_TOKEN, host=SMALL)
        assert_json(response, 411, "length-required")
    assert_json(api.post({"muc": f"x@{SMALL}", "nickname": "x"}, token=SMALL_TOKEN, host=SMALL),
                404, "item-not-found")


# Values refused at load: a configured Authorization value ending in white space


TRAILING = [host for host in REFUSED if host.startswith("refuse-trailing-")]


@pytest.mark.parametrize("host", TRAILING)
def test_a_value_ending_in_white_space_is_refused_at_load_without_logging_it(server, api, host):
    errors = [e for e in log_entries(server)
              if e[1] == "error" and "http_muc_kick_authorization_header" in e[2]
              and (host in e[0] or host in e[2])]
    assert errors, f"no error line naming http_muc_kick_authorization_header for {host}"
    log = server.log()
    for secret in REFUSED_SECRETS:
        assert secret not in log, f"{secret!r} is in the log"
    for token in (None, "Bearer refused-three-s3cret ", "Bearer refused-three-s3cret",
                  "Bearer refused-ok-s3cret"):
        response = api.post({"muc": f"room@{host}", "nickname": "x"}, token=token, host=host)
        assert not is_module_json(response), response


# Numeric options: a whole-number float is that number; anything else is refused at load


def test_whole_number_float_options_are_enforced_as_those_numbers(api):
    size = FLOATS_BODY_SIZE[1]
    room = f"nowhere@{FLOATS}"
    fields = json.dumps({"muc": room, "nickname": "x"}).encode()

    at_limit = api.post(fields + b" " * (size - len(fields)), token=FLOATS_TOKEN, host=FLOATS)
    over_limit = api.post(fields + b" " * (size + 1 - len(fields)), token=FLOATS_TOKEN, host=FLOATS)

    assert_json(at_limit, 404, "item-not-found")  # read: a body of exactly the limit
    assert_json(over_limit, 413, "payload-too-large")
    for _ in range(FLOATS_FAILURES[1]):
        assert_json(api.post({"muc": room, "nickname": "x"}, token="Bearer wrong", host=FLOATS),
                    401, "not-authorized")
    assert_json(api.post({"muc": room, "nickname": "x"}, token=FLOATS_TOKEN, host=FLOATS),
                429, "too-many-requests")


@pytest.mark.parametrize("host", REFUSED_NUMBERS.keys(),
                         ids=[f"{o} = {v}" for o, v in REFUSED_NUMBERS.values()])
def test_a_numeric_option_that_is_not_a_whole_number_is_refused_at_load_naming_it(server, api, host):
    option = REFUSED_NUMBERS[host][0]
    errors = [e for e in log_entries(server)
              if e[1] == "error" and option in e[2] and (host in e[0] or host in e[2])]
    assert errors, f"no error line naming {option} for {host}"
    response = api.post({"muc": f"room@{host}", "nickname": "x"}, token=REFUSED_NUMBERS_TOKEN, host=host)
    assert not is_module_json(response), response


# WWW-Authenticate: a value whose first word is not an HTTP token is announced as Bearer


def test_a_first_word_that_is_not_a_token_is_announced_as_bearer_never_as_itself(api):
    response = api.post({"muc": f"nowhere@{ODD}", "nickname": "x"}, token="Bearer wrong", host=ODD)

    assert_json(response, 401, "not-authorized")
    header = response.header("www-authenticate")
    challenges = re.findall(r'(\S+) realm="([^"]*)"', header)
    assert sorted(challenges) == [("Basic", ODD), ("Bearer", ODD)], header
    for token in ODD_TOKENS:
        for word in token.split(" "):
            if word != "Basic":
                assert word not in header, f"{word!r} of a configured value is announced: {header}"


@pytest.mark.parametrize("token", ODD_TOKENS)
def test_values_whose_first_word_is_not_a_token_are_accepted(api, token):
    response = api.post({"muc": f"nowhere@{ODD}", "nickname": "x"}, token=token, host=ODD)
    assert_json(response, 404, "item-not-found")


# A value configured twice


def test_a_value_configured_twice_is_accepted_and_announced_once(api):
    body = {"muc": f"nowhere@{DUP}", "nickname": "x"}

    assert_json(api.post(body, token=DUP_TOKEN, host=DUP), 404, "item-not-found")

    refused = api.post(body, token="Bearer wrong", host=DUP)
    assert_json(refused, 401, "not-authorized")
    assert refused.header("www-authenticate") == f'Bearer realm="{DUP}"'
    assert_json(api.post(body, token=DUP_TOKEN, host=DUP), 404, "item-not-found")


# A muc on another host never reaches this component's persistent rooms (mod_muc restores
# persistent rooms by node alone: foo@other.host would restore this component's foo).


async def set_subject(client, room, subject):
    client.send_message(mto=room, mbody=None, msubject=subject, mtype="groupchat")


def stored_path(server, host, store, key):
    """Where Prosody's internal storage keeps `key` (datamanager escapes every non-alphanumeric)."""
    def escape(text):
        return re.sub(r"[^A-Za-z0-9]", lambda m: "%%%02x" % ord(m.group()), text)
    return os.path.join(server.dir, "data", escape(host), store, escape(key) + ".dat")


def wait_for_file(path, timeout=5):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    return os.path.exists(path)


def test_a_persistent_room_is_not_reached_through_a_muc_on_another_host(server, api, xmpp, bob, new_room):
    room = new_room(PERSIST)
    node = room.split("@")[0]
    join(xmpp, bob, room, "Bob")
    # a persistent room is stored when its configuration or subject changes
    xmpp.run(set_subject(bob, room, "kept"))
    stored = stored_path(server, PERSIST, "config", node)
    assert wait_for_file(stored), "the room is not in storage: this test would prove nothing"

    for host in (MUC, OTHER, "localhost", "elsewhere.example"):
        response = api.post({"muc": f"{node}@{host}", "nickname": "Bob"}, token=PERSIST_TOKEN, host=PERSIST)
        assert_json(response, 404, "item-not-found")
        response = api.post({"muc": f"{node}@{host}", "jid": "bob@localhost"}, token=PERSIST_TOKEN,
                            host=PERSIST)
        assert_json(response, 404, "item-not-found")

    assert kick_presences(bob, room, "Bob") == []
    # the live room is the one Bob is in: a kick through its own JID finds him
    assert_still_there(api, xmpp, bob, room, "Bob", host=PERSIST, token=PERSIST_TOKEN)
