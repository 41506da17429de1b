"""One module per destination kind, each exporting ``resolve(data, call, ctx) -> Resolution``.

The registry maps a destination's ``kind`` to its module; a kind without a
module yet is skipped with a reason instead of failing the whole call.
"""

from __future__ import annotations

from types import ModuleType

from ..targets import Resolution
from . import department, employee, phone_number, secretary, sip_account, sip_uri

REGISTRY: dict[str, ModuleType] = {
    "department": department,
    "employee": employee,
    "phone_number": phone_number,
    "secretary": secretary,
    "sip_account": sip_account,
    "sip_uri": sip_uri,
}


def resolve(data: dict, call, ctx) -> Resolution:
    module = REGISTRY.get(data.get("kind"))
    if module is None:
        return Resolution((), (f"destination kind {data.get('kind')!r} is not routable yet, skipped",))
    return module.resolve(data, call, ctx)
