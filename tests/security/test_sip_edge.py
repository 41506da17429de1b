"""The SIP edge as an attacker on the network sees it: Kamailio relays nothing
it did not set up, resists password guessing and replays, and never reflects
a reply to an address of the sender's choosing."""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time

import pytest

from vpbx.kamailio_rpc import RpcError
from vpbx.sip_bans import bans, lift

from ..e2e import raw_sip
from ..scrape import metrics_text
from .digest import Registrar

SDP = "v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"


@pytest.fixture
def target(cfg):
    return (cfg.sip.host, cfg.sip.port)


def _forged_in_dialog(method: str, target, ruri: str, *, body: str = "") -> tuple[str, object]:
    """An in-dialog request of no dialog: a made-up To-tag and a Route naming Kamailio."""
    headers = {
        "To": f"<{ruri}>;tag={secrets.token_hex(4)}",
        "Route": f"<sip:{target[0]}:{target[1]};lr;ftag={secrets.token_hex(4)};did=a1b.c2d>",
    }
    if body:
        headers["Content-Type"] = "application/sdp"
    return raw_sip.request(method, ruri, headers=headers, body=body)


@pytest.mark.parametrize("method", ["INVITE", "INFO", "BYE", "UPDATE"])
def test_a_forged_in_dialog_request_toward_a_carrier_is_refused_and_reaches_nobody(target, ng, method):
    gateway = raw_sip.listener()
    sessions_before = len(ng.list_calls())
    ruri = f"sip:+19005550100@127.0.0.1:{gateway.getsockname()[1]}"
    text, sock = _forged_in_dialog(method, target, ruri, body=SDP if method in ("INVITE", "UPDATE") else "")

    response = raw_sip.exchange(target, text, sock)

    assert raw_sip.status_of(response) == 481, response
    assert "cause=81" in raw_sip.header(response, "Reason")
    time.sleep(0.2)  # anything relayed would have arrived by the time the 481 did; a margin for the kernel
    assert raw_sip.received(gateway) == []
    assert len(ng.list_calls()) == sessions_before  # the SDP never reached rtpengine
    gateway.close()


def test_a_forged_ack_is_dropped_silently(target):
    gateway = raw_sip.listener()
    text, sock = _forged_in_dialog("ACK", target, f"sip:+19005550100@127.0.0.1:{gateway.getsockname()[1]}")

    assert raw_sip.exchange(target, text, sock, timeout=0.5) is None
    assert raw_sip.received(gateway) == []
    gateway.close()


# ---- password guessing -------------------------------------------------------


@pytest.fixture
def account(demo, rpc):
    """Demo account 102, its failures forgotten after the test (as `vpbx sip-ban lift` does)."""
    account = next(a for a in demo["accounts"] if a["login"] == "102")
    lift(rpc, "127.0.0.1")  # failures earlier tests made on purpose
    yield account
    try:
        rpc.call("htable.delete", "authuser", f"{account['login']}@{account['domain']}")
    except RpcError:
        pass  # no failure left to forget
    lift(rpc, "127.0.0.1")


def test_thirty_wrong_passwords_get_their_own_403_and_the_right_one_works_at_once(target, account):
    phone = Registrar(target, account["login"], account["domain"])
    try:
        challenges = [phone.challenge() for _ in range(30)]
        sent = time.monotonic()
        for challenge in challenges:
            phone.send(phone.answer(challenge, "not-the-password"))
        refusals = phone.replies(30, timeout=10)
        refused_after = time.monotonic() - sent

        phone.send(phone.answer(phone.challenge(), account["password"]))
        (accepted,) = phone.replies(1, timeout=2)
    finally:
        phone.close()

    assert [raw_sip.status_of(r) for r in refusals] == [403] * 30
    assert all('cause=21;text="Wrong credentials"' in raw_sip.header(r, "Reason") for r in refusals)
    # After ten failures the account's refusals are held back: a guesser is slowed...
    assert refused_after >= 1.5
    # ...and its owner is not locked out.
    assert raw_sip.status_of(accepted) == 200


