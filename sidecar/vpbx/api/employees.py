"""/api/v1/employees: the company's people, their extensions and SIP accounts.

Admins manage everyone. Users and limited users may read and edit their own
profile (name, email, mobile); users also see the company directory.
"""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate
from psycopg import sql

from ..config.credentials import generate_password, ha1, ha1b
from ..config.tokens import issue_token
from .auth import principal, require_admin
from .blueprints import api_blueprint
from .changes import republish_company
from .company import load_company
from .database import db
from .errors import ApiError, invalid, not_found
from .fields import PhoneNumber

blueprint = api_blueprint("employees", "/employees", "Employees, extensions and SIP accounts")

SELF_EDITABLE = {"name", "email", "mobile"}
COLUMNS = "id, name, extension, email, mobile, role, sip_login"


class EmployeeSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(1, 200))
    extension = fields.String(required=True, validate=validate.Regexp(
        r"^[0-9]{2,6}$", error="an extension is 2 to 6 digits"))
    email = fields.Email(allow_none=True, load_default=None)
    mobile = PhoneNumber(allow_none=True, load_default=None)
    role = fields.String(load_default="user", validate=validate.OneOf(["admin", "user", "limited"]))
    sip_login = fields.String(load_default=None, validate=validate.Regexp(
        r"^[A-Za-z0-9._-]{1,64}$", error="letters, digits, '.', '_' or '-', at most 64"))


class SipCredentialsSchema(Schema):
    sip_login = fields.String()
    sip_domain = fields.String()
    sip_password = fields.String(metadata={"description": "Shown once: only its digest is stored."})


class EmployeeCreatedSchema(EmployeeSchema):
    sip_password = fields.String(dump_only=True, metadata={"description": "Shown once."})


class TokenSchema(Schema):
    token = fields.String(metadata={"description": "Shown once: only its digest is stored."})


def _find(conn, employee_id: int) -> dict:
    row = conn.execute(f"SELECT {COLUMNS} FROM employees WHERE id = %s AND company_id = %s",
                       (employee_id, principal().company_id)).fetchone()
    if row is None:
        raise not_found("Employee")
    return row


def _visible(employee_id: int) -> None:
    who = principal()
    if who.role == "limited" and employee_id != who.employee_id:
        raise not_found("Employee")


def _check_unique(conn, company_id: int, employee_id: int | None, extension: str | None, login: str | None):
    for column, value in (("extension", extension), ("sip_login", login)):
        if value is None:
            continue
        query = sql.SQL(
            "SELECT name FROM employees WHERE company_id = %s AND {} = %s AND id IS DISTINCT FROM %s"
        ).format(sql.Identifier(column))
        holder = conn.execute(query, (company_id, value, employee_id)).fetchone()
        if holder:
            raise invalid(column, f"{value} is already used by {holder['name']}")


def _set_password(conn, employee_id: int, login: str, domain: str) -> str:
    password = generate_password()
    conn.execute("UPDATE employees SET sip_ha1 = %s, sip_ha1b = %s WHERE id = %s",
                 (ha1(login, domain, password), ha1b(login, domain, password), employee_id))
    return password


@blueprint.route("")
class Employees(MethodView):
    @blueprint.response(200, EmployeeSchema(many=True))
    def get(self):
        who = principal()
        if who.role == "limited":
            return [_find(db(), who.employee_id)]
        return db().execute(f"SELECT {COLUMNS} FROM employees WHERE company_id = %s ORDER BY extension",
                            (who.company_id,)).fetchall()

    @blueprint.arguments(EmployeeSchema)
    @blueprint.response(201, EmployeeCreatedSchema)
    def post(self, data):
        who = require_admin()
        conn = db()
        data["sip_login"] = data["sip_login"] or data["extension"]
        _check_unique(conn, who.company_id, None, data["extension"], data["sip_login"])
        domain = load_company(conn, who.company_id)["sip_domain"]
        row = conn.execute(
            f"""INSERT INTO employees (company_id, name, extension, email, mobile, role, sip_login, sip_ha1, sip_ha1b)
                VALUES (%s, %s, %s, %s, %s, %s, %s, '', '') RETURNING {COLUMNS}""",
            (who.company_id, data["name"], data["extension"], data["email"], data["mobile"], data["role"],
             data["sip_login"]),
        ).fetchone()
        row["sip_password"] = _set_password(conn, row["id"], row["sip_login"], domain)
        republish_company(who.company_id)
        return row


