"""/api/v1/schedules: weekly hours with holidays and extra working days (R1, R6, R9).

A schedule is written whole (POST, PUT). Hours are "HH:MM" in the schedule's
timezone (the company's when it has none); "24:00" ends a day.
"""

from __future__ import annotations

import re
from itertools import pairwise

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..config.schedules import read_schedule
from .blueprints import api_blueprint
from .fields import Name, timezone_name
from .resources import Service, routes

blueprint = api_blueprint("schedules", "/schedules", "Working hours, holidays and extra working days")

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
CLOCK = re.compile(r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")


class ClockTime(fields.String):
    """ "HH:MM" on the wire, minutes since midnight inside; "24:00" is the end of the day."""

    def __init__(self, **kwargs):
        kwargs["metadata"] = {
            "description": 'a time of day, "HH:MM" from 00:00 to 24:00 ("24:00": the end of the day, as an end only)',
            "pattern": CLOCK.pattern,
            "example": "09:00",
            **kwargs.get("metadata", {}),
        }
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not CLOCK.match(value):
            raise ValidationError("a time of day as HH:MM, 00:00 to 24:00")
        hours, minutes = value.split(":")
        return int(hours) * 60 + int(minutes)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else f"{value // 60:02d}:{value % 60:02d}"


def _ordered(data: dict) -> None:
    if "start" in data and "end" in data and data["end"] <= data["start"]:
        raise ValidationError("ends before it starts (split a night shift at midnight)", "end")


class HoursSchema(Schema):
    start = ClockTime(required=True)
    end = ClockTime(required=True)

    @validates_schema
    def ordered(self, data, **kwargs):
        _ordered(data)


class IntervalSchema(HoursSchema):
    day = fields.String(required=True, validate=validate.OneOf(DAYS))


class ExceptionSchema(Schema):
    start = fields.Date(required=True, metadata={"description": "First day, inclusive"})
    end = fields.Date(required=True, metadata={"description": "Last day, inclusive"})
    closed = fields.Boolean(load_default=True, metadata={"description": "A holiday; false: an extra working day"})
    hours = fields.Nested(HoursSchema, load_default=None, metadata={"description": "Hours of an extra working day"})

    @validates_schema
    def consistent(self, data, **kwargs):
        if data["end"] < data["start"]:
            raise ValidationError("ends before it starts", "end")
        if not data["closed"] and data.get("hours") is None:
            raise ValidationError("an extra working day needs its hours", "hours")
        if data["closed"] and data.get("hours") is not None:
            raise ValidationError("a holiday has no hours", "hours")


class ScheduleSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Name(required=True)
    timezone = fields.String(load_default=None, allow_none=True, validate=timezone_name)
    weekly = fields.List(fields.Nested(IntervalSchema), load_default=list)
    exceptions = fields.List(fields.Nested(ExceptionSchema), load_default=list)

    @validates_schema
    def no_overlaps(self, data, **kwargs):
        errors: dict = {}
        weekly = sorted(enumerate(data.get("weekly", [])), key=lambda item: (item[1]["day"], item[1]["start"]))
        for (_, a), (b_index, b) in pairwise(weekly):
            if a["day"] == b["day"] and b["start"] < a["end"]:
                errors[b_index] = {"start": [f"overlaps {a['day']} {_clock(a['start'])}-{_clock(a['end'])}"]}
        if errors:
            raise ValidationError(errors, "weekly")
        dated = sorted(enumerate(data.get("exceptions", [])), key=lambda item: item[1]["start"])
        for (_, a), (b_index, b) in pairwise(dated):
            if b["start"] <= a["end"]:
                errors[b_index] = {"start": [f"overlaps the exception {a['start']}..{a['end']}"]}
        if errors:
            raise ValidationError(errors, "exceptions")


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


class Schedules(Service):
    what = "schedule"
    table = "schedules"
    id_name = "schedule_id"
    schema = ScheduleSchema

    def load(self, conn, company_id: int, object_id: int) -> dict:
        rows = read_schedule(conn, object_id, company_id)
        if rows is None:
            raise self.not_found()
        return {
            **rows.schedule,
            "weekly": [
                {"day": DAYS[r["weekday"]], "start": r["start_minute"], "end": r["end_minute"]} for r in rows.weekly
            ],
            "exceptions": [
                {
                    "start": r["start_date"],
                    "end": r["end_date"],
                    "closed": r["closed"],
                    "hours": None if r["closed"] else {"start": r["start_minute"], "end": r["end_minute"]},
                }
                for r in rows.exceptions
            ],
        }

    def write(self, conn, object_id: int, data: dict) -> None:
        conn.execute(
            "UPDATE schedules SET name = %s, timezone = %s WHERE id = %s", (data["name"], data["timezone"], object_id)
        )
        conn.execute("DELETE FROM schedule_intervals WHERE schedule_id = %s", (object_id,))
        conn.execute("DELETE FROM schedule_exceptions WHERE schedule_id = %s", (object_id,))
        for interval in data["weekly"]:
            conn.execute(
                """INSERT INTO schedule_intervals (schedule_id, weekday, start_minute, end_minute)
                   VALUES (%s, %s, %s, %s)""",
                (object_id, DAYS.index(interval["day"]), interval["start"], interval["end"]),
            )
        for exception in data["exceptions"]:
            hours = exception.get("hours") or {}
            conn.execute(
                """INSERT INTO schedule_exceptions (schedule_id, start_date, end_date, closed, start_minute, end_minute)
                   VALUES (%s, %s, %s, %s, %s, %s)""",
                (
                    object_id,
                    exception["start"],
                    exception["end"],
                    exception["closed"],
                    hours.get("start"),
                    hours.get("end"),
                ),
            )

    def users(self, conn, object_id: int) -> list[str]:
        return [
            r["what"]
            for r in conn.execute(
                """SELECT 'the company' AS what FROM companies WHERE schedule_id = %(id)s
               UNION ALL SELECT 'number ' || e164 FROM numbers WHERE schedule_id = %(id)s
               UNION ALL SELECT 'scheme ' || quote_literal(name) FROM schemes WHERE active_schedule_id = %(id)s
               UNION ALL SELECT 'employee ' || quote_literal(name) FROM employees WHERE schedule_id = %(id)s""",
                {"id": object_id},
            )
        ]


routes(blueprint, Schedules())
