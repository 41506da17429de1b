"""The one "now" of the test suite, for data that must be current when a test runs.

Tests that ask about a fixed moment (the routing clock pinned in Redis, an
explained route ``at`` a given instant, history events with their own times)
need no "now" at all. Only what the code compares with the real clock (an
absence the compiler keeps while it is not over, a voicemail link's age) takes
its dates from here, so the suite means the same thing on any day: it is run
with the clock moved years ahead and behind (README, "Tests and the calendar").
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

NOW = datetime.now(UTC)


def day(offset: int, tz: str = "Europe/Moscow") -> date:
    """The date ``offset`` days from today in ``tz`` (the demo company's by default)."""
    return NOW.astimezone(ZoneInfo(tz)).date() + timedelta(days=offset)


def noon(on: date, tz: str = "Europe/Moscow") -> str:
    """ISO instant of noon on ``on`` in ``tz``, as the explain endpoint takes it."""
    return datetime.combine(on, time(12), ZoneInfo(tz)).isoformat()
