"""401 not-authorized, 429 too-many-requests, and the order of checks around them."""

import re

import pytest

from support import (MUC, NOLOCK, NOLOCK_TOKEN, SCHEMES, SCHEMES_TOKENS, SMALL, SMALL_FAILURES,
                     SMALL_LIMIT, SMALL_TOKEN, TOKEN, assert_json, assert_still_there, join,
                     kick_presences)

UNAUTHORIZED_BODY = {"error": "Authorization failed", "condition": "not-authorized"}
METHODS = ["GET", "HEAD", "PUT", "DELETE", "PATCH", "TRACE"]

# (id, the Authorization header(s) sent: None for none, a list for the header given twice)
BAD_AUTH = [
    ("missing header", None),
    ("empty value", ""),
    ("wrong value", "Bearer wrong"),
    ("different case of scheme", "bearer s3cret"),
    ("different case of secret", "Bearer S3CRET"),
    ("value with extra suffix", "Bearer s3cret2"),
    ("value with extra words", "Bearer s3cret extra"),
    ("prefix of the value", "Bearer s3cre"),
    ("scheme only", "Bearer"),
    ("secret without scheme", "s3cret"),
    ("other scheme", "Basic s3cret"),
    ("two spaces", "Bearer  s3cret"),
    ("header given twice", [TOKEN, TOKEN]),
]


def _send_auth(api, body, auth, **kwargs):
    if isinstance(auth, list):
        return api.post(body, token=None, headers=[("Authorization", a) for a in auth], **kwargs)
    return api.post(body, token=auth, **kwargs)


def assert_401(response, host=MUC):
    assert assert_json(response, 401, "not-authorized") == UNAUTHORIZED_BODY
    assert response.header("www-authenticate") == f'Bearer realm="{host}"'


@pytest.mark.parametrize("auth", [a for _, a in BAD_AUTH], ids=[i for i, _ in BAD_AUTH])
def test_authorization_not_byte_for_byte_a_configured_value_is_401_and_kicks_nobody(
        api, xmpp, bob, new_room, auth):
    room = new_room()
    join(xmpp, bob, room, "Bob")

    assert_401(_send_auth(api, {"muc": room, "nickname": "Bob"}, auth))

    assert kick_presences(bob, room, "Bob") == []
    assert_still_there(api, xmpp, bob, room, "Bob")


def test_www_authenticate_has_one_challenge_per_distinct_scheme(api):
    response = api.post({"muc": f"nowhere@{SCHEMES}", "nickname": "x"}, token="Bearer no", host=SCHEMES)

    assert_json(response, 401, "not-authorized")
    header = response.header("www-authenticate")
    challenges = re.findall(r'([A-Za-z][\w.-]*) realm="([^"]*)"', header)
    # configured: Basic ..., Bearer ..., a value without a space (announced as Bearer), Bearer ...
    assert sorted(challenges) == [("Basic", SCHEMES), ("Bearer", SCHEMES)], header
    for token in SCHEMES_TOKENS:
        assert token.split(" ")[-1] not in header


@pytest.mark.parametrize("token", SCHEMES_TOKENS, ids=["Basic", "Bearer", "no scheme", "second Bearer"])
def test_every_value_of_a_list_of_several_schemes_is_accepted(api, token):
    response = api.post({"muc": f"nowhere@{SCHEMES}", "nickname": "x"}, token=token, host=SCHEMES)
    assert_json(response, 404, "item-not-found")


def test_bad_body_from_an_unauthorised_caller_is_401_not_400(api):
    assert_401(api.post(b"{not json", token="Bearer wrong"))
    assert_401(api.post(b"[1, 2]", token=None))


def test_unknown_room_from_an_unauthorised_caller_is_401_not_404(api):
    body = {"muc": "no-such-room@muc.localhost", "nickname": "Bob"}
    assert_401(api.post(body, token="Bearer wrong"))
    assert_401(api.post(body, token=None))
    # the same request with the secret is a 404: the 401 hid it
    assert_json(api.post(body), 404, "item-not-found")


def test_unknown_occupant_from_an_unauthorised_caller_is_401_not_404(api, xmpp, alice, new_room):
    room = new_room()
    join(xmpp, alice, room, "Alice")
    assert_401(api.post({"muc": room, "nickname": "Nobody"}, token="Bearer wrong"))


# 429: small.localhost allows SMALL_FAILURES (3) failed authorizations per IP and minute


