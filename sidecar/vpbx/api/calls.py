"""/api/v1/calls: call history, one line per call (R19), newest first.

Administrators and users see the whole company's calls; a limited user sees
only their own (seed 004): those they made, answered, or missed.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import secrets
import time
from datetime import timedelta

import redis
from flask import Response, current_app
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .. import call_log
from ..config.outgoing import outgoing_settings
from ..media.click_to_call import Request as ClickToCallRequest
from ..media.click_to_call import request_call
from ..notify import links
from ..routing.numbers import to_e164
from ..routing.outbound import EMERGENCY, allowed, read_dialled
from .auth import principal
from .blueprints import api_blueprint
from .changes import routing_cache
from .company import load_company
from .database import db
from .errors import ApiError, invalid, not_found
from .fields import PhoneNumber

log = logging.getLogger(__name__)
blueprint = api_blueprint("calls", "/calls", "Call history")


class LegSchema(Schema):
    step = fields.Integer()
    target = fields.String()
    employee_id = fields.Integer(allow_none=True)
    department_id = fields.Integer(allow_none=True)
    rang_at = fields.AwareDateTime()
    answered = fields.Boolean()
    trunk = fields.String(allow_none=True, metadata={"description": "a phone number's: the trunk it left through"})


class QueueVisitSchema(Schema):
    queue_id = fields.Integer()
    name = fields.String()
    wait_seconds = fields.Float(metadata={"description": "from joining the queue to the answer or leaving it"})
    outcome = fields.String(
        metadata={
            "description": "answered, abandoned (hung up while waiting), timeout (the longest wait), full, "
            "no_agents (the queue takes no one then), voicemail or callback (the caller chose it)"
        }
    )
    callback_call_id = fields.String(
        allow_none=True, metadata={"description": "callback: the Call-ID of the call back (its own line)"}
    )
    callback_outcome = fields.String(
        allow_none=True,
        metadata={"description": "callback: answered, no_answer, expired or failed; none while it waits"},
    )
    callback_of = fields.String(
        allow_none=True, metadata={"description": "a call back: the Call-ID of the call that asked for it"}
    )


class VoicemailMessageRefSchema(Schema):
    id = fields.Integer()
    url = fields.String(metadata={"description": "plays the message (WAV); ?download=1 saves it"})


class CategorySchema(Schema):
    key = fields.String(metadata={"description": "the key pressed"})
    name = fields.String(metadata={"description": "the category the menu gave that key when it was pressed"})
    at = fields.AwareDateTime()


class CallbackSchema(Schema):
    number = fields.String(metadata={"description": "the number the caller is called back at (E.164)"})
    call_id = fields.String(allow_none=True, metadata={"description": "the call back's Call-ID (its own line)"})
    outcome = fields.String(
        allow_none=True,
        metadata={"description": "answered, no_answer, expired or failed; none while it waits"},
    )
    at = fields.AwareDateTime(allow_none=True, metadata={"description": "when it was served"})


class CallSchema(Schema):
    id = fields.Integer()
    call_id = fields.String(metadata={"description": "SIP Call-ID of the caller's leg"})
    direction = fields.String(
        metadata={
            "description": "incoming (from a trunk), internal (a company phone calling the company) or outgoing "
            "(a company phone calling outside, through the trunks)"
        }
    )
    caller = fields.String()
    caller_employee_id = fields.Integer(allow_none=True)
    called = fields.String(
        metadata={"description": "the company number or the extension dialled; outgoing: the number called"}
    )
    caller_id = fields.String(
        allow_none=True, metadata={"description": "outgoing: the company number the callee was shown"}
    )
    trunk = fields.String(
        allow_none=True,
        metadata={"description": "the trunk a call to a phone number left through (the answered one's, else the last)"},
    )
    started_at = fields.AwareDateTime()
    answered_at = fields.AwareDateTime(allow_none=True)
    ended_at = fields.AwareDateTime(allow_none=True)
    status = fields.String(metadata={"description": "answered or missed"})
    employee_id = fields.Integer(
        allow_none=True, metadata={"description": "who answered; for a missed direct call, the employee dialled (R19)"}
    )
    employee_label = fields.String(allow_none=True)
    forwarded = fields.Boolean()
    voicemail = fields.Boolean()
    voicemail_message = fields.Nested(
        VoicemailMessageRefSchema,
        allow_none=True,
        metadata={"description": "the message the caller left (voicemail true), to listen to from the history"},
    )
    end_reason = fields.String(
        allow_none=True,
        metadata={"description": "missed: caller_cancelled, no_answer, busy, nobody_to_ring or rejected"},
    )
    ring_seconds = fields.Float(allow_none=True, metadata={"description": "from the INVITE to the answer or the end"})
    talk_seconds = fields.Float(allow_none=True)
    legs = fields.List(fields.Nested(LegSchema))
    queue = fields.Nested(
        QueueVisitSchema,
        allow_none=True,
        metadata={"description": "a call that waited in a call queue: which, how long, how it ended"},
    )
    callback = fields.Nested(
        CallbackSchema,
        allow_none=True,
        metadata={
            "description": "a caller promised a callback (a department's rule call_back_later, a queue's callback "
            "key): the number, then the call back"
        },
    )
    callback_of = fields.String(
        allow_none=True, metadata={"description": "a call back: the Call-ID of the call that asked for it"}
    )
    category = fields.Nested(
        CategorySchema,
        allow_none=True,
        metadata={"description": "what whoever answered pressed in the scheme's post-call category menu"},
    )


class LineFilterSchema(Schema):
    """The filters a list of lines and its CSV export share."""

    since = fields.AwareDateTime(load_default=None, metadata={"description": "started at or after"})
    until = fields.AwareDateTime(load_default=None, metadata={"description": "started before"})
    status = fields.String(load_default=None, validate=validate.OneOf(["answered", "missed"]))
    direction = fields.String(load_default=None, validate=validate.OneOf(["incoming", "internal", "outgoing"]))
    employee_id = fields.Integer(load_default=None, metadata={"description": "lines about this employee"})

    @validates_schema
    def _window(self, data, **kwargs):
        if data["since"] and data["until"] and data["since"] >= data["until"]:
            raise ValidationError("must be later than since", "until")


class CallQuerySchema(LineFilterSchema):
    called = fields.String(load_default=None, validate=validate.Length(1, 32))
    caller = fields.String(load_default=None, validate=validate.Length(1, 64))
    call_id = fields.String(
        load_default=None, validate=validate.Length(1, 255), metadata={"description": "SIP Call-ID"}
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 1_000_000))


_SELECT = """
    SELECT id, call_id, direction, caller, caller_employee_id, called, started_at, answered_at, ended_at, status,
           employee_id, employee_label, forwarded, voicemail, end_reason, caller_id, trunk, voicemail_message_id,
           EXTRACT(EPOCH FROM COALESCE(answered_at, ended_at) - started_at)::float AS ring_seconds,
           EXTRACT(EPOCH FROM ended_at - answered_at)::float AS talk_seconds,
           callback_number, callback_call_id, callback_outcome, callback_at, category, category_key, categorized_at,
           (SELECT o.call_id FROM calls o
             WHERE o.callback_call_id = calls.call_id AND o.company_id = calls.company_id LIMIT 1) AS callback_of
    FROM calls
