"""Destination ``queue``: the media app holds the caller until an agent is free.

Options: ``data["queue_id"]``. Its place in the plan is a node target; the
adapter does not ring it until that part of vpbx runs.
"""

from __future__ import annotations

from ..targets import Resolution, node_resolution


def resolve(data: dict, call, ctx) -> Resolution:
    node_id = data["queue_id"]
    return node_resolution(
        "queue", node_id, f"call queue {node_id}", "the media app holds the caller until an agent is free (R18)"
    )
