"""Destination ``sip_uri``: an external SIP address, relayed to as it is.

Options: ``uri``, e.g. ``sip:reception@partner.example``.
"""

from __future__ import annotations

from ..targets import Resolution, Target


def resolve(data: dict, call, ctx) -> Resolution:
    target = Target(uri=data["uri"], via_location=False, label=f"SIP address {data['uri']}")
    return Resolution((target,), (f"ring {target.label}",))
