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
    decision = decide(schedule, at)
    return decision["open"], decision["reason"]


def decide(schedule: Data, at: datetime) -> Data:
    """Whether ``schedule`` is open at the aware instant ``at``, as data: the
    reason in words, and what decided: a weekly interval, a holiday or a
    special day (its dates and hours), or nothing (no interval covers the moment)."""
    local = at.astimezone(ZoneInfo(schedule["timezone"]))
    day = local.date().isoformat()  # ISO dates compare correctly as strings
    minute = local.hour * 60 + local.minute
    name = schedule["name"]
    moment = f"{DAYS[local.weekday()]} {local:%Y-%m-%d %H:%M} {schedule['timezone']}"

    def decided(is_in: bool, why: str, by: Data | None) -> Data:
        return {
            "schedule_id": schedule.get("id"),
            "schedule": name,
            "timezone": schedule["timezone"],
            "local_time": local.isoformat(timespec="minutes"),
            "open": is_in,
            "decided_by": by,
            "reason": f"schedule {name!r} is {'open' if is_in else 'closed'} on {moment}{why}",
        }

    for first, last, closed, start, end in schedule["exceptions"]:
        if first <= day <= last:
            if closed:
                return decided(False, f": holiday {first}..{last}", {"kind": "holiday", "first": first, "last": last})
            hours = {"start": clock(start), "end": clock(end)}
            return decided(
                start <= minute < end,
                f": special day, {clock(start)}-{clock(end)}",
                {"kind": "special_day", "first": first, "last": last, **hours},
            )
    for weekday, start, end in schedule["weekly"]:
        if weekday == local.weekday() and start <= minute < end:
            return decided(
                True,
                f": {DAYS[weekday]} {clock(start)}-{clock(end)}",
                {"kind": "weekly", "day": DAYS[weekday].lower(), "start": clock(start), "end": clock(end)},
            )
    return decided(False, "", None)
