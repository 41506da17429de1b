"""/api/v1/numbers: the company's phone numbers and the scheme each one follows.

``GET /numbers/{number}/route`` explains the plan a call would follow, with the
very code Kamailio runs, from the number's freshly compiled document.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

import redis
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from ..config.compile import compile_number
from ..routing import Call, build_plan
from ..routing.department_state import DepartmentState, state_key, stateful_departments
from ..routing.numbers import to_e164
from ..routing.plan import Explanation
from .auth import require_admin
from .blueprints import api_blueprint
from .changes import republish, republish_company, routing_cache
from .database import db
from .errors import invalid, not_found
from .fields import DEFAULT_REGION, PhoneNumber
from .references import missing, owned

blueprint = api_blueprint("numbers", "/numbers", "Company numbers and their routing")


class RoutingSchema(Schema):
    """How a number routes (R6): always its scheme, or by schedule."""

    mode = fields.String(load_default="always", validate=validate.OneOf(["always", "by_schedule"]))
    scheme_id = fields.Integer(
        allow_none=True, load_default=None, metadata={"description": "Always, or in working hours"}
    )
    off_hours_scheme_id = fields.Integer(
        allow_none=True, load_default=None, metadata={"description": "Outside working hours (by_schedule)"}
    )
    schedule_id = fields.Integer(
        allow_none=True, load_default=None, metadata={"description": "The number's own hours; none: the company's"}
    )
    queue_priority = fields.Integer(
        load_default=0,
        validate=validate.Range(0, 9),
        metadata={
            "description": "Callers of this number wait ahead of callers with a lower priority in every call "
            "queue (a webhook's answer may raise it per call)"
        },
    )


class NumberSchema(RoutingSchema):
    number = PhoneNumber(required=True, metadata={"description": "Any usual format in; E.164 out."})


class QueryInstant(fields.AwareDateTime):
    """An instant in a query string. A "+" left unencoded in its offset
    (at=2026-11-23T10:00:00+03:00) reaches us as a space: read back as "+"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = re.sub(r"^(\S+T\S+) (\d{2}(:?\d{2})?)$", r"\1+\2", value)
        return super()._deserialize(value, attr, data, **kwargs)


class RouteQuerySchema(Schema):
    caller = fields.String(load_default="anonymous")
    at = QueryInstant(
        load_default=None,
        metadata={"description": "ISO 8601 with an offset (its + encoded as %2B, or left as it is); default now"},
    )


class TargetSchema(Schema):
    uri = fields.String()
    label = fields.String()
    via_location = fields.Boolean(metadata={"description": "a registered phone, found in the location table"})
    via_trunk = fields.Boolean(metadata={"description": "a PSTN number, sent to the outbound gateways"})
    node = fields.String(
        allow_none=True,
        metadata={
            "description": "what vpbx handles itself (voicemail:3, ivr:2, queue:1, webhook:5, responsible_manager)"
        },
    )
    employee_id = fields.Integer(allow_none=True)
    department_id = fields.Integer(allow_none=True)


class StepPlanSchema(Schema):
    mode = fields.String()
    timeout = fields.Integer()
    targets = fields.List(fields.Nested(TargetSchema))


class DecidedBySchema(Schema):
    kind = fields.String(metadata={"description": "weekly, holiday or special_day"})
    day = fields.String(metadata={"description": "weekly: mon…sun"})
    first = fields.String(metadata={"description": "holiday, special day: the first date"})
    last = fields.String(metadata={"description": "holiday, special day: the last date"})
    start = fields.String(metadata={"description": "weekly, special day: HH:MM"})
    end = fields.String(metadata={"description": "weekly, special day: HH:MM"})


class ScheduleCheckSchema(Schema):
    for_ = fields.String(
        data_key="for", metadata={"description": '"number" (its hours) or "scheme <id>" (the scheme\'s active hours)'}
    )
    schedule_id = fields.Integer(allow_none=True)
    schedule = fields.String()
    timezone = fields.String()
    local_time = fields.String(metadata={"description": "the moment in the schedule's timezone"})
    open = fields.Boolean()
    decided_by = fields.Nested(
        DecidedBySchema, allow_none=True, metadata={"description": "null: no interval covers the moment (closed)"}
    )
    reason = fields.String()


class ChosenSchemeSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    chosen_as = fields.String(
        metadata={"description": "working, off_hours (the number's schedule is closed) or backup (R9)"}
    )


class RouteSchema(Schema):
    number = fields.String()
    caller = fields.String()
    at = fields.AwareDateTime()
    open = fields.Boolean(
        allow_none=True,
        metadata={"description": "the number's own schedule now; null for a number always on one scheme"},
    )
    schedules = fields.List(fields.Nested(ScheduleCheckSchema), metadata={"description": "each schedule looked at"})
    scheme = fields.Nested(ChosenSchemeSchema, allow_none=True, metadata={"description": "null: no scheme applies"})
    steps = fields.List(fields.Nested(StepPlanSchema))
    reasons = fields.List(fields.String())
    warnings = fields.List(
        fields.String(), metadata={"description": "what would keep the plan from working as explained"}
    )


def _e164(raw: str) -> str:
    e164 = to_e164(raw, DEFAULT_REGION)
    if e164 is None:
        raise not_found("Number")
    return e164


COLUMNS = "e164 AS number, mode, scheme_id, off_hours_scheme_id, schedule_id, queue_priority"


def _find(conn, company_id: int, raw: str) -> dict:
    row = conn.execute(
        f"SELECT {COLUMNS} FROM numbers WHERE e164 = %s AND company_id = %s", (_e164(raw), company_id)
    ).fetchone()
    if row is None:
        raise not_found("Number")
    return row


