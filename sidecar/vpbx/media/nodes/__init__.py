"""The nodes the media app answers, one module each, named as routing names
the node: routing's media-app kinds (vpbx.routing.destinations: voicemail,
ivr) and the announcements of a scheme.

Each module has ``WHAT`` (its name in errors), ``find(ctx, id, company_id)``
(the node in the company of the call, None if it has none) and
``run(call, node, ctx)`` (the call's flow there), and uses the media app only
through its NodeContext. Adding a node is adding its module.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from .context import NodeContext

NODES: dict[str, ModuleType] = {
    module.name: importlib.import_module(f"{__name__}.{module.name}")
    for module in pkgutil.iter_modules(__path__)
    if module.name != "context"
}

__all__ = ["NODES", "NodeContext"]