@blueprint.route("/<int:employee_id>")
class Employee(MethodView):
    @blueprint.response(200, EmployeeSchema)
    def get(self, employee_id):
        _visible(employee_id)
        return _find(db(), employee_id)

    @blueprint.arguments(EmployeeSchema(partial=True))
    @blueprint.response(200, EmployeeCreatedSchema)
    def patch(self, changes, employee_id):
        who = principal()
        _visible(employee_id)
        conn = db()
        current = _find(conn, employee_id)
        if not who.is_admin:
            if employee_id != who.employee_id:
                raise ApiError(403, "You can edit only your own profile.")
            forbidden = sorted(set(changes) - SELF_EDITABLE)
            if forbidden:
                raise ApiError(403, "Only an administrator can change these fields.",
                               {f: ["only an administrator can change this"] for f in forbidden})
        if "sip_login" in changes and changes["sip_login"] is None:
            # As on creation: no login of its own means the extension is the login.
            changes["sip_login"] = changes.get("extension", current["extension"])
        if changes.get("role") not in (None, "admin") and employee_id == who.employee_id:
            raise invalid("role", "you cannot take away your own administrator role")
        _check_unique(conn, who.company_id, employee_id, changes.get("extension"), changes.get("sip_login"))
        updated = {**current, **changes}
        conn.execute(
            """UPDATE employees SET name = %s, extension = %s, email = %s, mobile = %s, role = %s, sip_login = %s
               WHERE id = %s""",
            (updated["name"], updated["extension"], updated["email"], updated["mobile"], updated["role"],
             updated["sip_login"], employee_id),
        )
        domain = load_company(conn, who.company_id)["sip_domain"]
        if updated["sip_login"] != current["sip_login"]:
            # HA1 covers the login: a new login needs a new password.
            updated["sip_password"] = _set_password(conn, employee_id, updated["sip_login"], domain)
        republish_company(who.company_id)
        return updated

    @blueprint.response(204)
    def delete(self, employee_id):
        who = require_admin()
        if employee_id == who.employee_id:
            raise invalid("id", "you cannot delete your own account")
        conn = db()
        _find(conn, employee_id)
        conn.execute("DELETE FROM employees WHERE id = %s", (employee_id,))
        republish_company(who.company_id)


def _self_or_admin(employee_id: int) -> None:
    who = principal()
    if not who.is_admin and employee_id != who.employee_id:
        raise ApiError(403, "Only an administrator can do this for another employee.")


@blueprint.route("/<int:employee_id>/sip-password", methods=["POST"])
@blueprint.response(201, SipCredentialsSchema)
def new_sip_password(employee_id):
    """Generate a new SIP password; the old one stops working at once."""
    _self_or_admin(employee_id)
    conn = db()
    employee = _find(conn, employee_id)
    domain = load_company(conn, principal().company_id)["sip_domain"]
    password = _set_password(conn, employee_id, employee["sip_login"], domain)
    return {"sip_login": employee["sip_login"], "sip_domain": domain, "sip_password": password}


@blueprint.route("/<int:employee_id>/tokens", methods=["POST"])
@blueprint.response(201, TokenSchema)
def new_token(employee_id):
    """Issue an API token acting as this employee (with this employee's role)."""
    _self_or_admin(employee_id)
    conn = db()
    _find(conn, employee_id)
    return {"token": issue_token(conn, employee_id, label="api")}

