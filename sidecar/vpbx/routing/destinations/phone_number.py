"""Destination ``phone_number``: a mobile or landline, reached through the outbound trunks (R8).

Options: ``data["number"]`` in E.164. The target's host is a placeholder:
Kamailio's dispatcher puts the gateway there when the step rings, and moves
to the next gateway when one fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..targets import Data, Resolution, Target
from .kind import Field, Handler, Kind, Option

if TYPE_CHECKING:
    from ..call import Call
    from ..plan import Context

# Replaced by the chosen gateway's address before anything is sent (RFC 6761: never resolves).
PSTN_HOST = "pstn.invalid"


def pstn_target(number: str, label: str, **target_fields: Any) -> Target:
    """A number in E.164 rung through the outbound gateways."""
    return Target(uri=f"sip:{number}@{PSTN_HOST}", via_location=False, label=label, via_trunk=True, **target_fields)


def resolve(data: Data, call: Call, ctx: Context) -> Resolution:
    number = data["number"]
    label = f"phone {number}"
    if number == call.called:
        # The carrier would hand the call straight back to this number: a loop.
        return Resolution((), (f"skip {label}: it is the number being called",))
    return Resolution((pstn_target(number, label),), (f"ring {label} through the outbound trunk",))


KIND = Kind("phone_number", Handler.KAMAILIO, resolve, Field("number", Option.PHONE_NUMBER, "phone_number"))
