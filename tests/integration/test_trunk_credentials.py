"""Outbound trunks' digest credentials: stored whole, loaded by Kamailio, never shown."""

from __future__ import annotations

import secrets

import pytest

from vpbx.config.trunks import list_trunks, remove_trunk, save_trunk


@pytest.fixture
def name(db):
    trunk = f"credentials test {secrets.token_hex(3)}"
    yield trunk
    remove_trunk(db, trunk)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"auth_username": "vpbx"}, "both a username and a password"),
        ({"auth_password": "secret"}, "both a username and a password"),
        ({"auth_username": "vpbx", "auth_password": "x" * 129}, "the password must be 1 to 128 characters"),
        ({"auth_username": "vpbx", "auth_password": "secret", "outbound": False}, "for outbound trunks"),
    ],
)
def test_credentials_are_refused_unless_whole_and_for_an_outbound_trunk(db, name, fields, reason):
    with pytest.raises(ValueError, match=reason):
        save_trunk(db, **{"name": name, "address": "192.0.2.7", "port": 5060, "outbound": True, **fields})
    assert name not in [t.name for t in list_trunks(db)]


def test_kamailio_loads_the_credentials_by_trunk_and_the_listing_names_only_the_username(db, name):
    secret = secrets.token_urlsafe(12)
    saved = save_trunk(
        db, name=name, address="192.0.2.7", port=5060, outbound=True, auth_username="vpbx", auth_password=secret
    )

    rows = db.execute(
        "SELECT key_name, key_value FROM kamailio_trunk_auth WHERE key_name LIKE %s", (f"{saved.id}:%",)
    ).fetchall()
    assert {r["key_name"]: r["key_value"] for r in rows} == {f"{saved.id}:user": "vpbx", f"{saved.id}:password": secret}
    gateway = db.execute("SELECT attrs FROM kamailio_dispatcher WHERE id = %s", (saved.id,)).fetchone()
    assert gateway["attrs"] == f"trunk={saved.id};cid=from_and_pai"
    listed = next(t for t in list_trunks(db) if t.name == name)
    assert listed.auth_username == "vpbx"
    assert secret not in repr(listed)
