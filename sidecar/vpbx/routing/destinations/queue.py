"""Destination ``queue``: the media app holds the caller until an agent is free.

Options: ``data["queue_id"]``. Its place in the plan is a node target; the
adapter does not ring it until that part of vpbx runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..targets import Data, Resolution, node_resolution
from .kind import Field, Handler, Kind, Option

if TYPE_CHECKING:
    from ..call import Call
    from ..plan import Context


def resolve(data: Data, call: Call, ctx: Context) -> Resolution:
    node_id = data["queue_id"]
    return node_resolution(
        "queue", node_id, f"call queue {node_id}", "the media app holds the caller until an agent is free (R18)"
    )


KIND = Kind("queue", Handler.NOT_RUN, resolve, Field("queue_id", Option.ID, "queue_id", "queue"))
