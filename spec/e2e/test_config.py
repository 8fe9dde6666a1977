"""Configuration: an Authorization option that is missing, empty or not a string refuses the load."""

import re

import pytest

from support import REFUSED, assert_json, is_module_json, log_entries

OPTION = "http_muc_kick_authorization_header"


@pytest.mark.parametrize("host", REFUSED.keys(), ids=[
    f"{OPTION} = {value}" if value is not None else f"{OPTION} missing" for value in REFUSED.values()])
def test_module_refuses_to_load_with_an_error_naming_the_option_and_the_host(server, api, host):
    errors = [e for e in log_entries(server)
              if e[1] == "error" and OPTION in e[2] and (host in e[0] or host in e[2])]
    assert errors, f"no error line naming {OPTION} and {host}"
    # ...and saying how to set it
    assert any(re.search(OPTION + r"\s*=|\bset\b", e[2], re.IGNORECASE) for e in errors), errors

    # nothing serves the endpoint there: not the module's JSON, whatever the token
    for token in (None, "Bearer refused-one-s3cret", "Bearer refused-two-s3cret", ""):
        response = api.post({"muc": f"room@{host}", "nickname": "x"}, token=token, host=host)
        assert not is_module_json(response), response


def test_the_other_components_still_load_and_serve(api):
    # guards the test above: the same request to a configured host gets the module's JSON
    assert_json(api.post({"muc": "room@muc.localhost", "nickname": "x"}, token=None), 401,
                "not-authorized")
