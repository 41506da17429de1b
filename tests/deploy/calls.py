"""A deployed site's demo company on real SIP: phones registering through a
node, the demo carrier (a SIPp from the inventory's site_demo_trunk_port)
calling the demo number through another."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from vpbx.stack.process import wait_for

from ..e2e import sip_log
from ..e2e.sipp import Sipp, SippResult, free_udp_port
from .ansible_run import host_root

DEMO_NUMBER_NATIONAL = "84951112233"  # as the carrier sends it


def demo_credentials(host: str) -> dict:
    """The demo company's passwords and tokens, kept on the host that seeded it."""
    return json.loads((host_root(host) / "var/lib/vpbx/demo-credentials.json").read_text())


def register(node: str, demo: dict, login: str, contact_port: int) -> int:
    """REGISTER the demo account through ``node``; the final status."""
    account = next(a for a in demo["accounts"] if a["login"] == login)
    result = Sipp(
        "register.xml",
        port=free_udp_port(),
        remote=f"{node}:5060",
        service=login,
        auth=(login, account["password"]),
        keys={"domain": account["domain"], "contact_port": contact_port},
    ).run()
    assert result.returncode == 0, result.explain()
    return sip_log.status(sip_log.received(result.messages)[-1])


@dataclass
class CarrierCall:
    carrier: SippResult
    phone: SippResult
    call_id: str
    refused_by: tuple[str, ...] = ()  # nodes that answered 503 before one took the call

    def explain(self) -> str:
        return f"--- carrier ---\n{self.carrier.explain()}\n--- phone ---\n{self.phone.explain()}"

    @property
    def answered(self) -> bool:
        return self.carrier.returncode == 0 and self.phone.returncode == 0

    def invite_at_phone(self) -> str:
        return sip_log.first(sip_log.received(self.phone.messages), "INVITE ")


def carrier_call(node: str, trunk_port: int, phone_port: int, *, hold_ms: int = 1000) -> CarrierCall:
    """The carrier calls the demo number through ``node``; the phone listening
    at ``phone_port`` answers, the carrier hangs up after ``hold_ms``."""
    phone = Sipp("uas_answer.xml", port=phone_port, keys={"rtp_port": free_udp_port()}, timeout_s=20).start()
    carrier = Sipp(
        "uac_call.xml",
        port=trunk_port,
        remote=f"{node}:5060",
        service=DEMO_NUMBER_NATIONAL,
        keys={"rtp_port": free_udp_port()},
        duration_ms=hold_ms,
        timeout_s=20,
    ).start()
    call_id = carrier.call_id()
    return CarrierCall(carrier.wait(), phone.wait(), call_id)


def carrier_call_over(nodes: tuple[str, ...], trunk_port: int, phone_port: int, *, hold_ms: int) -> CarrierCall:
    """The carrier's trunk lists every node: one that refuses the call with 503,
    or does not answer, is followed by the next, as a carrier fails over
    between a trunk's addresses (RFC 3263, 4.3)."""
    phone = Sipp("uas_answer.xml", port=phone_port, keys={"rtp_port": free_udp_port()}, timeout_s=20).start()
    refused: list[str] = []
    for node in nodes:
        carrier = Sipp(
            "uac_call.xml",
            port=trunk_port,
            remote=f"{node}:5060",
            service=DEMO_NUMBER_NATIONAL,
            keys={"rtp_port": free_udp_port()},
            duration_ms=hold_ms,
            timeout_s=20,
            # The carrier ignores a 503 it does not expect; it stops waiting for
            # an answer after this (the phone answers at once).
            recv_timeout_s=4,
        ).start()
        call_id = carrier.call_id()
        result = carrier.wait()
        status = _final_status(result)
        if result.returncode == 0 or status not in (503, None):
            break
        if status == 503:
            refused.append(node)
        # else no answer at all (a node restarting): the next one, too
    return CarrierCall(result, phone.wait(), call_id, tuple(refused))


def _final_status(result: SippResult) -> int | None:
    replies = [message for message in sip_log.received(result.messages) if message.startswith("SIP/2.0")]
    return sip_log.status(replies[-1]) if replies else None


class Phone:
    """A phone with every node in its registrar list: it registers through
    one, and when that one refuses (503) or does not answer, through the next."""

    def __init__(self, demo: dict, login: str, nodes: tuple[str, ...]):
        self.demo, self.login, self.nodes = demo, login, list(nodes)
        self.port = free_udp_port()
        self.registered_through: list[str] = []  # each node it moved to, in order

    def keep_registered(self) -> None:
        for node in list(self.nodes):
            try:
                status = register(node, self.demo, self.login, self.port)
            except AssertionError:
                status = None  # no answer: the node is down
            if status == 200:
                if not self.registered_through or self.registered_through[-1] != node:
                    self.registered_through.append(node)
                return
            self.nodes.remove(node)
            self.nodes.append(node)  # tried last from now on
        raise AssertionError(f"{self.login} could not register through any of {self.nodes}")


def api(node: str, token: str):
    """The admin API of the sidecar on ``node``, as the token's holder: (status, body)."""

    def _call(method: str, path: str, body: dict | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"http://{node}:8080/api/v1{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    return _call


def history_line(call, call_id: str) -> dict:
    """The call's history line once the history keeper has written its end."""

    def written():
        status, lines = call("GET", f"/calls?call_id={call_id}")
        assert status == 200, lines
        return lines[0] if lines and lines[0]["ended_at"] else None

    return wait_for(written, 15, f"the history line of {call_id}")


def menu_on_the_demo_number(admin, name: str) -> None:
    """The demo number answered by a menu whose every key, and no key, leads to a voicemail box."""
    anna = next(e for e in admin("GET", "/employees")[1] if e["extension"] == "101")
    status, box = admin(
        "POST", "/voicemail-boxes", {"name": f"{name} box", "recipients": [{"employee_id": anna["id"]}]}
    )
    assert status == 201, box
    to_box = {"kind": "voicemail", "voicemail_box_id": box["id"]}
    status, menu = admin(
        "POST",
        "/ivr-menus",
        {"name": name, "greeting": {"kind": "tts", "text": "Нажмите один."}, "keys": {"1": to_box, "timeout": to_box}},
    )
    assert status == 201, menu
    scheme = next(s for s in admin("GET", "/schemes")[1] if s["name"] == "Ring everyone")
    step = {"mode": "parallel", "timeout": 15, "destinations": [{"kind": "ivr", "ivr_menu_id": menu["id"]}]}
    assert admin("PUT", f"/schemes/{scheme['id']}", {"name": scheme["name"], "steps": [step]})[0] == 200
