"""Destination ``queue``: the media app holds the caller until an agent is free.

Options: ``data["queue_id"]``. Kamailio relays the caller to the media app
(media/nodes/queue.py), which keeps them in the queue's waiting line, shared
by every media app in Redis (media/waiting_line.py), and rings the agents
through Kamailio (routing.plan.build_agents_plan).
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
        "queue",
        node_id,
        f"call queue {node_id}",
        "the media app holds the caller until an agent is free (R18)",
        runs=True,
    )


KIND = Kind("queue", Handler.MEDIA_APP, resolve, Field("queue_id", Option.ID, "queue_id", "queue"))
