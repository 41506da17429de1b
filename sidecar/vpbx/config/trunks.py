"""Carrier trunks: inbound ones are trusted by source address, outbound ones are
the PSTN gateways Kamailio's dispatcher fails over between.

Trunks belong to the operator, not to a company, so they are managed from the
command line (``vpbx trunk``) or with an operator token (``/api/v1/trunks``),
never with a company's. Kamailio caches both lists; ``reload_kamailio`` makes
a change take effect without a restart.
"""

from __future__ import annotations

import ipaddress
import re
import time
from dataclasses import dataclass

import phonenumbers

from ..db import Connection, one, returning
from ..kamailio_rpc import KamailioRpc, RpcError
from ..routing.leg_names import REGISTERED_TRUNK_PREFIX


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
    # Registers to the carrier (with those credentials), at this domain.
    register: bool = False
    register_domain: str | None = None
    # How the carrier wants an outgoing call's caller presented (kamailio.cfg,
    # route PRESENT_CALLER): "from_and_pai", "pai" (From: ``from_user``, else
    # the digest username) or "from".
    caller_id_header: str = "from_and_pai"
    from_user: str | None = None


CALLER_ID_HEADERS = ("from_and_pai", "pai", "from")
FROM_USER = re.compile(r"^[A-Za-z0-9._+-]{1,64}$")
DOMAIN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
COLUMNS = (
    "id, name, host(address) AS address, port, region, outbound, priority, auth_username, register, register_domain, "
    "caller_id_header, from_user"
)


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
    register: bool = False,
    register_domain: str | None = None,
    caller_id_header: str = "from_and_pai",
    from_user: str | None = None,
    trunk_id: int | None = None,
) -> Trunk:
    """Add the trunk, or change the one of that name (of ``trunk_id``, when
    given: a rename). ``auth_username`` and ``auth_password``: the digest
    credentials an outbound carrier asks for (Kamailio answers its 401 or 407
    with them); both or neither, except that a change of ``trunk_id`` without
    a password keeps the one stored (it is never read back out)."""
    _checked(address, port, region, priority)
    keeps_password = trunk_id is not None and auth_username is not None and auth_password is None
    if (auth_username is None) != (auth_password is None) and not keeps_password:
        raise ValueError("digest credentials need both a username and a password")
    for what, value in (("username", auth_username), ("password", auth_password)):
        if value is not None and not 1 <= len(value) <= 128:
            raise ValueError(f"the {what} must be 1 to 128 characters")
    if auth_username is not None and not outbound:
        raise ValueError("digest credentials are for outbound trunks: inbound ones are trusted by address")
    if register and auth_username is None:
        raise ValueError("registering to a carrier needs its digest credentials")
    if register_domain is not None and not DOMAIN.fullmatch(register_domain):
        raise ValueError(f"register domain {register_domain!r}: not a domain name")
    if caller_id_header not in CALLER_ID_HEADERS:
        raise ValueError(f"caller ID header {caller_id_header!r}: one of {', '.join(CALLER_ID_HEADERS)}")
    if from_user is not None and not FROM_USER.fullmatch(from_user):
        raise ValueError(f"From user {from_user!r}: 1 to 64 letters, digits, '.', '_', '+' or '-'")
    if trunk_id is not None:
        return _update(
            conn,
            trunk_id,
            keeps_password,
            (name, address, port, region, outbound, priority, auth_username),
            auth_password,
            (register, register_domain, caller_id_header, from_user),
        )
    row = returning(
        conn.execute(
            f"""INSERT INTO trunks (name, address, port, region, outbound, priority, auth_username, auth_password,
                                register, register_domain, caller_id_header, from_user)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (name) DO UPDATE SET address = EXCLUDED.address, port = EXCLUDED.port,
               region = EXCLUDED.region, outbound = EXCLUDED.outbound, priority = EXCLUDED.priority,
               auth_username = EXCLUDED.auth_username, auth_password = EXCLUDED.auth_password,
               register = EXCLUDED.register, register_domain = EXCLUDED.register_domain,
               caller_id_header = EXCLUDED.caller_id_header, from_user = EXCLUDED.from_user
           RETURNING {COLUMNS}""",
            (
                name,
                address,
                port,
                region,
                outbound,
                priority,
                auth_username,
                auth_password,
                register,
                register_domain,
                caller_id_header,
                from_user,
            ),
        )
    )
    return Trunk(**row)