def test_a_source_that_keeps_failing_is_banned_until_lifted(target, stack, rpc, account):
    """From 127.0.0.1 itself, which pike's flood limit exempts: failed
    authentications count for every source but trunks and the media app."""
    guesses = [Registrar(target, f"guess{i}", account["domain"]) for i in range(60)]
    try:
        for guess in guesses:
            guess.send(guess.answer(guess.challenge(), "x"))
        refused = [raw_sip.status_of(r) for guess in guesses for r in guess.replies(1, timeout=2)]

        probe = Registrar(target, account["login"], account["domain"])
        probe.send(probe.request(f"{secrets.token_hex(6)}@probe", 1))
        unanswered = probe.replies(1, timeout=1) == []
        listed = subprocess.run(
            [sys.executable, "-m", "vpbx.cli", "sip-ban", "list", "--config", str(stack.config_path)],
            capture_output=True,
            text=True,
            check=True,
        )
        metrics = metrics_text(stack)
        lifted = subprocess.run(
            [sys.executable, "-m", "vpbx.cli", "sip-ban", "lift", "127.0.0.1", "--config", str(stack.config_path)],
            capture_output=True,
            text=True,
        )
        probe.send(probe.request(f"{secrets.token_hex(6)}@probe", 1))
        served_again = probe.replies(1, timeout=2)
        probe.close()
    finally:
        for guess in guesses:
            guess.close()
        lift(rpc, "127.0.0.1")

    assert refused == [403] * 60
    assert unanswered
    assert "127.0.0.1\tfailed authentication" in listed.stdout
    assert 'vpbx_sip_banned_sources{reason="failed authentication"} 1.0' in metrics
    assert "vpbx_sip_auth_failures_total" in metrics
    assert lifted.returncode == 0, lifted.stderr
    assert [raw_sip.status_of(r) for r in served_again] == [401]
    assert bans(rpc) == []


def test_a_replayed_digest_answer_is_challenged_again(target, account):
    phone = Registrar(target, account["login"], account["domain"])
    try:
        challenge = phone.challenge()
        assert challenge.qop == "auth"  # offered with every challenge
        answer = phone.answer(challenge, account["password"])
        phone.send(answer)
        (first,) = phone.replies(1, timeout=2)
        phone.send(answer.replace("branch=z9hG4bK", "branch=z9hG4bKreplay"))  # the captured request, resent
        (replayed,) = phone.replies(1, timeout=2)
    finally:
        phone.close()

    assert raw_sip.status_of(first) == 200
    assert raw_sip.status_of(replayed) == 401


# ---- stray responses --------------------------------------------------------------


def _response(top_via: str, second_via: str) -> str:
    return "\r\n".join(
        [
            "SIP/2.0 200 OK",
            f"Via: {top_via}",
            f"Via: {second_via}",
            f"From: <sip:a@127.0.0.1>;tag={secrets.token_hex(4)}",
            f"To: <sip:b@127.0.0.1>;tag={secrets.token_hex(4)}",
            f"Call-ID: {secrets.token_hex(8)}@stray",
            "CSeq: 1 INVITE",
            "Content-Length: 0",
            "",
            "",
        ]
    )


@pytest.mark.parametrize("whose_top_via", ["ours", "someone else's"])
def test_a_response_of_no_transaction_is_never_relayed(target, whose_top_via):
    victim = raw_sip.listener()
    top = (
        f"SIP/2.0/UDP {target[0]}:{target[1]};branch=z9hG4bK{secrets.token_hex(6)}"
        if whose_top_via == "ours"
        else f"SIP/2.0/UDP 127.0.0.9:5060;branch=z9hG4bK{secrets.token_hex(6)}"
    )
    second = f"SIP/2.0/UDP 127.0.0.1:{victim.getsockname()[1]};branch=z9hG4bK{secrets.token_hex(6)}"
    text, sock = raw_sip.request("OPTIONS", f"sip:{target[0]}:{target[1]}")  # any socket will do

    sock.sendto(_response(top, second).encode(), target)
    # Kamailio handles datagrams in order per worker: once it answered a request
    # sent after the stray reply, anything it relayed has been sent.
    assert raw_sip.status_of(raw_sip.exchange(target, text, sock)) == 200
    time.sleep(0.2)
    assert raw_sip.received(victim) == []
    victim.close()


def test_a_request_over_tcp_without_content_length_is_refused_and_http_gets_nothing(target, stack):
    # Over a stream, Content-Length says where a message ends (RFC 3261 18.3):
    # without it, whatever follows would be read as the next message.
    text, udp = raw_sip.request("OPTIONS", f"sip:{target[0]}:{target[1]}")
    udp.close()
    text = text.replace("SIP/2.0/UDP", "SIP/2.0/TCP").replace("Content-Length: 0\r\n", "")
    with socket.create_connection(target, timeout=5) as sock:
        sock.sendall(text.encode())
        reply = sock.recv(65535).decode(errors="replace")
    assert reply.startswith("SIP/2.0 400 Missing Content-Length"), reply
    assert raw_sip.header(reply, "Reason") == 'SIP;cause=400;text="Content-Length required over TCP and TLS"'
    # HTTP to the SIP port (Kamailio parses HTTP for its metrics socket) reaches no metrics.
    with socket.create_connection(target, timeout=5) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = sock.recv(65535).decode(errors="replace")
    assert reply.startswith("HTTP/1.1 404"), reply
    assert "kamailio_" not in reply
