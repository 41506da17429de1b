"""/api/v1/numbers: the company's phone numbers and the scheme each one follows.

``GET /numbers/{number}/route`` explains the plan a call would follow, with the
very code Kamailio runs, from the number's freshly compiled document.
"""

from __future__ import annotations

from datetime import datetime, timezone

from flask.views import MethodView
from marshmallow import Schema, fields

from ..config.compile import compile_number
from ..routing import Call, build_plan
from ..routing.numbers import to_e164
from .auth import require_admin
from .blueprints import api_blueprint
from .changes import republish
from .database import db
from .errors import invalid, not_found
from .fields import DEFAULT_REGION, PhoneNumber

blueprint = api_blueprint("numbers", "/numbers", "Company numbers and their routing")


class NumberSchema(Schema):
    number = PhoneNumber(required=True, metadata={"description": "Any usual format in; E.164 out."})
    scheme_id = fields.Integer(allow_none=True, load_default=None)


class NumberUpdateSchema(Schema):
    scheme_id = fields.Integer(required=True, allow_none=True)


class RouteQuerySchema(Schema):
    caller = fields.String(load_default="anonymous")
    at = fields.AwareDateTime(load_default=None, metadata={"description": "ISO 8601 with offset; default now"})


class TargetSchema(Schema):
    uri = fields.String()
    label = fields.String()
    via_location = fields.Boolean()


class StepPlanSchema(Schema):
    mode = fields.String()
    timeout = fields.Integer()
    targets = fields.List(fields.Nested(TargetSchema))


class RouteSchema(Schema):
    number = fields.String()
    caller = fields.String()
    at = fields.AwareDateTime()
    steps = fields.List(fields.Nested(StepPlanSchema))
    reasons = fields.List(fields.String())


def _e164(raw: str) -> str:
    e164 = to_e164(raw, DEFAULT_REGION)
    if e164 is None:
        raise not_found("Number")
    return e164


def _find(conn, company_id: int, raw: str) -> dict:
    row = conn.execute("SELECT e164 AS number, scheme_id FROM numbers WHERE e164 = %s AND company_id = %s",
                       (_e164(raw), company_id)).fetchone()
    if row is None:
        raise not_found("Number")
    return row


def _check_scheme(conn, company_id: int, scheme_id: int | None) -> None:
    if scheme_id is not None and not conn.execute(
            "SELECT 1 FROM schemes WHERE id = %s AND company_id = %s", (scheme_id, company_id)).fetchone():
        raise invalid("scheme_id", f"no scheme {scheme_id} in this company")


@blueprint.route("")
class Numbers(MethodView):
    @blueprint.response(200, NumberSchema(many=True))
    def get(self):
        who = require_admin()
        return db().execute("SELECT e164 AS number, scheme_id FROM numbers WHERE company_id = %s ORDER BY e164",
                            (who.company_id,)).fetchall()

    @blueprint.arguments(NumberSchema)
    @blueprint.response(201, NumberSchema)
    def post(self, data):
        who = require_admin()
        conn = db()
        holder = conn.execute("SELECT company_id FROM numbers WHERE e164 = %s", (data["number"],)).fetchone()
        if holder:
            whose = "this company" if holder["company_id"] == who.company_id else "another company"
            raise invalid("number", f"{data['number']} already belongs to {whose}")
        _check_scheme(conn, who.company_id, data["scheme_id"])
        conn.execute("INSERT INTO numbers (company_id, e164, scheme_id) VALUES (%s, %s, %s)",
                     (who.company_id, data["number"], data["scheme_id"]))
        republish(numbers=[data["number"]])
        return data


@blueprint.route("/<string:number>")
class Number(MethodView):
    @blueprint.response(200, NumberSchema)
    def get(self, number):
        who = require_admin()
        return _find(db(), who.company_id, number)

    @blueprint.arguments(NumberUpdateSchema)
    @blueprint.response(200, NumberSchema)
    def patch(self, data, number):
        who = require_admin()
        conn = db()
        row = _find(conn, who.company_id, number)
        _check_scheme(conn, who.company_id, data["scheme_id"])
        conn.execute("UPDATE numbers SET scheme_id = %s WHERE e164 = %s", (data["scheme_id"], row["number"]))
        republish(numbers=[row["number"]])
        return {**row, "scheme_id": data["scheme_id"]}

    @blueprint.response(204)
    def delete(self, number):
        who = require_admin()
        conn = db()
        row = _find(conn, who.company_id, number)
        conn.execute("DELETE FROM numbers WHERE e164 = %s", (row["number"],))
        republish(numbers=[row["number"]])


@blueprint.route("/<string:number>/route")
@blueprint.arguments(RouteQuerySchema, location="query")
@blueprint.response(200, RouteSchema)
def explain(query, number):
    """The plan a call to this number would follow at a given moment, and why."""
    who = require_admin()
    conn = db()
    row = _find(conn, who.company_id, number)
    document = compile_number(conn, row["number"])
    at = query["at"] or datetime.now(timezone.utc)
    plan = build_plan(document, Call("explain", row["number"], query["caller"], "trunk", at))
    return {"number": row["number"], "caller": query["caller"], "at": at,
            "steps": plan.steps, "reasons": plan.reasons}



