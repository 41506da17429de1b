"""A change made through the running sidecar applies to the very next call."""

from __future__ import annotations

import socket

import pytest

from . import sip_log
from .sipp import Sipp, free_udp_port


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


def _answered_by(stack, sip_target, demo, phone_port: int) -> str:
    """Place a carrier call while a phone answers at ``phone_port``; the INVITE it got."""
    phone = Sipp("uas_answer.xml", port=phone_port, keys={"rtp_port": free_udp_port()}).start()
    carrier = Sipp("uac_call.xml", port=stack.ports.demo_trunk, remote=sip_target, service=demo["number"],
                   keys={"rtp_port": free_udp_port()}, duration_ms=300).run()
    answered = phone.wait()
    assert carrier.returncode == 0, carrier.explain()
    assert answered.returncode == 0, answered.explain()
    return sip_log.first(sip_log.received(answered.messages), "INVITE ")


def _silent_phone(port: int = 0) -> socket.socket:
    """A registered contact that only listens: whatever reaches it was rung."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


def _rung(sock: socket.socket) -> bool:
    try:
        return bool(sock.recv(65535))
    except BlockingIOError:
        return False


def test_the_next_call_follows_a_scheme_changed_through_the_api(
    stack, api, register, sip_target, demo, demo_scheme, no_registrations
):
    anna, boris_port = _silent_phone(), free_udp_port()
    anna_port = anna.getsockname()[1]
    assert register("101", anna_port)[0] == 200
    assert register("102", boris_port)[0] == 200

    _ring_only(api, demo_scheme, "102")
    invite = _answered_by(stack, sip_target, demo, boris_port)
    assert invite.startswith(f"INVITE sip:102@127.0.0.1:{boris_port}")
    assert not _rung(anna)  # the fork happened before Boris answered
    anna.close()

    _ring_only(api, demo_scheme, "101")
    boris = _silent_phone(boris_port)
    invite = _answered_by(stack, sip_target, demo, anna_port)
    assert invite.startswith(f"INVITE sip:101@127.0.0.1:{anna_port}")
    assert not _rung(boris)
    boris.close()
