"""RFC 4475's torture messages against the real Kamailio: valid ones are
processed, invalid ones refused as the RFC says (see torture.py for why a
few answers differ), and Kamailio answers a keepalive after all of them."""

from __future__ import annotations

import secrets
import socket

import pytest

from ..e2e import raw_sip
from .torture import CASES, Case

NO_ANSWER_WITHIN = 1.0  # seconds: dropped
THEN_QUIET_FOR = 0.3  # after a final answer, time for a second one to show


def _prepared(case: Case, target: tuple[str, int], sock: socket.socket) -> bytes:
    host, port = sock.getsockname()
    return (
        case.text.replace("{via}", f"Via: SIP/2.0/UDP {host}:{port};branch=z9hG4bK{secrets.token_hex(6)};rport")
        .replace("{via_host}", f"{host}:{port}")
        .replace("{ruri_host}", f"{target[0]}:{target[1]}")
        .replace("{id}", secrets.token_hex(8))
    ).encode()


def _send(case: Case, target: tuple[str, int]) -> list[str]:
    """Every reply to the case's datagram: until none came for a second, or
    the line stayed quiet for a moment after a final answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.sendto(_prepared(case, target, sock), target)
        replies: list[str] = []
        while True:
            sock.settimeout(THEN_QUIET_FOR if _final(replies) else NO_ANSWER_WITHIN)
            try:
                replies.append(sock.recv(65535).decode(errors="replace"))
            except TimeoutError:
                return replies


def _final(replies: list[str]) -> list[int]:
    return [code for code in (raw_sip.status_of(r) for r in replies) if code and code >= 200]


@pytest.fixture(scope="module")
def target(cfg):
    return (cfg.sip.host, cfg.sip.port)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_torture_message_is_answered_as_rfc_4475_asks_or_as_documented(case, target):
    finals = _final(_send(case, target))
    told = f"{case.name} (RFC 4475 {case.section}){': ' + case.why if case.why else ''}"
    if case.expect is None:
        assert finals == [], f"{told}; expected no answer, got {finals}"
    else:
        assert len(finals) == 1 and finals[0] in case.expect, (
            f"{told}; expected one of {sorted(case.expect)}, got {finals}"
        )


def test_kamailio_answers_a_keepalive_after_every_torture_message(target):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        for case in CASES:
            sock.sendto(_prepared(case, target, sock), target)
    text, sock = raw_sip.request("OPTIONS", f"sip:{target[0]}:{target[1]}")
    assert raw_sip.status_of(raw_sip.exchange(target, text, sock)) == 200