"""


def _visible(who) -> tuple[str, dict]:
    if who.role == "limited":
        return (
            "company_id = %(company)s AND (employee_id = %(me)s OR caller_employee_id = %(me)s)",
            {"company": who.company_id, "me": who.employee_id},
        )
    return "company_id = %(company)s", {"company": who.company_id}


def _with_legs(conn, rows: list[dict]) -> list[dict]:
    """The lines with their legs and, for calls that waited in a queue, that wait."""
    legs: dict[int, list] = {row["id"]: [] for row in rows}
    queued: dict[int, dict] = {}
    if rows:
        for leg in conn.execute(
            """SELECT call_id, step, target, employee_id, department_id, rang_at, answered, trunk FROM call_legs
                   WHERE call_id = ANY(%s) ORDER BY step, id""",
            (list(legs),),
        ):
            legs[leg["call_id"]].append(leg)
        # The last queue a call waited in (an IVR may lead from one queue to
        # another), or the queue a call back was for.
        for visit in conn.execute(
            """SELECT DISTINCT ON (c.id) c.id AS line, v.queue_id, q.name, v.wait_s AS wait_seconds, v.outcome,
                      v.callback_call_id, v.callback_outcome,
                      CASE WHEN v.callback_call_id = c.call_id THEN v.call_id END AS callback_of
                 FROM calls c
                 JOIN queue_calls v ON v.company_id = c.company_id
                                   AND ((v.call_id = c.call_id AND v.joined_at >= c.started_at - interval '5 s')
                                        OR v.callback_call_id = c.call_id)
                 JOIN queues q ON q.id = v.queue_id
                WHERE c.id = ANY(%s)
                ORDER BY c.id, v.joined_at DESC""",
            (list(legs),),
        ):
            queued[visit.pop("line")] = visit
    return [
        {
            **row,
            "legs": legs[row["id"]],
            "queue": queued.get(row["id"]),
            "voicemail_message": _message(row),
            "callback": _callback(row),
            "category": _category(row),
        }
        for row in rows
    ]


def _category(row: dict) -> dict | None:
    if row.get("category_key") is None:
        return None
    return {"key": row["category_key"], "name": row.get("category"), "at": row.get("categorized_at")}


def _callback(row: dict) -> dict | None:
    if row.get("callback_number") is None and row.get("callback_outcome") is None:
        return None
    return {
        "number": row.get("callback_number"),
        "call_id": row.get("callback_call_id"),
        "outcome": row.get("callback_outcome"),
        "at": row.get("callback_at"),
    }


def _message(row: dict) -> dict | None:
    """The line's voicemail message with a link to listen to it (signed now:
    whoever may read the line may listen, for the link's seven days)."""
    message_id = row.get("voicemail_message_id")
    if message_id is None:
        return None
    media = current_app.config["VPBX_SETTINGS"].media
    return {"id": message_id, "url": links.url(media.public_url, links.sign(message_id, media.link_secret))}


