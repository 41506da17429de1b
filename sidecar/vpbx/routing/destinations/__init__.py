"""One module per destination kind, each exporting ``resolve(data, call, ctx) -> Resolution``.

The registry maps a destination's ``kind`` to its module; an unknown kind is
skipped with a reason instead of failing the whole call.
"""

from __future__ import annotations

from types import ModuleType
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

if TYPE_CHECKING:
    from ..call import Call
    from ..plan import Context

REGISTRY: dict[str, ModuleType] = {
    "department": department,
    "employee": employee,
    "ivr": ivr,
    "phone_number": phone_number,
    "queue": queue,
    "responsible_manager": responsible_manager,
    "secretary": secretary,
    "sip_account": sip_account,
    "sip_uri": sip_uri,
    "voicemail": voicemail,
    "webhook": webhook,
}


def resolve(data: Data, call: Call, ctx: Context) -> Resolution:
    module = REGISTRY.get(str(data.get("kind")))
    if module is None:
        return Resolution((), (f"destination kind {data.get('kind')!r} is unknown, skipped",))
    resolution: Resolution = module.resolve(data, call, ctx)
    return resolution
