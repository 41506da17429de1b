"""A SIP account that belongs to no employee registers and is rung like a phone."""

from __future__ import annotations

import pytest

from . import sip_log
from .calls import answered_call
from .sipp import Sipp, free_udp_port


@pytest.fixture
def lobby(api):
    """A lobby phone, a scheme ringing it, and a number: removed afterwards."""
    status, account = api("POST", "/sip-accounts", {"name": "Lobby", "sip_login": "lobby-e2e"})
    assert status == 201, account
    _, scheme = api(
        "POST",
        "/schemes",
        {
            "name": "Lobby line",
            "steps": [
                {
                    "mode": "parallel",
                    "timeout": 20,
                    "destinations": [{"kind": "sip_account", "sip_account_id": account["id"]}],
                }
            ],
        },
    )
    _, number = api("POST", "/numbers", {"number": "+74951230099", "scheme_id": scheme["id"]})
    yield account
    api("DELETE", f"/numbers/{number['number']}")
    api("DELETE", f"/schemes/{scheme['id']}")
    api("DELETE", f"/sip-accounts/{account['id']}")


def test_a_sip_account_registers_and_takes_a_call(stack, sip_target, lobby):
    port = free_udp_port()
    registration = Sipp(
        "register.xml",
        port=free_udp_port(),
        remote=sip_target,
        service=lobby["sip_login"],
        auth=(lobby["sip_login"], lobby["sip_password"]),
        keys={"domain": "demo.vpbx.test", "contact_port": port},
    ).run()
    assert registration.returncode == 0, registration.explain()
    assert sip_log.status(sip_log.received(registration.messages)[-1]) == 200

    invite = answered_call(stack, sip_target, "+74951230099", port)

    assert invite.startswith(f"INVITE sip:lobby-e2e@127.0.0.1:{port}")