_FILTERS = (
    ("since", "started_at >= %(since)s"),
    ("until", "started_at < %(until)s"),
    ("status", "status = %(status)s"),
    ("direction", "direction = %(direction)s"),
    ("employee_id", "employee_id = %(employee_id)s"),
    ("called", "called = ANY(%(called)s)"),
    ("caller", "caller = ANY(%(caller)s)"),
    ("call_id", "call_id = %(call_id)s"),
)


def _where(query: dict) -> tuple[str, dict]:
    """The WHERE clause of what the caller may see and asked for."""
    where, params = _visible(principal())
    clauses = [where]
    for name, clause in _FILTERS:
        if query.get(name) is not None:
            clauses.append(clause)
            params[name] = query[name]
    # A number as typed ("8 495 111-22-33") finds its lines, kept in E.164; an extension as it is.
    for name in ("called", "caller"):
        if name in params:
            region = load_company(db(), principal().company_id)["region"].strip()
            params[name] = sorted({params[name], to_e164(params[name], region) or params[name]})
    return " WHERE " + " AND ".join(clauses), params


class ClickToCallSchema(Schema):
    employee_id = fields.Integer(
        load_default=None,
        metadata={"description": "whose phones ring first; none: your own (an administrator may name anyone)"},
    )
    number = PhoneNumber(required=True, metadata={"description": "the client's number, rung once the employee answers"})


class CallPlacedSchema(Schema):
    call_id = fields.String(metadata={"description": "the client leg's Call-ID: the history line's, once it rings"})
    employee_id = fields.Integer()
    number = fields.String()