def _check_routing(conn, company_id: int, routing: dict) -> None:
    for field, what in (("scheme_id", "scheme"), ("off_hours_scheme_id", "scheme"), ("schedule_id", "schedule")):
        if not owned(conn, company_id, what, routing[field]):
            raise invalid(field, missing(what, routing[field]))
    if routing["mode"] == "by_schedule":
        if routing["off_hours_scheme_id"] is None:
            raise invalid("off_hours_scheme_id", "a number that works by schedule needs an off-hours scheme")
        company_schedule = conn.execute("SELECT schedule_id FROM companies WHERE id = %s", (company_id,)).fetchone()[
            "schedule_id"
        ]
        if routing["schedule_id"] is None and company_schedule is None:
            raise invalid("schedule_id", "the company has no work schedule: give the number its own")


@blueprint.route("")
class Numbers(MethodView):
    @blueprint.response(200, NumberSchema(many=True))
    def get(self):
        who = require_admin()
        return (
            db()
            .execute(f"SELECT {COLUMNS} FROM numbers WHERE company_id = %s ORDER BY e164", (who.company_id,))
            .fetchall()
        )

    @blueprint.arguments(NumberSchema)
    @blueprint.response(201, NumberSchema)
    def post(self, data):
        who = require_admin()
        conn = db()
        holder = conn.execute("SELECT company_id FROM numbers WHERE e164 = %s", (data["number"],)).fetchone()
        if holder:
            whose = "this company" if holder["company_id"] == who.company_id else "another company"
            raise invalid("number", f"{data['number']} already belongs to {whose}")
        _check_routing(conn, who.company_id, data)
        conn.execute(
            """INSERT INTO numbers (company_id, e164, mode, scheme_id, off_hours_scheme_id, schedule_id, queue_priority)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            (
                who.company_id,
                data["number"],
                data["mode"],
                data["scheme_id"],
                data["off_hours_scheme_id"],
                data["schedule_id"],
                data["queue_priority"],
            ),
        )
        # The company's documents too: its first number is its caller ID by default.
        republish_company(who.company_id)
        return data


@blueprint.route("/<string:number>")
class Number(MethodView):
    @blueprint.response(200, NumberSchema)
    def get(self, number):
        who = require_admin()
        return _find(db(), who.company_id, number)

    @blueprint.arguments(RoutingSchema(partial=True))
    @blueprint.response(200, NumberSchema)
    def patch(self, changes, number):
        who = require_admin()
        conn = db()
        row = _find(conn, who.company_id, number)
        routing = {**row, **changes}
        _check_routing(conn, who.company_id, routing)
        conn.execute(
            """UPDATE numbers SET mode = %s, scheme_id = %s, off_hours_scheme_id = %s, schedule_id = %s,
                                  queue_priority = %s
               WHERE e164 = %s""",
            (
                routing["mode"],
                routing["scheme_id"],
                routing["off_hours_scheme_id"],
                routing["schedule_id"],
                routing["queue_priority"],
                row["number"],
            ),
        )
        republish(numbers=[row["number"]])
        return routing

    @blueprint.response(204)
    def delete(self, number):
        who = require_admin()
        conn = db()
        row = _find(conn, who.company_id, number)
        conn.execute("DELETE FROM numbers WHERE e164 = %s", (row["number"],))
        republish(numbers=[row["number"]])
        republish_company(who.company_id)  # it may have been a caller ID


def _next_call_state(document: dict) -> dict[int, DepartmentState]:
    """Departments' shared state as the next call would see it, without taking a turn."""
    stateful = stateful_departments(document)
    try:
        pipe = routing_cache().pipeline(transaction=False)
        for department_id in stateful:
            pipe.hgetall(state_key(department_id))
        replies = pipe.execute()
    except redis.RedisError:
        return {}
    states = {i: DepartmentState.from_hash(reply) for i, reply in zip(stateful, replies, strict=True)}
    return {
        i: replace(state, turn=state.turn + 1) if stateful[i] == "round_robin" else state for i, state in states.items()
    }


@blueprint.route("/<string:number>/route")
@blueprint.arguments(RouteQuerySchema, location="query")
@blueprint.response(200, RouteSchema)
def explain(query, number):
    """The plan a call to this number would follow at a given moment, and why."""
    who = require_admin()
    conn = db()
    row = _find(conn, who.company_id, number)
    at = query["at"] or datetime.now(UTC)
    # Compiled for the moment explained: an absence over today still counts on a day it covered.
    document = compile_number(conn, row["number"], at)
    if document is None:  # deleted since _find: as if never there
        raise not_found("Number")
    explanation = Explanation()
    plan = build_plan(
        document, Call("explain", row["number"], query["caller"], "trunk", at), _next_call_state(document), explanation
    )
    own = next((s for s in explanation.schedules if s["for"] == "number"), None)
    warnings = []
    if any(t.via_trunk for step in plan.steps for t in step.targets) and not _outbound_trunk_exists(conn):
        warnings.append("no outbound trunk exists: the steps' phone numbers cannot be rung (the call gets 480 there)")
    return {
        "number": row["number"],
        "caller": query["caller"],
        "at": at,
        "open": own["open"] if own else None,
        "schedules": [{**check, "for_": check["for"]} for check in explanation.schedules],
        "scheme": explanation.scheme,
        "steps": plan.steps,
        "reasons": plan.reasons,
        "warnings": warnings,
    }


def _outbound_trunk_exists(conn) -> bool:
    return conn.execute("SELECT 1 FROM trunks WHERE outbound LIMIT 1").fetchone() is not None
