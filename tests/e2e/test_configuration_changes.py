"""A change made through the running sidecar applies to the very next call."""

from __future__ import annotations

import json
import socket
import urllib.request

import pytest

from . import sip_log
from .sipp import Sipp, free_udp_port


def _api(stack, demo, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.ports.sidecar}/api/v1{path}", method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {demo['admin_api_token']}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.fixture
def demo_scheme(stack, demo):
    scheme = next(s for s in _api(stack, demo, "GET", "/schemes") if s["name"] == "Ring everyone")
    yield scheme
    _api(stack, demo, "PUT", f"/schemes/{scheme['id']}", {"name": scheme["name"], "steps": scheme["steps"]})


def _ring_only(stack, demo, scheme: dict, extension: str) -> None:
    employee = next(e for e in _api(stack, demo, "GET", "/employees") if e["extension"] == extension)
    _api(stack, demo, "PUT", f"/schemes/{scheme['id']}", {"name": scheme["name"], "steps": [
        {"mode": "parallel", "timeout": 20, "destinations": [{"kind": "employee", "employee_id": employee["id"]}]}]})


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
    stack, register, sip_target, demo, demo_scheme, no_registrations
):
    anna, boris_port = _silent_phone(), free_udp_port()
    anna_port = anna.getsockname()[1]
    assert register("101", anna_port)[0] == 200
    assert register("102", boris_port)[0] == 200

    _ring_only(stack, demo, demo_scheme, "102")
    invite = _answered_by(stack, sip_target, demo, boris_port)
    assert invite.startswith(f"INVITE sip:102@127.0.0.1:{boris_port}")
    assert not _rung(anna)  # the fork happened before Boris answered
    anna.close()

    _ring_only(stack, demo, demo_scheme, "101")
    boris = _silent_phone(boris_port)
    invite = _answered_by(stack, sip_target, demo, anna_port)
    assert invite.startswith(f"INVITE sip:101@127.0.0.1:{anna_port}")
    assert not _rung(boris)
    boris.close()