def _fail(api, times, host=SMALL):
    for _ in range(times):
        assert_401(api.post({"muc": f"x@{host}", "nickname": "x"}, token="Bearer wrong", host=host),
                   host=host)


def assert_429(response):
    assert_json(response, 429, "too-many-requests")
    retry_after = response.header("retry-after")
    assert retry_after is not None and re.fullmatch(r"\d+", retry_after), response.headers
    assert 1 <= int(retry_after) <= 60


def test_after_max_auth_failures_the_next_request_is_429_even_with_the_right_secret(
        api, other_api, xmpp, bob, new_room):
    room = new_room(SMALL, short=True)
    join(xmpp, bob, room, "B")

    _fail(api, SMALL_FAILURES)
    response = api.post({"muc": room, "nickname": "B"}, token=SMALL_TOKEN, host=SMALL)

    assert_429(response)
    assert kick_presences(bob, room, "B") == []
    # a locked-out caller with a wrong token gets 429 too (lockout before Authorization)
    assert_429(api.post({"muc": room, "nickname": "B"}, token="Bearer wrong", host=SMALL))
    # ...and with a bad or oversized body (lockout before body checks)
    assert_429(api.post(b"nope", token=SMALL_TOKEN, host=SMALL))
    assert_429(api.post(b" " * (SMALL_LIMIT + 1), token=SMALL_TOKEN, host=SMALL))
    # Bob was never kicked: from another IP the kick finds him
    assert_still_there(other_api, xmpp, bob, room, "B", host=SMALL, token=SMALL_TOKEN)


def test_lockout_of_one_ip_does_not_affect_another_ip(api, other_api):
    _fail(api, SMALL_FAILURES)
    assert_429(api.post({"muc": f"x@{SMALL}", "nickname": "x"}, token=SMALL_TOKEN, host=SMALL))

    response = other_api.post({"muc": f"x@{SMALL}", "nickname": "x"}, token=SMALL_TOKEN, host=SMALL)
    assert_json(response, 404, "item-not-found")
    # and a failure from that other IP is a plain 401 (its own count starts at zero)
    assert_401(other_api.post({"muc": f"x@{SMALL}", "nickname": "x"}, token="Bearer wrong", host=SMALL),
               host=SMALL)


def test_failures_up_to_the_limit_are_each_401(api):
    _fail(api, SMALL_FAILURES)  # asserts 401 for each of them
    assert_429(api.post({"muc": f"x@{SMALL}", "nickname": "x"}, token="Bearer wrong", host=SMALL))


def test_a_success_does_not_reset_the_failure_count(api):
    body = {"muc": f"x@{SMALL}", "nickname": "x"}
    _fail(api, SMALL_FAILURES - 1)
    assert_json(api.post(body, token=SMALL_TOKEN, host=SMALL), 404, "item-not-found")
    _fail(api, 1)
    assert_429(api.post(body, token=SMALL_TOKEN, host=SMALL))


@pytest.mark.parametrize("method", METHODS)
def test_405_comes_before_429_for_a_locked_out_ip(api, method):
    _fail(api, SMALL_FAILURES)
    response = api.call(method, token=SMALL_TOKEN, host=SMALL)
    assert response.status == 405
    assert response.header("allow") == "POST"


def test_405s_do_not_count_toward_the_lockout(api):
    for method in METHODS:
        for token in (None, "Bearer wrong", SMALL_TOKEN):
            assert api.call(method, token=token, host=SMALL).status == 405
    # 18 405s later, SMALL_FAILURES failures are still allowed
    _fail(api, SMALL_FAILURES)
    assert_429(api.post({"muc": f"x@{SMALL}", "nickname": "x"}, token=SMALL_TOKEN, host=SMALL))


def test_default_max_auth_failures_is_10(api):
    for _ in range(10):
        assert_401(api.post({"muc": "x@muc.localhost", "nickname": "x"}, token="Bearer wrong"))
    assert_429(api.post({"muc": "x@muc.localhost", "nickname": "x"}))


def test_max_auth_failures_0_turns_the_lockout_off(api):
    body = {"muc": f"x@{NOLOCK}", "nickname": "x"}
    for _ in range(15):
        assert_401(api.post(body, token="Bearer wrong", host=NOLOCK), host=NOLOCK)
    assert_json(api.post(body, token=NOLOCK_TOKEN, host=NOLOCK), 404, "item-not-found")
