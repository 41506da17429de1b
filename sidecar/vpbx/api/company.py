"""/api/v1/company: the caller's own company."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from .auth import principal, require_admin
from .blueprints import api_blueprint
from ..config.publish import numbers_of
from .changes import republish
from .database import db
from .fields import timezone_name

blueprint = api_blueprint("company", "/company", "The company the API token belongs to")


class CompanySchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(1, 200))
    # The SIP domain is the digest realm of every phone: fixed once created.
    sip_domain = fields.String(dump_only=True)
    timezone = fields.String(required=True, validate=timezone_name)


def load_company(conn, company_id: int) -> dict:
    return conn.execute("SELECT id, name, sip_domain, timezone FROM companies WHERE id = %s",
                        (company_id,)).fetchone()


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
        conn.execute(
            "UPDATE companies SET name = COALESCE(%s, name), timezone = COALESCE(%s, timezone) WHERE id = %s",
            (changes.get("name"), changes.get("timezone"), who.company_id),
        )
        company = load_company(conn, who.company_id)
        republish(domains=[company["sip_domain"]], numbers=numbers_of(conn, company_id=who.company_id))
        return company
