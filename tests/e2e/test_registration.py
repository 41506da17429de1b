"""A phone registers with digest auth against HA1 credentials in PostgreSQL."""

from __future__ import annotations

import pytest

from vpbx.kamailio_rpc import RpcError
from vpbx.stack.services import Kamailio

from . import sip_log
from .sipp import Sipp, free_udp_port


def _contacts(rpc, aor: str) -> list[str]:
    try:
        record = rpc.call("ul.lookup", "location", aor)
    except RpcError as error:
        if "AOR not found" not in str(error):
            raise
        return []
    return [c["Contact"]["Address"] for c in record["Contacts"]] if record else []


def _stored(db, login: str) -> list[str]:
    rows = db.execute(
        "SELECT contact FROM location WHERE username = %s AND domain = 'demo.vpbx.test'", (login,)
    ).fetchall()
    return [r["contact"] for r in rows]


def test_phone_registers_with_its_password(register, rpc, db, no_registrations):
    contact_port = free_udp_port()

    status, _ = register("101", contact_port)

    assert status == 200
    expected = f"sip:101@127.0.0.1:{contact_port}"
    assert _contacts(rpc, "101@demo.vpbx.test") == [expected]
    assert _stored(db, "101") == [expected]  # written through, not only in memory


@pytest.mark.parametrize("password", ["wrong-password", ""])
def test_wrong_password_gets_403_and_nothing_is_stored(register, rpc, db, no_registrations, password):
    status, _ = register("102", free_udp_port(), password=password)

    assert status == 403
    assert _contacts(rpc, "102@demo.vpbx.test") == []
    assert _stored(db, "102") == []


def test_unknown_domain_cannot_register(register, rpc, no_registrations):
    status, _ = register("101", free_udp_port(), domain="other.vpbx.test")

    assert status == 403
    assert _contacts(rpc, "101@other.vpbx.test") == []


def test_registration_survives_a_kamailio_restart(register, rpc, db, stack, no_registrations):
    contact_port = free_udp_port()
    assert register("101", contact_port)[0] == 200
    assert _stored(db, "101") == [f"sip:101@127.0.0.1:{contact_port}"]  # written through before the 200

    kamailio = Kamailio(stack)
    assert kamailio.stop()
    kamailio.start()

    assert _contacts(rpc, "101@demo.vpbx.test") == [f"sip:101@127.0.0.1:{contact_port}"]


def test_a_phone_behind_nat_is_reached_at_its_public_address(stack, rpc, sip_target, demo, no_registrations):
    # The phone writes its private LAN address into Via and Contact; its packets
    # arrive from 127.0.0.1:port, the "public" side of its NAT. (This NAT keeps
    # the port, so replies reach it through Via's received= alone.)
    private, port = "192.168.1.10", free_udp_port()
    account = next(a for a in demo["accounts"] if a["login"] == "101")
    registration = Sipp(
        "register_behind_nat.xml",
        port=port,
        remote=sip_target,
        service="101",
        auth=("101", account["password"]),
        keys={"domain": account["domain"], "private_ip": private},
    ).run()
    assert registration.returncode == 0, registration.explain()
    contact = rpc.call("ul.lookup", "location", "101@demo.vpbx.test")["Contacts"][0]["Contact"]
    assert contact["Address"] == f"sip:101@{private}:{port}"
    assert contact["Received"] == f"sip:127.0.0.1:{port}"

    phone = Sipp("uas_answer.xml", port=port, keys={"rtp_port": free_udp_port()}).start()
    carrier = Sipp(
        "uac_call.xml",
        port=stack.ports.demo_trunk,
        remote=sip_target,
        service=demo["number"],
        keys={"rtp_port": free_udp_port()},
        duration_ms=500,
    )
    carrier_result = carrier.run()
    phone_result = phone.wait()

    # INVITE, ACK and BYE all reached the phone through its NAT binding.
    assert carrier_result.returncode == 0, carrier_result.explain()
    assert phone_result.returncode == 0, phone_result.explain()
    assert sip_log.first(sip_log.received(phone_result.messages), "BYE ")


def test_passwords_never_reach_the_logs(register, stack, demo, no_registrations):
    wrong = "Wr0ngButSecret"
    assert register("101", free_udp_port())[0] == 200
    assert register("102", free_udp_port(), password=wrong)[0] == 403

    secrets = [a["password"] for a in demo["accounts"]] + [wrong]
    for log in stack.log_dir.iterdir():
        text = log.read_text(errors="replace")
        assert not [s for s in secrets if s in text], f"a password is in {log}"


def test_deleting_an_employee_unregisters_their_phones(api, rpc, db, sip_target):
    """Else, until the registration expires, a new employee given the same
    login would have their calls forked to the old employee's phone too."""
    status, leaver = api("POST", "/employees", {"name": "Leaver", "extension": "177", "send_welcome_email": False})
    assert status == 201, leaver
    registration = Sipp(
        "register.xml",
        port=free_udp_port(),
        remote=sip_target,
        service="177",
        auth=("177", leaver["sip_password"]),
        keys={"domain": "demo.vpbx.test", "contact_port": free_udp_port()},
    ).run()
    assert sip_log.status(sip_log.received(registration.messages)[-1]) == 200
    assert len(_contacts(rpc, "177@demo.vpbx.test")) == 1

    status, body = api("DELETE", f"/employees/{leaver['id']}")

    assert status == 204, body
    assert _contacts(rpc, "177@demo.vpbx.test") == []
    assert _stored(db, "177") == []
