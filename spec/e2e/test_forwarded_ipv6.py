"""What the failure lockout counts for a caller behind a trusted proxy, per Prosody version
(SPEC: "Where it runs"), on a Prosody of its own with IPv6 proxies in `trusted_proxies`.

The module counts `request.ip`; Prosody's mod_http makes it from `X-Forwarded-For`. Read in each
version's mod_http.lua and seen here:
- On every version the caller's own entry reaches the module as written: unbracketed
  `2001:db8::1` (counted per /64), bracketed `[2001:db8::1]` with its brackets (not an address to
  the module: counted by its exact text).
- Which hops of the chain are trusted proxies differs. 13.0.1 checks an entry against
  `trusted_proxies` after cutting it with `^([%d.]+)`, which leaves `2001` of an unbracketed
  `2001:db8:ffff::5`: an IPv6 proxy written unbracketed is never trusted, so every caller behind it
  counts as that proxy (one counter for all). Its bracketed form is trusted. 0.12 compares the
  entry as written: unbracketed trusted, bracketed not. Later 13.0.x (13.0.8 here) trust both.
- Later 13.0.x also drop an entry that is no address at all (with a `warn`): the request counts
  as the proxy that sent it. 0.12 and 13.0.1 pass such text on, counted by its digest.
"""

import os
import re
import shutil
import tempfile

import pytest

from harness import Prosody
from support import PLUGIN_DIR, assert_json

HOST = "forwarded.localhost"   # max_auth_failures 1: one failure locks an address
TOKEN = "Bearer forwarded-s3cret"
PROXY = "2001:db8:ffff::5"     # a trusted IPv6 proxy, written unbracketed in the chain
BRACKETED_PROXY = "2001:db8:fffe::5"  # another, written [bracketed] in the chain


@pytest.fixture(scope="module")
def server():
    if not os.path.exists(os.path.join(PLUGIN_DIR, "mod_http_muc_kick", "mod_http_muc_kick.lua")):
        pytest.exit(f"{PLUGIN_DIR} has no mod_http_muc_kick: run `make stage` first", returncode=2)
    directory = tempfile.mkdtemp(prefix="http_muc_kick_forwarded.")
    prosody = Prosody(PLUGIN_DIR, f'''
Component "{HOST}" "muc"
    modules_enabled = {{ "http_muc_kick" }}
    http_muc_kick_authorization_header = "{TOKEN}"
    http_muc_kick_max_auth_failures = 1
''', extra_global=f'trusted_proxies = {{ "127.0.0.1", "::1", "{PROXY}", "{BRACKETED_PROXY}" }}',
        keep_dir=directory)
    try:
        yield prosody
    finally:
        prosody.cleanup()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="module")
def version(server):
    """(major, minor, patch) of the Prosody under test, from its startup line."""
    match = re.search(r"Prosody version (\d+)\.(\d+)\.(\d+)", server.log())
    assert match, "no version line in the log"
    return tuple(int(part) for part in match.groups())


def post(server, forwarded, token):
    headers = [("Authorization", token)]
    if forwarded is not None:
        headers.append(("X-Forwarded-For", forwarded))
    return server.request("POST", {"muc": f"x@{HOST}", "nickname": "x"}, headers, host=HOST)


def fail(server, forwarded):
    assert_json(post(server, forwarded, "Bearer wrong"), 401, "not-authorized")


def locked(server, forwarded):
    """Whether the right secret from `forwarded` is refused (429) rather than served (404)."""
    response = post(server, forwarded, TOKEN)
    assert response.status in (404, 429), response
    return response.status == 429


def test_an_unbracketed_ipv6_caller_counts_per_64_on_every_version(server):
    fail(server, "2001:db8:1:1::1")

    assert locked(server, "2001:db8:1:1::2")       # the same /64
    assert not locked(server, "2001:db8:1:2::1")   # another /64: its own counter


def test_a_bracketed_ipv6_caller_counts_by_its_exact_text_on_every_version(server):
    fail(server, "[2001:db8:2:1::1]")

    assert locked(server, "[2001:db8:2:1::1]")
    assert not locked(server, "[2001:db8:2:1::2]")  # the same /64, other text
    assert not locked(server, "2001:db8:2:1::1")    # the same address, unbracketed


def test_callers_behind_an_unbracketed_ipv6_proxy_share_its_counter_on_13_0_1_only(server, version):
    fail(server, f"2001:db8:3:1::1, {PROXY}")

    shared = locked(server, f"2001:db8:3:2::1, {PROXY}")  # another caller, another /64
    if version == (13, 0, 1):
        assert shared, "13.0.1 does not trust an unbracketed IPv6 proxy: both count as the proxy"
        assert locked(server, PROXY)
    else:
        assert not shared, f"{version} trusts the proxy: each caller counts for itself"
        assert locked(server, "2001:db8:3:1::2")


def test_callers_behind_a_bracketed_ipv6_proxy_share_its_counter_on_0_12_only(server, version):
    fail(server, f"2001:db8:4:1::1, [{BRACKETED_PROXY}]")

    shared = locked(server, f"2001:db8:4:2::1, [{BRACKETED_PROXY}]")
    if version < (13,):
        assert shared, "0.12 does not trust a bracketed proxy: both count as its text"
        assert locked(server, f"[{BRACKETED_PROXY}]")
    else:
        assert not shared, f"{version} trusts the bracketed proxy: each caller counts for itself"
        assert locked(server, "2001:db8:4:1::2")


def test_a_forwarded_value_that_is_no_address_counts_as_itself_until_13_0_1_then_as_the_proxy(server, version):
    fail(server, "no-address-1")

    if version <= (13, 0, 1):
        assert locked(server, "no-address-1")
        assert not locked(server, "no-address-2")
        assert not locked(server, None)  # the proxy itself, 127.0.0.1
    else:
        assert locked(server, "no-address-2"), f"{version} drops the value: both count as 127.0.0.1"
        assert locked(server, None)
        assert "Could not parse forwarded connection details" in server.log()
