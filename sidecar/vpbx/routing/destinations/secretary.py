"""Destination ``secretary``: the employee who takes the company's calls and transfers them (seed 004).

Options: as ``employee`` (``data["employee"]``). Rung exactly as that
employee, skipped the same way when away; the reasons name the role.
"""

from __future__ import annotations

from ..targets import Resolution
from . import employee


def resolve(data: dict, call, ctx) -> Resolution:
    resolution = employee.resolve(data, call, ctx)
    return Resolution(resolution.targets, tuple(f"{r} (secretary)" for r in resolution.reasons))
