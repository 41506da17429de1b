"""Malformed or unauthorised SIP gets a clear 4xx, and Kamailio keeps serving."""

from __future__ import annotations

import socket

import pytest

from . import raw_sip

SDP = "v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n"


@pytest.fixture
def target(cfg):
    return (cfg.sip.host, cfg.sip.port)


def _status(response: str | None) -> int | None:
    return int(response.split(" ", 2)[1]) if response else None


def _keeps_serving(target) -> bool:
    text, sock = raw_sip.request("OPTIONS", f"sip:{target[0]}:{target[1]}")
    return _status(raw_sip.exchange(target, text, sock)) == 200


MALFORMED = {
    "cseq-not-a-number": dict(cseq="abc INVITE"),
    "cseq-method-mismatch": dict(cseq="1 BYE"),
    "content-length-beyond-body": dict(content_length=4000),
    "bad-ruri-scheme": dict(ruri="xyz:74951112233@127.0.0.1"),
    "bad-max-forwards": dict(headers={"Max-Forwards": "0"}),
}


@pytest.mark.parametrize("defect", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_invite_gets_4xx_and_kamailio_keeps_serving(target, defect):
    defect = dict(defect)
    ruri = defect.pop("ruri", f"sip:74951112233@{target[0]}:{target[1]}")
    text, sock = raw_sip.request(
        "INVITE", ruri, body=SDP, headers={"Content-Type": "application/sdp", **defect.pop("headers", {})}, **defect
    )

    status = _status(raw_sip.exchange(target, text, sock))

    assert status is not None and 400 <= status < 500, f"got {status} for:\n{text}"
    assert _keeps_serving(target)


def test_garbage_datagram_is_dropped_and_kamailio_keeps_serving(target):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"\x00\xffnot sip at all\r\n\r\n", target)
    assert _keeps_serving(target)


def test_invite_without_from_is_dropped_and_kamailio_keeps_serving(target):
    # Kamailio's core drops a request that lacks From/To/Call-ID/CSeq/Via before
    # any script runs: a response must copy those headers, so none can be built.
    text, sock = raw_sip.request("INVITE", f"sip:74951112233@{target[0]}:{target[1]}", headers={"From": None})

    assert raw_sip.exchange(target, text, sock, timeout=1.0) is None
    assert _keeps_serving(target)


def test_invite_from_an_unknown_source_must_authenticate(target):
    text, sock = raw_sip.request(
        "INVITE",
        f"sip:74951112233@{target[0]}:{target[1]}",
        body=SDP,
        headers={"Content-Type": "application/sdp"},
    )

    response = raw_sip.exchange(target, text, sock)

    assert _status(response) == 407
    assert 'realm="127.0.0.1"' in response  # challenged for its own From domain, no tenant's


def test_a_flooding_source_is_banned_while_others_are_served(target, rpc):
    # 127.0.0.2 is neither one of Kamailio's own addresses nor a trunk, so the
    # flood limits apply to it.
    flooder = "127.0.0.2"
    burst = 100
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((flooder, 0))
    try:
        for _ in range(burst):
            text, unused = raw_sip.request("OPTIONS", f"sip:{target[0]}:{target[1]}", source=flooder)
            unused.close()
            sock.sendto(text.encode(), target)
        answered = 0
        sock.settimeout(1.0)
        try:
            while True:
                sock.recv(65535)
                answered += 1
        except TimeoutError:
            pass

        assert 0 < answered < burst
        text, probe = raw_sip.request("OPTIONS", f"sip:{target[0]}:{target[1]}", source=flooder)
        assert raw_sip.exchange(target, text, probe, timeout=1.0) is None  # banned
        assert _keeps_serving(target)  # everyone else is served
    finally:
        sock.close()
        rpc.call("htable.delete", "ipban", flooder)
