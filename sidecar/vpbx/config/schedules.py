"""Reading a schedule's rows: shared by the API (to show it) and compile (to route by it)."""

from __future__ import annotations

from dataclasses import dataclass

from ..db import Connection


@dataclass(frozen=True)
class ScheduleRows:
    schedule: dict  # id, name, timezone
    weekly: list[dict]  # weekday, start_minute, end_minute
    exceptions: list[dict]  # start_date, end_date, closed, start_minute, end_minute


def read_schedule(conn: Connection, schedule_id: int, company_id: int | None = None) -> ScheduleRows | None:
    """The schedule and its rows; None if it does not exist (in that company, when one is given)."""
    schedule = conn.execute(
        "SELECT id, name, timezone FROM schedules WHERE id = %s AND (%s::bigint IS NULL OR company_id = %s)",
        (schedule_id, company_id, company_id),
    ).fetchone()
    if schedule is None:
        return None
    weekly = conn.execute(
        "SELECT weekday, start_minute, end_minute FROM schedule_intervals WHERE schedule_id = %s "
        "ORDER BY weekday, start_minute",
        (schedule_id,),
    ).fetchall()
    exceptions = conn.execute(
        "SELECT start_date, end_date, closed, start_minute, end_minute FROM schedule_exceptions "
        "WHERE schedule_id = %s ORDER BY start_date",
        (schedule_id,),
    ).fetchall()
    return ScheduleRows(schedule, weekly, exceptions)
