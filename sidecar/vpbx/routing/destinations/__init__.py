"""One module per destination kind, each declaring itself as ``KIND`` (see .kind).

``KINDS`` maps a destination's ``kind`` to its declaration; an unknown kind is
skipped with a reason instead of failing the whole call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..targets import Data, Resolution
from . import (
    department,
    employee,
    ivr,
    phone_number,
    queue,
    responsible_manager,
    secretary,
    sip_account,
    sip_uri,
    voicemail,
    webhook,
)
from .kind import Handler, Kind

if TYPE_CHECKING:
    from ..call import Call
    from ..plan import Context

# The order is the API's (its "one of" list and the OpenAPI document).
MODULES = (
    employee,
    sip_account,
    department,
    phone_number,
    sip_uri,
    voicemail,
    ivr,
    queue,
    webhook,
    secretary,
    responsible_manager,
)
KINDS: dict[str, Kind] = {module.KIND.name: module.KIND for module in MODULES}


def handled_by(handler: Handler) -> tuple[str, ...]:
    """The kinds ``handler`` carries out."""
    return tuple(name for name, kind in KINDS.items() if kind.handled_by is handler)


def resolve(data: Data, call: Call, ctx: Context) -> Resolution:
    kind = KINDS.get(str(data.get("kind")))
    if kind is None:
        return Resolution((), (f"destination kind {data.get('kind')!r} is unknown, skipped",))
    return kind.resolve(data, call, ctx)
