"""Employees call outside (R20): a company phone dials a number in the forms
people dial; the call leaves through the outbound trunk, anchored in
rtpengine, shown as a company number; what the employee may not call is
refused with the reason; emergency numbers always go out."""

from __future__ import annotations

import secrets

import pytest

from . import sip_log
from .calls import history_line, phone_call, rung, silent_phone
from .rtp import RtpEndpoint
from .sipp import Sipp, free_udp_port

CALL_MS = 1000


@pytest.fixture
def carrier(outbound_carrier):
    """The outbound carrier, whose SIPp each test starts to answer what it is sent."""
    return outbound_carrier


@pytest.fixture
def anna(api):
    """The demo company's employee 101; her outgoing settings restored afterwards."""
    employee = next(e for e in api("GET", "/employees")[1] if e["extension"] == "101")
    yield employee
    status, body = api(
        "PATCH",
        f"/employees/{employee['id']}",
        {"outgoing_calls": employee["outgoing_calls"], "caller_id": employee["caller_id"]},
    )
    assert status == 200, body


def _answered_by_carrier(sip_target, demo, carrier: int, dialled: str) -> tuple[Sipp, str, str]:
    """Anna dials; the carrier answers. Her call, the INVITE the carrier got, and the 200 she got."""
    callee = Sipp("uas_answer.xml", port=carrier, keys={"rtp_port": free_udp_port()}).start()
    caller_rtp = RtpEndpoint()
    caller = phone_call(sip_target, demo, "101", dialled, rtp_port=caller_rtp.port, duration_ms=CALL_MS)
    called = caller.run()
    answered = callee.wait()
    caller_rtp.close()
    assert called.returncode == 0, called.explain()
    assert answered.returncode == 0, answered.explain()
    invite = sip_log.first(sip_log.received(answered.messages), "INVITE ")
    ok = sip_log.first(sip_log.received(called.messages), "SIP/2.0 200")
    return caller, invite, ok


def test_an_employee_dials_a_mobile_in_national_form_and_the_carrier_sees_the_company_number(
    stack, api, sip_target, demo, carrier, anna
):
    caller, invite, ok = _answered_by_carrier(sip_target, demo, carrier, "8916123-45-67")

    assert invite.startswith(f"INVITE sip:+79161234567@127.0.0.1:{carrier} ")
    shown = f"<sip:{demo['number']}@demo.vpbx.test>"
    assert sip_log.header(invite, "From").startswith(shown)
    assert sip_log.header(invite, "P-Asserted-Identity") == shown
    address, port = sip_log.sdp_media(invite)  # anchored: the carrier never sees the phone's media address
    assert address == "127.0.0.1" and stack.ports.rtp_min <= port <= stack.ports.rtp_max
    # The phone sees its own identity in the answer, not the one shown outside.
    assert sip_log.header(ok, "From").startswith("<sip:101@demo.vpbx.test>")

    line = history_line(api, caller.call_id())
    assert (line["direction"], line["called"], line["caller_id"], line["status"]) == (
        "outgoing",
        "+79161234567",
        demo["number"],
        "answered",
    )
    assert line["caller_employee_id"] == anna["id"]
    assert line["trunk"] == "outbound carrier"


def test_an_employee_with_a_number_of_their_own_is_shown_as_it(api, sip_target, demo, carrier, anna, new_number):
    status, body = api("PATCH", f"/employees/{anna['id']}", {"caller_id": new_number})
    assert (status, body["caller_id"]) == (200, new_number)

    caller, invite, _ = _answered_by_carrier(sip_target, demo, carrier, "88123334455")  # Saint Petersburg

    assert invite.startswith(f"INVITE sip:+78123334455@127.0.0.1:{carrier} ")
    assert sip_log.header(invite, "P-Asserted-Identity") == f"<sip:{new_number}@demo.vpbx.test>"
    assert history_line(api, caller.call_id())["caller_id"] == new_number


