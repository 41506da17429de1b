"""The nodes the media app answers, one module each: routing's media-app kinds
(vpbx.routing.destinations: voicemail, ivr) and the announcements of a scheme.

Each module has ``WHAT`` (its name in errors), ``find(ctx, id, company_id)``
(the node in the company of the call, None if it has none) and
``run(call, node, ctx)`` (the call's flow there), and uses the media app only
through its NodeContext. Adding a node is a module here and its line below.
"""

from __future__ import annotations

from types import ModuleType

from . import announce, ivr, voicemail
from .context import NodeContext

NODES: dict[str, ModuleType] = {"voicemail": voicemail, "ivr": ivr, "announce": announce}

__all__ = ["NODES", "NodeContext"]