def _click_to_call(data: dict) -> dict:
    """Ring the employee's phones, then the client (routing/click_to_call.py)."""
    who = principal()
    employee_id = data["employee_id"] or who.employee_id
    if employee_id != who.employee_id and not who.is_admin:
        raise ApiError(403, "Only an administrator can place calls for another employee.")
    conn = db()
    company = load_company(conn, who.company_id)
    settings = outgoing_settings(conn, who.company_id, company["caller_id"], employee_id).get(employee_id)
    if settings is None:
        raise invalid("employee_id", f"no employee {employee_id} in your company")
    number = read_dialled(data["number"], company["region"].strip())
    if number is None or number.category == EMERGENCY:
        raise invalid("number", "not a number a call can be placed to")
    if not allowed(settings.allowed, number.category):
        raise ApiError(
            403,
            "The employee may not call this number.",
            {"number": [f"a {number.category} number; the employee may call {settings.allowed} at most"]},
        )
    request = ClickToCallRequest(
        call_id=f"{secrets.token_hex(12)}@vpbx-click-to-call",
        company_id=who.company_id,
        domain=company["sip_domain"],
        employee_id=employee_id,
        client=number.number,
        requested_at=time.time(),
    )
    try:
        taken = request_call(routing_cache(), request)
    except redis.RedisError as exc:
        raise ApiError(503, f"Calls cannot be placed now: {exc}.") from None
    if not taken:
        raise ApiError(503, "No media app took the call: it is not placed.")
    call_log.decided(
        log, "click_to_call", request.call_id, company_id=who.company_id, employee_id=employee_id, by=who.employee_id
    )
    return {"call_id": request.call_id, "employee_id": employee_id, "number": number.number}


@blueprint.route("")
class Calls(MethodView):
    @blueprint.arguments(ClickToCallSchema)
    @blueprint.response(202, CallPlacedSchema)
    def post(self, data):
        """Click-to-call: ring the employee's phones (showing the client's number),
        then, once the employee answers, the client, as that employee's own
        outgoing call: their permission and caller ID. 202 once a media app
        has taken the call; its history line has ``call_id``. 403 when the
        employee may not call the number, 503 when no media app is running."""
        return _click_to_call(data)

    @blueprint.arguments(CallQuerySchema, location="query")
    @blueprint.response(200, CallSchema(many=True))
    def get(self, query):
        """Calls, newest first, filtered; a limited user gets only their own."""
        where, params = _where(query)
        params.update(limit=query["limit"], offset=query["offset"])
        conn = db()
        rows = conn.execute(
            _SELECT + where + " ORDER BY started_at DESC, id DESC LIMIT %(limit)s OFFSET %(offset)s", params
        ).fetchall()
        return _with_legs(conn, rows)


EXPORT_MAX_DAYS = 366
EXPORT_MAX_ROWS = 200_000
EXPORT_COLUMNS = (
    "started_at",
    "direction",
    "caller",
    "called",
    "caller_id",
    "trunk",
    "status",
    "end_reason",
    "employee_label",
    "forwarded",
    "voicemail",
    "ring_seconds",
    "talk_seconds",
    "answered_at",
    "ended_at",
    "call_id",
)
# A plain number (E.164, or digits) is safe in a spreadsheet cell; any other
# text a spreadsheet would read as a formula is not: the caller's number comes
# from whoever sent the INVITE (OWASP, "CSV injection").
_PLAIN_NUMBER = re.compile(r"^\+?[0-9]{1,20}$")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.1f}"
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


class ExportQuerySchema(LineFilterSchema):
    since = fields.AwareDateTime(required=True, metadata={"description": "started at or after"})
    until = fields.AwareDateTime(required=True, metadata={"description": "started before"})

    @validates_schema
    def _span(self, data, **kwargs):
        if data["until"] - data["since"] > timedelta(days=EXPORT_MAX_DAYS):
            raise ValidationError(f"a period of at most {EXPORT_MAX_DAYS} days", "until")


