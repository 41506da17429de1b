"""Carrier trunks: inbound ones are trusted by source address, outbound ones are
the PSTN gateways Kamailio's dispatcher fails over between.

Trunks belong to the operator, not to a company, so they are managed from the
command line (``vpbx trunk``), not the tenants' API. Kamailio caches both
lists; ``reload_kamailio`` makes a change take effect without a restart.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass

import phonenumbers

from ..db import Connection, returning
from ..kamailio_rpc import KamailioRpc, RpcError


@dataclass(frozen=True)
class Trunk:
    id: int
    name: str
    address: str
    port: int
    region: str
    outbound: bool
    priority: int
    # The username of the digest credentials the carrier asks for (its
    # password is never read back out of the database).
    auth_username: str | None = None


def _checked(address: str, port: int, region: str, priority: int) -> None:
    ipaddress.ip_network(address, strict=False)  # ValueError names the bad address
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port}: must be 0 (any) to 65535")
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"region {region!r}: not an ISO 3166 region phonenumbers knows")
    if not 0 <= priority <= 1000:
        raise ValueError(f"priority {priority}: must be 0 to 1000 (highest is tried first)")


def save_trunk(
    conn: Connection,
    *,
    name: str,
    address: str,
    port: int = 0,
    region: str = "RU",
    outbound: bool = False,
    priority: int = 0,
    auth_username: str | None = None,
    auth_password: str | None = None,
) -> Trunk:
    """Add the trunk, or change the one of that name. ``auth_username`` and
    ``auth_password``: the digest credentials an outbound carrier asks for
    (Kamailio answers its 401 or 407 with them); both or neither."""
    _checked(address, port, region, priority)
    if (auth_username is None) != (auth_password is None):
        raise ValueError("digest credentials need both a username and a password")
    for what, value in (("username", auth_username), ("password", auth_password)):
        if value is not None and not 1 <= len(value) <= 128:
            raise ValueError(f"the {what} must be 1 to 128 characters")
    if auth_username is not None and not outbound:
        raise ValueError("digest credentials are for outbound trunks: inbound ones are trusted by address")
    row = returning(
        conn.execute(
            """INSERT INTO trunks (name, address, port, region, outbound, priority, auth_username, auth_password)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (name) DO UPDATE SET address = EXCLUDED.address, port = EXCLUDED.port,
               region = EXCLUDED.region, outbound = EXCLUDED.outbound, priority = EXCLUDED.priority,
               auth_username = EXCLUDED.auth_username, auth_password = EXCLUDED.auth_password
           RETURNING id, name, host(address) AS address, port, region, outbound, priority, auth_username""",
            (name, address, port, region, outbound, priority, auth_username, auth_password),
        )
    )
    return Trunk(**row)


def remove_trunk(conn: Connection, name: str) -> bool:
    return conn.execute("DELETE FROM trunks WHERE name = %s", (name,)).rowcount > 0


def list_trunks(conn: Connection) -> list[Trunk]:
    return [
        Trunk(**row)
        for row in conn.execute(
            """SELECT id, name, host(address) AS address, port, region, outbound, priority, auth_username
           FROM trunks ORDER BY outbound DESC, priority DESC, name"""
        )
    ]


# kamailio.cfg rate-limits reloads to one per second per list (reload_delta):
# a reload refused as "ongoing" is asked again until this deadline.
RELOAD_DEADLINE_SECONDS = 5


# What Kamailio reads again after a trunk changes: the inbound trunks' ACL, the
# outbound gateways, and the gateways' credentials (kamailio.cfg: trunk_auth).
RELOADS = (("permissions.addressReload",), ("dispatcher.reload",), ("htable.reload", "trunk_auth"))


def reload_kamailio(rpc: KamailioRpc) -> None:
    """Make Kamailio read the trunks again (after the change has committed)."""
    for method, *params in RELOADS:
        deadline = time.monotonic() + RELOAD_DEADLINE_SECONDS
        while True:
            try:
                rpc.call(method, *params)
                break
            except RpcError as exc:
                if "ongoing reload" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
