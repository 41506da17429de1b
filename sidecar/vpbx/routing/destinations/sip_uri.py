"""Destination ``sip_uri``: an external SIP address, relayed to as it is.

Options: ``uri``, e.g. ``sip:reception@partner.example``.

A URI naming this system itself (a loopback address: our Kamailio, the media
app) or no single host (broadcast, multicast, link-local, metadata) is never
rung: a company could otherwise reach another company's voicemail box through
the media app, or make Kamailio loop. The API refuses such URIs; this check
stands for rows written before it did.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ...addresses import literal, own_or_unroutable, special_name
from ..targets import Data, Resolution, Target
from .kind import Field, Handler, Kind, Option

if TYPE_CHECKING:
    from ..call import Call
    from ..plan import Context

# sip:user@host, sip:user@host:port;params, sip:user@[v6]:port
_HOST = re.compile(r"^sips?:(?:[^@]*@)?(\[[^\]]*\]|[^:;?>]+)")


def host_of(uri: str) -> str | None:
    match = _HOST.match(uri.strip())
    return match.group(1) if match else None


def refused(uri: str) -> str | None:
    """Why this URI may never be rung, or None."""
    host = host_of(uri)
    if host is None:
        return "is not a SIP URI"
    address = literal(host)
    reason = own_or_unroutable(address) if address is not None else special_name(host)
    return f"{host} {reason}" if reason else None


def resolve(data: Data, call: Call, ctx: Context) -> Resolution:
    label = f"SIP address {data['uri']}"
    reason = refused(data["uri"])
    if reason:
        return Resolution((), (f"skip {label}: {reason}",))
    target = Target(uri=data["uri"], via_location=False, label=label)
    return Resolution((target,), (f"ring {target.label}",))


KIND = Kind("sip_uri", Handler.KAMAILIO, resolve, Field("uri", Option.SIP_URI, "sip_uri"))