@blueprint.route("/export", methods=["GET"])
@blueprint.arguments(ExportQuerySchema, location="query")
@blueprint.response(200, content_type="text/csv")
@blueprint.doc(
    responses={
        "200": {
            "description": "One line per call, oldest first, with a header line",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
)
def export(query):
    """The calls of a period as CSV, for a spreadsheet or an accounting system."""
    where, params = _where(query)
    params["cap"] = EXPORT_MAX_ROWS + 1
    rows = db().execute(_SELECT + where + " ORDER BY started_at, id LIMIT %(cap)s", params).fetchall()
    if len(rows) > EXPORT_MAX_ROWS:
        raise invalid("until", f"more than {EXPORT_MAX_ROWS} calls in the period: export a shorter one")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    writer.writerows([_cell(row[column]) for column in EXPORT_COLUMNS] for row in rows)
    filename = f"calls-{query['since'].date()}-{query['until'].date()}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


class CountsSchema(Schema):
    total = fields.Integer()
    answered = fields.Integer()
    missed = fields.Integer()


class EmployeeStatsSchema(Schema):
    employee_id = fields.Integer(allow_none=True)
    employee_label = fields.String(allow_none=True)
    answered = fields.Integer()
    missed = fields.Integer(metadata={"description": "direct calls to them missed (R19)"})
    talk_seconds = fields.Float()


class CallStatsSchema(CountsSchema):
    voicemail = fields.Integer(metadata={"description": "missed calls that left a message"})
    by_direction = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(CountsSchema),
        metadata={"description": "incoming, outgoing, internal"},
    )
    missed_by_reason = fields.Dict(keys=fields.String(), values=fields.Integer())
    average_ring_seconds = fields.Float(allow_none=True, metadata={"description": "of the answered calls"})
    average_talk_seconds = fields.Float(allow_none=True)
    employees = fields.List(fields.Nested(EmployeeStatsSchema), metadata={"description": "most answered first"})


@blueprint.route("/stats", methods=["GET"])
@blueprint.arguments(ExportQuerySchema, location="query")
@blueprint.response(200, CallStatsSchema)
def stats(query):
    """The company's calls of a period in figures (seed 004: administrators and
    users see them; a limited user sees only their own calls, not the company's)."""
    if principal().role == "limited":
        raise ApiError(403, "A limited user sees their own calls, not the company's statistics.")
    where, params = _where(query)
    conn = db()
    rows = conn.execute(
        f"""SELECT direction, status, count(*) AS n FROM calls {where} GROUP BY direction, status""", params
    ).fetchall()
    by_direction: dict[str, dict] = {}
    for row in rows:
        counts = by_direction.setdefault(row["direction"], {"total": 0, "answered": 0, "missed": 0})
        counts["total"] += row["n"]
        counts[row["status"]] = counts.get(row["status"], 0) + row["n"]
    totals = conn.execute(
        f"""SELECT count(*) AS total, count(*) FILTER (WHERE status = 'answered') AS answered,
                   count(*) FILTER (WHERE status = 'missed') AS missed, count(*) FILTER (WHERE voicemail) AS voicemail,
                   avg(EXTRACT(EPOCH FROM answered_at - started_at))::float AS average_ring_seconds,
                   avg(EXTRACT(EPOCH FROM ended_at - answered_at))::float AS average_talk_seconds
              FROM calls {where}""",
        params,
    ).fetchone()
    reasons = conn.execute(
        f"SELECT end_reason, count(*) AS n FROM calls {where} AND status = 'missed' GROUP BY end_reason", params
    ).fetchall()
    employees = conn.execute(
        f"""SELECT employee_id, max(employee_label) AS employee_label,
                   count(*) FILTER (WHERE status = 'answered') AS answered,
                   count(*) FILTER (WHERE status = 'missed') AS missed,
                   COALESCE(sum(EXTRACT(EPOCH FROM ended_at - answered_at)), 0)::float AS talk_seconds
              FROM calls {where} AND employee_id IS NOT NULL
             GROUP BY employee_id ORDER BY answered DESC, employee_id""",
        params,
    ).fetchall()
    return {
        **totals,
        "by_direction": by_direction,
        "missed_by_reason": {row["end_reason"] or "unknown": row["n"] for row in reasons},
        "employees": employees,
    }


@blueprint.route("/<int:call_pk>")
@blueprint.response(200, CallSchema)
def get_call(call_pk):
    """One call with its legs."""
    where, params = _visible(principal())
    conn = db()
    row = conn.execute(_SELECT + " WHERE id = %(id)s AND " + where, {**params, "id": call_pk}).fetchone()
    if row is None:
        raise not_found("Call")
    return _with_legs(conn, [row])[0]
