"""/api/v1/sip-accounts: SIP devices that belong to no employee (door phone, fax line, lobby phone).

They register in the company's SIP domain like employees' phones; a
destination of kind ``sip_account`` rings them. The password is generated
by the server and shown once.
"""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from ..config.accounts import reset_password
from .auth import require_admin
from .blueprints import api_blueprint
from .changes import republish_company
from .company import load_company
from .database import db
from .employees import SipCredentialsSchema, login_taken_by
from .errors import invalid, not_found
from .fields import Name

blueprint = api_blueprint("sip_accounts", "/sip-accounts", "SIP accounts of devices that belong to no employee")


class SipAccountSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Name(required=True)
    sip_login = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Za-z0-9._-]{1,64}$", error="letters, digits, '.', '_' or '-', at most 64"),
    )


class SipAccountCreatedSchema(SipAccountSchema):
    sip_password = fields.String(dump_only=True, metadata={"description": "Shown once."})


def _find(conn, company_id: int, account_id: int) -> dict:
    row = conn.execute(
        "SELECT id, name, sip_login FROM sip_accounts WHERE id = %s AND company_id = %s", (account_id, company_id)
    ).fetchone()
    if row is None:
        raise not_found("SIP account")
    return row


def _check(conn, company_id: int, account_id: int | None, data: dict) -> None:
    if conn.execute(
        "SELECT 1 FROM sip_accounts WHERE company_id = %s AND name = %s AND id IS DISTINCT FROM %s",
        (company_id, data["name"], account_id),
    ).fetchone():
        raise invalid("name", f"a SIP account named {data['name']!r} already exists")
    holder = login_taken_by(conn, company_id, data["sip_login"], account_id=account_id)
    if holder:
        raise invalid("sip_login", f"{data['sip_login']} is already used by {holder}")


def _set_password(conn, company_id: int, account_id: int, login: str) -> str:
    return reset_password(conn, "sip_accounts", account_id, login, load_company(conn, company_id)["sip_domain"])


@blueprint.route("")
class SipAccounts(MethodView):
    @blueprint.response(200, SipAccountSchema(many=True))
    def get(self):
        who = require_admin()
        return (
            db()
            .execute(
                "SELECT id, name, sip_login FROM sip_accounts WHERE company_id = %s ORDER BY id", (who.company_id,)
            )
            .fetchall()
        )

    @blueprint.arguments(SipAccountSchema)
    @blueprint.response(201, SipAccountCreatedSchema)
    def post(self, data):
        who = require_admin()
        conn = db()
        _check(conn, who.company_id, None, data)
        account = conn.execute(
            "INSERT INTO sip_accounts (company_id, name, sip_login, sip_ha1, sip_ha1b) VALUES (%s, %s, %s, '', '') "
            "RETURNING id, name, sip_login",
            (who.company_id, data["name"], data["sip_login"]),
        ).fetchone()
        account["sip_password"] = _set_password(conn, who.company_id, account["id"], account["sip_login"])
        return account


@blueprint.route("/<int:account_id>")
class SipAccount(MethodView):
    @blueprint.response(200, SipAccountSchema)
    def get(self, account_id):
        who = require_admin()
        return _find(db(), who.company_id, account_id)

    @blueprint.arguments(SipAccountSchema)
    @blueprint.response(200, SipAccountCreatedSchema)
    def put(self, data, account_id):
        who = require_admin()
        conn = db()
        current = _find(conn, who.company_id, account_id)
        _check(conn, who.company_id, account_id, data)
        conn.execute(
            "UPDATE sip_accounts SET name = %s, sip_login = %s WHERE id = %s",
            (data["name"], data["sip_login"], account_id),
        )
        account = {**current, **data}
        if data["sip_login"] != current["sip_login"]:
            # HA1 covers the login: a new login needs a new password.
            account["sip_password"] = _set_password(conn, who.company_id, account_id, data["sip_login"])
        republish_company(who.company_id)
        return account

    @blueprint.response(204)
    def delete(self, account_id):
        who = require_admin()
        conn = db()
        _find(conn, who.company_id, account_id)
        conn.execute("DELETE FROM sip_accounts WHERE id = %s", (account_id,))
        republish_company(who.company_id)


@blueprint.route("/<int:account_id>/sip-password", methods=["POST"])
@blueprint.response(201, SipCredentialsSchema)
def new_password(account_id):
    """Generate a new password; the old one stops working at once."""
    who = require_admin()
    conn = db()
    account = _find(conn, who.company_id, account_id)
    password = _set_password(conn, who.company_id, account_id, account["sip_login"])
    return {
        "sip_login": account["sip_login"],
        "sip_domain": load_company(conn, who.company_id)["sip_domain"],
        "sip_password": password,
    }
