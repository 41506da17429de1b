"""/api/v1/sip-accounts: SIP devices that belong to no employee (door phone, fax line, lobby phone).

They register in the company's SIP domain like employees' phones; a
destination of kind ``sip_account`` rings them. The password is generated
by the server and shown once.
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..config.accounts import reset_password
from .auth import require_admin
from .blueprints import api_blueprint
from .company import load_company
from .database import db
from .employees import SipCredentialsSchema, login_taken_by
from .errors import invalid
from .fields import Name
from .resources import Service, routes

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


def _set_password(conn, company_id: int, account_id: int, login: str) -> str:
    return reset_password(conn, "sip_accounts", account_id, login, load_company(conn, company_id)["sip_domain"])


class SipAccounts(Service):
    what = "SIP account"
    table = "sip_accounts"
    id_name = "account_id"
    schema = SipAccountSchema
    created_schema = updated_schema = SipAccountCreatedSchema
    columns = "id, name, sip_login"

    def check(self, conn, company_id: int, object_id: int | None, data: dict) -> None:
        super().check(conn, company_id, object_id, data)
        holder = login_taken_by(conn, company_id, data["sip_login"], account_id=object_id)
        if holder:
            raise invalid("sip_login", f"{data['sip_login']} is already used by {holder}")

    def create(self, conn, company_id: int, data: dict) -> dict:
        account = conn.execute(
            "INSERT INTO sip_accounts (company_id, name, sip_login, sip_ha1, sip_ha1b) VALUES (%s, %s, %s, '', '') "
            "RETURNING id, name, sip_login",
            (company_id, data["name"], data["sip_login"]),
        ).fetchone()
        account["sip_password"] = _set_password(conn, company_id, account["id"], account["sip_login"])
        return account

    def update(self, conn, company_id: int, object_id: int, current: dict, data: dict) -> dict:
        conn.execute(
            "UPDATE sip_accounts SET name = %s, sip_login = %s WHERE id = %s",
            (data["name"], data["sip_login"], object_id),
        )
        account = {**current, **data}
        if data["sip_login"] != current["sip_login"]:
            # HA1 covers the login: a new login needs a new password.
            account["sip_password"] = _set_password(conn, company_id, object_id, data["sip_login"])
        return account


SIP_ACCOUNTS = SipAccounts()
routes(blueprint, SIP_ACCOUNTS)


@blueprint.route("/<int:account_id>/sip-password", methods=["POST"])
@blueprint.response(201, SipCredentialsSchema)
def new_password(account_id):
    """Generate a new password; the old one stops working at once."""
    who = require_admin()
    conn = db()
    account = SIP_ACCOUNTS.load(conn, who.company_id, account_id)
    password = _set_password(conn, who.company_id, account_id, account["sip_login"])
    return {
        "sip_login": account["sip_login"],
        "sip_domain": load_company(conn, who.company_id)["sip_domain"],
        "sip_password": password,
    }