def test_star_81_shows_a_number_of_the_callers_department_for_that_call_and_no_other(
    api, sip_target, demo, carrier, anna, new_number
):
    # Not a number Anna may show: neither hers, nor her department's, nor the company's caller ID.
    refused = phone_call(
        sip_target,
        demo,
        "101",
        f"*81{new_number[-4:]}*89161234567",
        "phone_call_rejected.xml",
        values={"final": 403, "reason": "Q\\.850;cause=21"},
    ).run()
    assert refused.returncode == 0, refused.explain()

    status, desk = api(
        "POST", "/departments", {"name": "Export desk", "members": [anna["id"]], "caller_id": new_number}
    )
    assert status == 201, desk
    try:
        caller, invite, _ = _answered_by_carrier(sip_target, demo, carrier, f"*81{new_number[-4:]}*89161234567")
    finally:
        api("DELETE", f"/departments/{desk['id']}")

    assert invite.startswith(f"INVITE sip:+79161234567@127.0.0.1:{carrier} ")
    assert sip_log.header(invite, "P-Asserted-Identity") == f"<sip:{new_number}@demo.vpbx.test>"
    assert history_line(api, caller.call_id())["caller_id"] == new_number


def test_star_67_hides_the_caller_from_the_callee_but_not_from_the_carrier(api, sip_target, demo, carrier, anna):
    caller, invite, ok = _answered_by_carrier(sip_target, demo, carrier, "*6789161234567")

    assert invite.startswith(f"INVITE sip:+79161234567@127.0.0.1:{carrier} ")
    assert sip_log.header(invite, "From").startswith('"Anonymous" <sip:anonymous@anonymous.invalid>')
    assert sip_log.header(invite, "P-Asserted-Identity") == f"<sip:{demo['number']}@demo.vpbx.test>"
    assert sip_log.header(invite, "Privacy") == "id"
    assert sip_log.header(ok, "From").startswith("<sip:101@demo.vpbx.test>")
    assert history_line(api, caller.call_id())["caller_id"] == "anonymous"


def test_an_international_call_above_the_employees_permission_is_refused_with_the_reason(
    api, sip_target, demo, carrier, anna
):
    assert api("PATCH", f"/employees/{anna['id']}", {"outgoing_calls": "national"})[0] == 200
    silent_carrier = silent_phone(carrier)  # whatever reaches the carrier's port was sent out

    caller = phone_call(
        sip_target,
        demo,
        "101",
        "810442079460000",
        "phone_call_rejected.xml",
        values={"final": 403, "reason": "Q\\.850;cause=21"},
    )
    refused = caller.run()

    assert refused.returncode == 0, refused.explain()
    reply = sip_log.first(sip_log.received(refused.messages), "SIP/2.0 403")
    assert sip_log.header(reply, "Reason") == (
        'Q.850;cause=21;text="Outgoing calls to international numbers are not permitted"'
    )
    assert not rung(silent_carrier)
    silent_carrier.close()
    line = history_line(api, caller.call_id())
    assert (line["direction"], line["status"], line["called"]) == ("outgoing", "missed", "+442079460000")


def test_an_emergency_number_goes_out_whatever_the_employee_may_call(api, sip_target, demo, carrier, anna):
    assert api("PATCH", f"/employees/{anna['id']}", {"outgoing_calls": "internal"})[0] == 200

    _, invite, _ = _answered_by_carrier(sip_target, demo, carrier, "112")

    assert invite.startswith(f"INVITE sip:112@127.0.0.1:{carrier} ")


def _digest_carrier(trunks, *, right_password: bool = True) -> tuple[int, Sipp, str]:
    """An outbound trunk whose carrier asks for digest credentials: the trunk
    has the carrier's password, or (``right_password`` False) another. The
    port, the carrier, and its password."""
    secret = secrets.token_urlsafe(12)
    port = free_udp_port()
    trunks(
        "digest carrier",
        address="127.0.0.1",
        port=port,
        outbound=True,
        priority=10,
        auth_username="vpbx",
        auth_password=secret if right_password else f"not-{secret}",
    )
    carrier = Sipp(
        "uas_digest.xml",
        port=port,
        keys={"rtp_port": free_udp_port()},
        values={"user": "vpbx", "password": secret},
    )
    return port, carrier.start(), secret


