"""Destination ``responsible_manager``: the employee the CRM says owns the caller (R16).

No options. Its place in the plan is a node target: the CRM lookup (a later
part of vpbx) replaces it with the manager, or moves on when the caller is unknown.
"""

from __future__ import annotations

from ..targets import Resolution, node_resolution


def resolve(data: dict, call, ctx) -> Resolution:
    return node_resolution("responsible_manager", None, "responsible manager",
                           "the CRM names the caller's manager (R16)")
