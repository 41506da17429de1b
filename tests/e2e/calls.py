"""Call patterns many end-to-end tests share."""

from __future__ import annotations

import socket

from vpbx.media.ng import NgError
from vpbx.stack.process import wait_for

from . import sip_log
from .sipp import Sipp, free_udp_port


def carrier_call(stack, sip_target, number: str, *, duration_ms: int = 300, **options) -> Sipp:
    """The demo trunk's carrier calling ``number`` (uac_call.xml), not started yet;
    ``options`` are the rest of Sipp's (timeouts, calls)."""
    return Sipp(
        "uac_call.xml",
        port=stack.ports.demo_trunk,
        remote=sip_target,
        service=number,
        keys={"rtp_port": free_udp_port()},
        duration_ms=duration_ms,
        **options,
    )


def phone_call(
    sip_target, demo, login: str, dialled: str, scenario: str = "phone_call.xml", *, rtp_port: int = 0, **options
) -> Sipp:
    """The demo company's phone ``login`` dialling ``dialled``, answering the
    digest challenge with its password; not started yet. ``rtp_port``: the
    caller's media socket (0: a free port nobody reads); ``options`` are the
    rest of Sipp's (``values`` for phone_call_rejected.xml, a duration)."""
    account = next(a for a in demo["accounts"] if a["login"] == login)
    return Sipp(
        scenario,
        port=free_udp_port(),
        remote=sip_target,
        service=dialled,
        auth=(login, account["password"]),
        keys={"caller": login, "domain": account["domain"], "rtp_port": rtp_port or free_udp_port()},
        **options,
    )


def answered_call(stack, sip_target, number: str, phone_port: int, *, duration_ms: int = 300) -> str:
    """The carrier calls ``number`` while a phone answers at ``phone_port``; the INVITE that phone got.

    Both SIPp processes must end well: the call was set up, held and hung up.
    """
    phone = Sipp("uas_answer.xml", port=phone_port, keys={"rtp_port": free_udp_port()}).start()
    carrier = carrier_call(stack, sip_target, number, duration_ms=duration_ms).run()
    answered = phone.wait()
    assert carrier.returncode == 0, carrier.explain()
    assert answered.returncode == 0, answered.explain()
    return sip_log.first(sip_log.received(answered.messages), "INVITE ")


def silent_phone(port: int = 0) -> socket.socket:
    """A contact that only listens: whatever reaches it was rung."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


def rung(sock: socket.socket) -> bytes | None:
    """What reached a silent phone so far, or None.

    Forking happens before anyone answers, so once a call is set up any INVITE
    sent to this phone is already waiting on its socket.
    """
    try:
        return sock.recv(65535)
    except BlockingIOError:
        return None


def rtpengine_forgot(ng, call_id: str) -> bool:
    """Whether rtpengine has no session of ``call_id`` (any more)."""
    try:
        ng.query(call_id)
    except NgError as exc:
        return "Unknown call-id" in str(exc)
    return False


def history_line(api, call_id: str, *, ended: bool = True, timeout: float = 10) -> dict:
    """The call's history line, once the history keeper has written it (and its end)."""

    def written():
        status, lines = api("GET", f"/calls?call_id={call_id}")
        assert status == 200, lines
        if lines and (lines[0]["ended_at"] or not ended):
            return lines[0]
        return None

    return wait_for(written, timeout, f"the history line of call {call_id}")


def parallel(*destinations: dict, timeout: int = 30) -> dict:
    """A scheme step ringing these destinations together."""
    return {"mode": "parallel", "timeout": timeout, "destinations": list(destinations)}


def employee(api, extension: str) -> dict:
    """The destination of the demo company's employee at this extension."""
    employee_id = next(e["id"] for e in api("GET", "/employees")[1] if e["extension"] == extension)
    return {"kind": "employee", "employee_id": employee_id}