@pytest.mark.parametrize(
    ("dialled", "number"),
    [("89161234567", "+79161234567"), ("810442079460000", "+442079460000")],  # national form; international
)
def test_a_carrier_that_asks_for_credentials_gets_its_trunks(api, sip_target, demo, trunks, anna, dialled, number):
    assert api("PATCH", f"/employees/{anna['id']}", {"outgoing_calls": "international"})[0] == 200
    port, carrier, secret = _digest_carrier(trunks)
    caller_rtp = RtpEndpoint()

    caller = phone_call(sip_target, demo, "101", dialled, rtp_port=caller_rtp.port, duration_ms=CALL_MS)
    called = caller.run()
    answered = carrier.wait()
    caller_rtp.close()

    assert called.returncode == 0, called.explain()
    assert answered.returncode == 0, answered.explain()
    first, second = [m for m in sip_log.received(answered.messages) if m.startswith("INVITE ")]
    assert second.startswith(f"INVITE sip:{number}@127.0.0.1:{port} ")
    assert sip_log.header(second, "P-Asserted-Identity") == f"<sip:{demo['number']}@demo.vpbx.test>"
    authorization = sip_log.header(second, "Authorization") or ""
    assert authorization.startswith("Digest ") and 'username="vpbx"' in authorization
    assert 'realm="carrier.test"' in authorization
    assert secret not in second  # a digest, never the password
    # The same CSeq on a new branch: kamailio.cfg says why not the next one.
    assert sip_log.header(first, "Via") != sip_log.header(second, "Via")
    assert sip_log.header(first, "CSeq") == sip_log.header(second, "CSeq")
    line = history_line(api, caller.call_id())
    assert (line["status"], line["direction"], [leg["target"] for leg in line["legs"]]) == (
        "answered",
        "outgoing",
        [f"phone {number}"],
    )
    assert line["trunk"] == "digest carrier"


def test_credentials_the_carrier_refuses_end_the_call_with_503_not_a_challenge_to_the_phone(
    api, sip_target, demo, trunks
):
    _, carrier, _ = _digest_carrier(trunks, right_password=False)

    caller = phone_call(
        sip_target,
        demo,
        "101",
        "89161234567",
        "phone_call_rejected.xml",
        values={"final": 503, "reason": "Q\\.850;cause=38"},
    )
    refused = caller.run()
    challenged_twice = carrier.wait()

    assert refused.returncode == 0, refused.explain()
    assert challenged_twice.returncode == 0, challenged_twice.explain()
    reply = sip_log.first(sip_log.received(refused.messages), "SIP/2.0 503")
    assert sip_log.header(reply, "Reason") == 'Q.850;cause=38;text="Credentials refused by the next hop"'
    assert sip_log.header(reply, "WWW-Authenticate") is None
    line = history_line(api, caller.call_id())
    assert (line["direction"], line["status"]) == ("outgoing", "missed")


@pytest.mark.parametrize(
    ("rule", "from_user", "expected_from", "expects_pai"),
    [
        ("pai", "acme-account", "acme-account", True),  # the carrier's account in From, the number in PAI
        ("from", None, None, False),  # the number in From only
    ],
)
def test_the_trunk_decides_where_the_caller_id_goes(
    api, sip_target, demo, carrier, trunks, anna, rule, from_user, expected_from, expects_pai
):
    trunks(
        "outbound carrier",
        address="127.0.0.1",
        port=carrier,
        outbound=True,
        priority=10,
        caller_id_header=rule,
        from_user=from_user,
    )

    _, invite, ok = _answered_by_carrier(sip_target, demo, carrier, "89161234567")

    shown = f"<sip:{demo['number']}@demo.vpbx.test>"
    from_user_part = sip_log.header(invite, "From").split("<sip:", 1)[1].split("@", 1)[0]
    assert from_user_part == (expected_from or demo["number"])
    assert sip_log.header(invite, "P-Asserted-Identity") == (shown if expects_pai else None)
    assert sip_log.header(ok, "From").startswith("<sip:101@demo.vpbx.test>")  # the phone still sees itself
