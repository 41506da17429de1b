"""What a media app has in hand, asked the way Kamailio asks whether it is alive: SIP OPTIONS."""

from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass

from . import sip


@dataclass(frozen=True)
class Load:
    calls: int
    tasks: int
    by_kind: dict[str, int]  # calls by the node that holds them: ivr, voicemail, queue…


def media_app_load(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> tuple[int, int] | None:
    """(calls, tasks) the media app has in hand, from its OPTIONS answer; None if it does not answer."""
    load = media_app_state(port, host, timeout)
    return None if load is None else (load.calls, load.tasks)


def media_app_state(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> Load | None:
    """What the media app has in hand, from its OPTIONS answer; None if it does not answer."""
    probe = sip.Message(
        method="OPTIONS",
        uri=f"sip:media@{host}:{port}",
        headers={
            "via": [f"SIP/2.0/UDP 127.0.0.1;branch={sip.new_branch()};rport"],
            "from": [f"<sip:probe@vpbx.invalid>;tag={sip.new_tag()}"],
            "to": ["<sip:media@vpbx.invalid>"],
            "call-id": [f"probe-{secrets.token_hex(6)}"],
            "cseq": ["1 OPTIONS"],
        },
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(probe.encode(), (host, port))
        try:
            reply = sip.parse(sock.recv(4096))
        except (OSError, sip.ParseError):
            return None
    by_kind = {}
    for pair in reply.get("x-vpbx-calls-by-kind", "").split(";"):
        kind, _, count = pair.partition("=")
        if kind and count.isdigit():
            by_kind[kind] = int(count)
    return Load(int(reply.get("x-vpbx-calls", "-1")), int(reply.get("x-vpbx-tasks", "-1")), by_kind)