def _update(conn: Connection, trunk_id: int, keeps_password: bool, fields, auth_password, registration) -> Trunk:
    stored = conn.execute("SELECT auth_password IS NOT NULL AS has FROM trunks WHERE id = %s", (trunk_id,)).fetchone()
    if stored is None:
        raise LookupError(f"no trunk {trunk_id}")
    if keeps_password and not stored["has"]:
        raise ValueError("digest credentials need both a username and a password")
    row = conn.execute(
        f"""UPDATE trunks SET name = %s, address = %s, port = %s, region = %s, outbound = %s, priority = %s,
               auth_username = %s,
               auth_password = CASE WHEN %s THEN auth_password ELSE %s END,
               register = %s, register_domain = %s, caller_id_header = %s, from_user = %s
           WHERE id = %s RETURNING {COLUMNS}""",
        (*fields, keeps_password, auth_password, *registration, trunk_id),
    ).fetchone()
    return Trunk(**one(row, f"trunk {trunk_id}"))


def remove_trunk(conn: Connection, name: str) -> int | None:
    """Remove the trunk of that name; its id (None: there was none)."""
    row = conn.execute("DELETE FROM trunks WHERE name = %s RETURNING id", (name,)).fetchone()
    return row["id"] if row else None


def list_trunks(conn: Connection) -> list[Trunk]:
    return [
        Trunk(**row)
        for row in conn.execute(f"SELECT {COLUMNS} FROM trunks ORDER BY outbound DESC, priority DESC, name")
    ]


# kamailio.cfg rate-limits reloads to one per second per list (reload_delta):
# a reload refused as "ongoing" is asked again until this deadline.
RELOAD_DEADLINE_SECONDS = 5


# What Kamailio reads again after a trunk changes: the inbound trunks' ACL, the
# outbound gateways, and the gateways' credentials (kamailio.cfg: trunk_auth).
# Registrations are refreshed one trunk at a time: uac reloads all of them at
# most once per 150 s (reg_gc_interval), while in-flight REGISTERs may still
# use the old records.
RELOADS = (("permissions.addressReload",), ("dispatcher.reload",), ("htable.reload", "trunk_auth"))


def reload_kamailio(rpc: KamailioRpc, registering: dict[int, bool] | None = None) -> None:
    """Make Kamailio read the trunks again (after the change has committed).
    ``registering``: trunks changed or removed, by id, and whether each
    registers now: its registration is refreshed, or ended and forgotten."""
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
    for trunk_id, registers in (registering or {}).items():
        l_uuid = f"{REGISTERED_TRUNK_PREFIX}{trunk_id}"
        if registers:
            rpc.call("uac.reg_refresh", l_uuid)
            continue
        try:
            rpc.call("uac.reg_unregister", l_uuid)  # tell the carrier, if it was registered
        except RpcError:
            pass  # never registered, or never loaded: nothing to tell
        try:
            rpc.call("uac.reg_remove", l_uuid)
        except RpcError as exc:
            if "not found" not in str(exc).lower():
                raise


# uac's registration flags (uac_reg.c, Kamailio 5.6).
_REG_DISABLED, _REG_ONGOING, _REG_ONLINE = 1 << 0, 1 << 1, 1 << 2


def registrations(rpc: KamailioRpc, conn: Connection) -> dict[str, str]:
    """Each registering trunk's state, by name: "registered", "registering",
    "disabled", or "not registered" (refused or unanswered: tried again soon)."""
    names = {f"{REGISTERED_TRUNK_PREFIX}{t.id}": t.name for t in list_trunks(conn) if t.register}
    states = dict.fromkeys(names.values(), "not registered")
    for record in rpc.call("uac.reg_dump") or []:
        name = names.get(record.get("l_uuid", ""))
        if name is None:
            continue
        flags = int(record.get("flags", 0))
        if flags & _REG_ONLINE:
            states[name] = "registered"
        elif flags & _REG_DISABLED:
            states[name] = "disabled"
        elif flags & _REG_ONGOING:
            states[name] = "registering"
    return states
