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
) -> Trunk:
    """Add the trunk, or change the one of that name."""
    _checked(address, port, region, priority)
    row = returning(
        conn.execute(
            """INSERT INTO trunks (name, address, port, region, outbound, priority)
           VALUES (%s, %s, %s, %s, %s, %s)
           ON CONFLICT (name) DO UPDATE SET address = EXCLUDED.address, port = EXCLUDED.port,
               region = EXCLUDED.region, outbound = EXCLUDED.outbound, priority = EXCLUDED.priority
           RETURNING id, name, host(address) AS address, port, region, outbound, priority""",
            (name, address, port, region, outbound, priority),
        )
    )
    return Trunk(**row)


def remove_trunk(conn: Connection, name: str) -> bool:
    return conn.execute("DELETE FROM trunks WHERE name = %s", (name,)).rowcount > 0


def list_trunks(conn: Connection) -> list[Trunk]:
    return [
        Trunk(**row)
        for row in conn.execute(
            """SELECT id, name, host(address) AS address, port, region, outbound, priority
           FROM trunks ORDER BY outbound DESC, priority DESC, name"""
        )
    ]


# kamailio.cfg rate-limits reloads to one per second per list (reload_delta):
# a reload refused as "ongoing" is asked again until this deadline.
RELOAD_DEADLINE_SECONDS = 5


def reload_kamailio(rpc: KamailioRpc) -> None:
    """Make Kamailio read both trunk lists again (after the change has committed)."""
    for method in ("permissions.addressReload", "dispatcher.reload"):
        deadline = time.monotonic() + RELOAD_DEADLINE_SECONDS
        while True:
            try:
                rpc.call(method)
                break
            except RpcError as exc:
                if "ongoing reload" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
