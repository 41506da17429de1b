"""One module per destination kind, each declaring itself as ``KIND`` (see .kind).

The kinds are the modules of this package, found by name as Kazoo finds its
callflow modules: adding a kind is adding its module. ``KINDS`` maps a
destination's ``kind`` to its declaration; an unknown kind is skipped with a
reason instead of failing the whole call.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType
from typing import TYPE_CHECKING

from ..targets import Data, Resolution
from .kind import Handler, Kind

if TYPE_CHECKING:
    from ..call import Call
    from ..plan import Context

# Every module here but the declarations' own, by name: the API's "one of"
# list and the OpenAPI document follow this order.
MODULES: tuple[ModuleType, ...] = tuple(
    importlib.import_module(f"{__name__}.{module.name}")
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda module: module.name)
    if module.name != "kind"
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
