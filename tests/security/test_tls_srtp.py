"""SIP over TLS and SRTP: a phone registered over TLS talks SRTP (SDES keys,
which only ever travel inside TLS) with rtpengine; every other leg (trunks,
phones on UDP) gets plain RTP, and rtpengine converts between the two."""

from __future__ import annotations

import secrets
import socket
import ssl

import pytest

from tests.e2e.calls import employee, parallel
from tests.e2e.sip_ua import (
    SRTP_KEY_BYTES,
    SRTP_SUITE,
    RtpSocket,
    TlsTransport,
    UserAgent,
    media_of,
    offer,
    payload_of,
)

PACKETS = 15
SRTP_AUTH_TAG = 10  # bytes HMAC-SHA1-80 adds to each packet


@pytest.fixture
def tls_target(cfg):
    assert cfg.sip_tls is not None, "the test stack listens on TLS"
    return (cfg.sip.host, cfg.sip_tls.port), str(cfg.sip_tls.certificate)


def _account(demo, login: str) -> dict:
    return next(a for a in demo["accounts"] if a["login"] == login)


@pytest.fixture
def tls_phone(tls_target, demo, no_registrations):
    """Anna (101), registered over TLS: the certificate is checked against the address dialled."""
    target, cafile = tls_target
    account = _account(demo, "101")
    phone = UserAgent(TlsTransport(target, cafile), "101", account["domain"], account["password"])
    assert phone.register() == 200
    yield phone
    phone.close()


@pytest.fixture
def udp_phone(sip_phone):
    """Boris (102), registered over UDP."""
    return sip_phone("102")


def _talk(srtp: RtpSocket, srtp_sees: str, plain: RtpSocket, plain_sees: str) -> None:
    """Media both ways through rtpengine: what the plain side sends reaches the SRTP
    side encrypted with the key offered to it, and the reverse arrives decrypted."""
    srtp_peer, plain_peer = media_of(srtp_sees), media_of(plain_sees)
    spoken = [secrets.token_bytes(160) for _ in range(PACKETS)]

    plain.send((plain_peer.address, plain_peer.port), spoken)
    arrived = srtp.receive(PACKETS, timeout=5)
    assert len(arrived) >= PACKETS - 2, f"{len(arrived)} of {PACKETS} packets reached the SRTP phone"
    assert all(len(packet) == 12 + 160 + SRTP_AUTH_TAG for packet in arrived), "SRTP carries an auth tag"
    assert not any(payload_of(packet)[:160] in spoken for packet in arrived), "audio crossed in clear"
    assert [payload_of(srtp.decrypt(packet)) for packet in arrived] == spoken[-len(arrived) :]

    answered = [secrets.token_bytes(160) for _ in range(PACKETS)]
    srtp.send((srtp_peer.address, srtp_peer.port), answered)
    heard = plain.receive(PACKETS, timeout=5)
    assert len(heard) >= PACKETS - 2, f"{len(heard)} of {PACKETS} packets reached the plain side"
    assert [payload_of(packet) for packet in heard] == answered[-len(heard) :]


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_the_tls_port_presents_a_certificate_for_the_address_and_refuses_old_tls(tls_target):
    (host, port), cafile = tls_target
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection((host, port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")

    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
    old.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this side offer TLS 1.1: the server must refuse it
    old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    with socket.create_connection((host, port), timeout=5) as raw:
        with pytest.raises(ssl.SSLError):
            old.wrap_socket(raw, server_hostname=host)


def test_a_trunk_call_reaches_a_tls_phone_with_srtp_while_the_trunk_keeps_plain_rtp(
    demo, api, demo_steps, tls_phone, carrier
):
    demo_steps(parallel(employee(api, "101"), timeout=15))
    trunk_rtp, phone_rtp = RtpSocket(), RtpSocket(send_key=secrets.token_bytes(SRTP_KEY_BYTES))
    try:
        call = carrier.invite(demo["number"], offer(trunk_rtp.port, None), from_user="+79991234567")

        invite = tls_phone.wait_request("INVITE")
        offered = media_of(invite.body)
        assert offered.protocol == "RTP/SAVP", invite.body
        assert SRTP_SUITE in offered.keys, f"rtpengine offers the phone a key:\n{invite.body}"
        assert invite.header("Via").startswith("SIP/2.0/TLS"), "the INVITE came over the phone's TLS connection"
        phone_rtp.receive_with(offered.keys[SRTP_SUITE])
        phone_call = tls_phone.answer(invite, offer(phone_rtp.port, phone_rtp.send_key, tag=offered.tags[SRTP_SUITE]))

        answer = carrier.answered(call)
        tls_phone.acked(phone_call)
        answered = media_of(answer.body)
        assert (answered.protocol, answered.keys) == ("RTP/AVP", {}), f"the trunk gets plain RTP:\n{answer.body}"

        _talk(phone_rtp, invite.body, trunk_rtp, answer.body)

        # The carrier hangs up: the BYE reaches the phone over TLS.
        bye = carrier.hang_up_on(call, tls_phone)
        assert bye.header("Call-ID") == phone_call.call_id
    finally:
        trunk_rtp.close()
        phone_rtp.close()


def test_a_tls_phone_calling_a_udp_colleague_gets_srtp_and_the_colleague_plain_rtp(tls_phone, udp_phone):
    caller_rtp = RtpSocket(send_key=secrets.token_bytes(SRTP_KEY_BYTES))
    callee_rtp = RtpSocket()
    try:
        call = tls_phone.invite("102", offer(caller_rtp.port, caller_rtp.send_key))

        invite = udp_phone.wait_request("INVITE")
        offered = media_of(invite.body)
        assert (offered.protocol, offered.keys) == ("RTP/AVP", {}), f"no key leaves over UDP:\n{invite.body}"
        callee_call = udp_phone.answer(invite, offer(callee_rtp.port, None))

        answer = tls_phone.answered(call)
        udp_phone.acked(callee_call)
        answered = media_of(answer.body)
        assert answered.protocol == "RTP/SAVP" and SRTP_SUITE in answered.keys, answer.body
        caller_rtp.receive_with(answered.keys[SRTP_SUITE])

        _talk(caller_rtp, answer.body, callee_rtp, invite.body)

        # The TLS phone hangs up.
        tls_phone.hang_up_on(call, udp_phone)
    finally:
        caller_rtp.close()
        callee_rtp.close()
