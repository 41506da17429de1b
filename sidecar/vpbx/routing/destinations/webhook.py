"""Destination ``webhook``: the customer's URL chooses the route.

Options: ``data["webhook_id"]``. Its place in the plan is a node target; the
adapter does not ring it until that part of vpbx runs.
"""

from __future__ import annotations

from ..targets import Resolution, node_resolution


def resolve(data: dict, call, ctx) -> Resolution:
    node_id = data["webhook_id"]
    return node_resolution("webhook", node_id, f"webhook {node_id}", "the customer's URL chooses the route (R17)")
