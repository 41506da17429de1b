"""A phone registers with digest auth against HA1 credentials in PostgreSQL."""

from __future__ import annotations

import pytest

from vpbx.kamailio_rpc import RpcError
from vpbx.stack.services import Kamailio

from .sipp import free_udp_port


def _contacts(rpc, aor: str) -> list[str]:
    try:
        record = rpc.call("ul.lookup", "location", aor)
    except RpcError:
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


def test_registration_survives_a_kamailio_restart(register, rpc, stack, no_registrations):
    contact_port = free_udp_port()
    assert register("101", contact_port)[0] == 200

    kamailio = Kamailio(stack)
    assert kamailio.stop()
    kamailio.start()

    assert _contacts(rpc, "101@demo.vpbx.test") == [f"sip:101@127.0.0.1:{contact_port}"]
