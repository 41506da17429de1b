"""Is a schedule open at a given moment? Pure: the moment is a parameter.

A compiled schedule (see vpbx.config.compile) is read in its own timezone:

    {"name": "Office hours", "timezone": "Europe/Moscow",
     "weekly": [[weekday, start_minute, end_minute], ...],          # 0 = Monday
     "exceptions": [[first_day, last_day, closed, start_minute, end_minute], ...]}

Minutes count from local midnight (0..1440), so wall-clock hours mean what
people mean across DST changes: zoneinfo turns the instant into local time.
An exception (holiday, or extra working day with its own hours) overrides the
weekly intervals on the days it covers.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from .targets import Data

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def is_open(schedule: Data, at: datetime) -> tuple[bool, str]:
    """Whether ``schedule`` is open at the aware instant ``at``, and why."""
    local = at.astimezone(ZoneInfo(schedule["timezone"]))
    day = local.date().isoformat()  # ISO dates compare correctly as strings
    minute = local.hour * 60 + local.minute
    name = schedule["name"]
    moment = f"{DAYS[local.weekday()]} {local:%Y-%m-%d %H:%M} {schedule['timezone']}"
    for first, last, closed, start, end in schedule["exceptions"]:
        if first <= day <= last:
            if closed:
                return False, f"schedule {name!r} is closed on {moment}: holiday {first}..{last}"
            is_in = start <= minute < end
            state = "open" if is_in else "closed"
            return is_in, f"schedule {name!r} is {state} on {moment}: special day, {clock(start)}-{clock(end)}"
    for weekday, start, end in schedule["weekly"]:
        if weekday == local.weekday() and start <= minute < end:
            return True, f"schedule {name!r} is open on {moment}: {DAYS[weekday]} {clock(start)}-{clock(end)}"
    return False, f"schedule {name!r} is closed on {moment}"
