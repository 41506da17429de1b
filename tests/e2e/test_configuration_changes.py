"""A change made through the running sidecar applies to the very next call."""

from __future__ import annotations

import pytest

from .calls import answered_call, rung, silent_phone
from .sipp import free_udp_port


@pytest.fixture
def demo_scheme(api):
    scheme = next(s for s in api("GET", "/schemes")[1] if s["name"] == "Ring everyone")
    yield scheme
    api("PUT", f"/schemes/{scheme['id']}", {k: v for k, v in scheme.items() if k != "id"})


def _ring_only(api, scheme: dict, extension: str) -> None:
    employee = next(e for e in api("GET", "/employees")[1] if e["extension"] == extension)
    status, body = api("PUT", f"/schemes/{scheme['id']}", {"name": scheme["name"], "steps": [
        {"mode": "parallel", "timeout": 20, "destinations": [{"kind": "employee", "employee_id": employee["id"]}]}]})
    assert status == 200, body


def test_the_next_call_follows_a_scheme_changed_through_the_api(
    stack, api, register, sip_target, demo, demo_scheme, no_registrations
):
    anna, boris_port = silent_phone(), free_udp_port()
    anna_port = anna.getsockname()[1]
    assert register("101", anna_port)[0] == 200
    assert register("102", boris_port)[0] == 200

    _ring_only(api, demo_scheme, "102")
    invite = answered_call(stack, sip_target, demo["number"], boris_port)
    assert invite.startswith(f"INVITE sip:102@127.0.0.1:{boris_port}")
    assert not rung(anna)
    anna.close()

    _ring_only(api, demo_scheme, "101")
    boris = silent_phone(boris_port)
    invite = answered_call(stack, sip_target, demo["number"], anna_port)
    assert invite.startswith(f"INVITE sip:101@127.0.0.1:{anna_port}")
    assert not rung(boris)
    boris.close()
