"""405 method-not-allowed (with Allow: POST), OPTIONS on 0.12, and no CORS headers."""

import re

import pytest

from support import TOKEN, assert_json, assert_still_there, is_module_json, join

METHODS = ["GET", "HEAD", "PUT", "DELETE", "PATCH", "TRACE"]
AUTH = {"no Authorization": None, "valid Authorization": TOKEN, "wrong Authorization": "Bearer no"}


@pytest.mark.parametrize("auth", AUTH.values(), ids=AUTH.keys())
@pytest.mark.parametrize("method", METHODS)
def test_other_methods_are_405_method_not_allowed_with_allow_post(api, method, auth):
    response = api.call(method, b'{"muc": "x@muc.localhost", "nickname": "x"}', token=auth)

    assert response.status == 405, response
    assert response.header("allow") == "POST"
    assert response.header("www-authenticate") is None
    if method == "HEAD":
        assert response.body == ""
        assert (response.header("content-type") or "").split(";")[0] == "application/json"
    else:
        assert_json(response, 405, "method-not-allowed")


def test_405_on_a_room_with_occupants_kicks_nobody(api, xmpp, bob, new_room):
    room = new_room()
    join(xmpp, bob, room, "Bob")
    body = {"muc": room, "nickname": "Bob"}
    for method in METHODS:
        assert api.call(method, body).status == 405
    assert_still_there(api, xmpp, bob, room, "Bob")


def _prosody_major(server):
    match = re.search(r"Prosody version (\d+)\.", server.log())
    assert match, "no version line in the log"
    return int(match.group(1))


def test_options_is_left_to_prosody_on_0_12_and_405_on_13(api, server):
    response = api.call("OPTIONS")
    if _prosody_major(server) >= 13:
        assert_json(response, 405, "method-not-allowed")
    else:
        assert response.status != 405
        assert not is_module_json(response)


# (method, body, Authorization, expected status; None: whatever Prosody answers)
CORS_REQUESTS = {
    "POST 401": ("POST", b"{}", "Bearer no", 401),
    "POST 404": ("POST", b'{"muc": "x@muc.localhost", "nickname": "x"}', TOKEN, 404),
    "POST 400": ("POST", b"nope", TOKEN, 400),
    "GET 405": ("GET", b"", TOKEN, 405),
    "OPTIONS preflight": ("OPTIONS", b"", None, None),
}
ORIGIN = {"Origin": "https://browser.example", "Access-Control-Request-Method": "POST",
          "Access-Control-Request-Headers": "authorization, content-type"}


def assert_no_cors(response):
    cors = [name for name in response.headers if name.startswith("access-control-")]
    assert cors == [], response.headers


def test_a_kick_from_a_browser_origin_gets_no_cors_headers(api, xmpp, bob, new_room):
    room = new_room()
    join(xmpp, bob, room, "Bob")
    response = api.post({"muc": room, "nickname": "Bob"}, headers=ORIGIN)
    assert_json(response, 200)
    assert_no_cors(response)


@pytest.mark.parametrize("case", CORS_REQUESTS.keys())
def test_refusals_to_a_browser_origin_get_no_cors_headers(api, case):
    method, body, token, status = CORS_REQUESTS[case]
    response = api.call(method, body, token=token, headers=ORIGIN)
    if status is not None:
        assert response.status == status, response
    assert_no_cors(response)
