"""Trunks through the API (/api/v1/trunks): the operator's token only; a
registering trunk registers to its carrier and shows its state; credentials
are written, never read back."""

from __future__ import annotations

import json
import secrets

from vpbx.stack.process import wait_for

from . import sip_log
from .sipp import Sipp, free_udp_port


def test_the_operator_adds_a_registering_trunk_sees_it_registered_and_removes_it(operator_api):
    secret = secrets.token_urlsafe(12)
    port = free_udp_port()
    registrar = Sipp("uas_register_digest.xml", port=port, values={"user": "api-pbx", "password": secret}).start()
    status, trunk = operator_api(
        "POST",
        "/trunks",
        {
            "name": "api carrier",
            "address": "127.0.0.1",
            "port": port,
            "outbound": True,
            "priority": 1,
            "auth_username": "api-pbx",
            "auth_password": secret,
            "register": True,
        },
    )
    assert status == 201, trunk
    try:
        assert (trunk["authenticates"], trunk["register"], trunk["port"]) == (True, True, port)
        registered = registrar.wait()  # within uac's 10 s timer
        assert registered.returncode == 0, registered.explain()
        assert 'username="api-pbx"' in (sip_log.header(sip_log.received(registered.messages)[1], "Authorization") or "")

        shown = wait_for(
            lambda: (t := operator_api("GET", f"/trunks/{trunk['id']}")[1])["registration"] == "registered" and t,
            5,
            "the trunk to show as registered",
        )
        listed = operator_api("GET", "/trunks")[1]
        for body in (shown, listed):
            assert secret not in json.dumps(body) and "api-pbx" not in json.dumps(body)  # never read back

        # A new priority keeps the stored credentials without sending them again.
        status, changed = operator_api("PATCH", f"/trunks/{trunk['id']}", {"priority": 5, "caller_id_header": "pai"})
        assert status == 200, changed
        assert (changed["priority"], changed["authenticates"], changed["caller_id_header"]) == (5, True, "pai")
    finally:
        registrar.stop()
        status, _ = operator_api("DELETE", f"/trunks/{trunk['id']}")
    assert status == 204
    assert operator_api("GET", f"/trunks/{trunk['id']}")[0] == 404


def test_only_the_operators_token_reaches_trunks(api, operator_api):
    status, body = api("GET", "/trunks")
    assert status == 403, body  # a company's administrator manages the company, not the carriers
    status, body = api("POST", "/trunks", {"name": "sneaky", "address": "127.0.0.1"})
    assert status == 403, body
    status, body = operator_api("GET", "/employees")
    assert status == 401, body  # and the operator's token reaches no company's data


def test_bad_trunks_are_refused_with_the_field_and_the_reason(operator_api):
    cases = [
        ({"name": "x", "address": "carrier.example"}, "address"),
        ({"name": "x", "address": "127.0.0.1", "auth_username": "u", "auth_password": "p"}, "auth_username"),
        ({"name": "x", "address": "127.0.0.1", "outbound": True, "register": True}, "register"),
        ({"name": "x", "address": "127.0.0.1", "region": "XX"}, "region"),
        ({"name": "x", "address": "127.0.0.1", "port": 70000}, "port"),
        ({"name": "x", "address": "127.0.0.1", "register_domain": "-bad-"}, "register_domain"),
        ({"name": "x", "address": "127.0.0.1", "caller_id_header": "x-custom"}, "caller_id_header"),
        ({"name": "x", "address": "127.0.0.1", "from_user": "a b"}, "from_user"),
    ]
    for body, field in cases:
        status, answer = operator_api("POST", "/trunks", body)
        assert status == 422 and field in answer["error"]["fields"], (body, answer)
