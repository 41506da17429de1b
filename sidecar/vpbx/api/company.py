"""/api/v1/company: the caller's own company."""

from __future__ import annotations

import phonenumbers
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from .auth import principal, require_admin
from .blueprints import api_blueprint
from .changes import republish_company
from .database import db
from .errors import invalid
from .fields import Name, PhoneNumber, timezone_name
from .references import caller_id_number, missing, owned

blueprint = api_blueprint("company", "/company", "The company the API token belongs to")


class CompanySchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Name(required=True)
    # The SIP domain is the digest realm of every phone: fixed once created.
    sip_domain = fields.String(dump_only=True)
    timezone = fields.String(required=True, validate=timezone_name)
    schedule_id = fields.Integer(
        allow_none=True, load_default=None, metadata={"description": "The company's work schedule; none: always open"}
    )
    region = fields.String(
        validate=validate.OneOf(sorted(phonenumbers.SUPPORTED_REGIONS), error="not a region code (ISO 3166, e.g. RU)"),
        metadata={"description": "How the company's phones' national and local forms read (8 495 …, 0 44 …)"},
    )
    language = fields.String(
        validate=validate.OneOf(["ru", "uk", "en"]),
        metadata={"description": "The language of the standard prompts callers hear (greetings, notices, goodbye)"},
    )
    caller_id = PhoneNumber(
        allow_none=True,
        metadata={
            "description": "The company number callees of outgoing calls see, unless an employee has their own; "
            "none: the company's first number"
        },
    )


def load_company(conn, company_id: int) -> dict:
    return conn.execute(
        """SELECT id, name, sip_domain, timezone, schedule_id, region, language,
                  (SELECT e164 FROM numbers WHERE id = caller_id_number_id) AS caller_id
           FROM companies WHERE id = %s""",
        (company_id,),
    ).fetchone()


@blueprint.route("")
class Company(MethodView):
    @blueprint.response(200, CompanySchema)
    def get(self):
        return load_company(db(), principal().company_id)

    @blueprint.arguments(CompanySchema(partial=True))
    @blueprint.response(200, CompanySchema)
    def patch(self, changes):
        who = require_admin()
        conn = db()
        if not owned(conn, who.company_id, "schedule", changes.get("schedule_id")):
            raise invalid("schedule_id", missing("schedule", changes["schedule_id"]))
        conn.execute(
            "UPDATE companies SET name = COALESCE(%s, name), timezone = COALESCE(%s, timezone) WHERE id = %s",
            (changes.get("name"), changes.get("timezone"), who.company_id),
        )
        if "schedule_id" in changes:
            conn.execute(
                "UPDATE companies SET schedule_id = %s WHERE id = %s", (changes["schedule_id"], who.company_id)
            )
        if "region" in changes:
            conn.execute("UPDATE companies SET region = %s WHERE id = %s", (changes["region"], who.company_id))
        if "language" in changes:
            conn.execute("UPDATE companies SET language = %s WHERE id = %s", (changes["language"], who.company_id))
        if "caller_id" in changes:
            conn.execute(
                "UPDATE companies SET caller_id_number_id = %s WHERE id = %s",
                (caller_id_number(conn, who.company_id, changes["caller_id"]), who.company_id),
            )
        republish_company(who.company_id)
        return load_company(conn, who.company_id)
