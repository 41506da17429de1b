"""/api/v1/employees: the company's people, their extensions and SIP accounts.

Admins manage everyone. Users and limited users may read and edit their own
profile (name, email, mobile); users also see the company directory.
"""

from __future__ import annotations

import logging
import smtplib
import threading
from datetime import timedelta

from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from ..config.accounts import reset_password
from ..config.outgoing import outgoing_settings
from ..config.publish import numbers_of
from ..config.tokens import issue
from ..kamailio_rpc import KamailioRpc, RpcError
from ..notify import mail, welcome_email
from ..routing.feature_codes import forward_number
from ..routing.outbound import PERMISSIONS, allowed
from .auth import now, principal, require_admin
from .blueprints import api_blueprint
from .changes import republish_company
from .company import load_company
from .database import after_commit, db
from .errors import ApiError, invalid, not_found
from .fields import Name, PhoneNumber
from .references import caller_id_number, missing, owned

log = logging.getLogger(__name__)

blueprint = api_blueprint("employees", "/employees", "Employees, extensions and SIP accounts")

SELF_EDITABLE = {"name", "email", "mobile", "mobile_after", "schedule_id", "no_answer", "dnd", "forward_all"}
COLUMNS = (
    "id, name, extension, email, mobile, mobile_after_s, role, sip_login, schedule_id, no_answer_rule, "
    "no_answer_after_s, "
    "no_answer_employee_id, no_answer_department_id, no_answer_voicemail_box_id, no_answer_message_prompt_id, "
    "no_answer_notice, no_answer_notice_prompt_id, outgoing_calls, dnd, forward_all, "
    "(SELECT e164 FROM numbers WHERE id = caller_id_number_id) AS caller_id"
)
NO_ANSWER_TARGETS = {  # rule -> the field naming where the call goes
    "forward_employee": ("employee_id", "employee"),
    "forward_department": ("department_id", "department"),
    "voicemail": ("voicemail_box_id", "voicemail box"),
}
FORWARDS = ("forward_employee", "forward_department")


class NoAnswerSchema(Schema):
    """R15: what a direct call does when the employee does not answer."""

    rule = fields.String(
        load_default="busy",
        validate=validate.OneOf(
            ["busy", "drop_busy", "drop_message", "forward_employee", "forward_department", "voicemail"]
        ),
    )
    after = fields.Integer(
        load_default=120,
        validate=validate.Range(5, 600),
        metadata={"description": "Seconds of ringing before the rule applies"},
    )
    employee_id = fields.Integer(load_default=None, allow_none=True)
    department_id = fields.Integer(load_default=None, allow_none=True)
    voicemail_box_id = fields.Integer(load_default=None, allow_none=True)
    message_prompt_id = fields.Integer(
        load_default=None,
        allow_none=True,
        metadata={"description": "drop_message: what the caller hears before the call ends; none: the standard one"},
    )
    notice = fields.String(
        load_default="none",
        validate=validate.OneOf(["none", "default", "custom"]),
        metadata={
            "description": "forward_employee, forward_department: 'your call will be answered by another "
            "specialist' before the call is forwarded (the standard notice, the company's own prompt, or none)"
        },
    )
    notice_prompt_id = fields.Integer(load_default=None, allow_none=True, metadata={"description": "The custom notice"})

    @validates_schema
    def target_named(self, data, **kwargs):
        field_what = NO_ANSWER_TARGETS.get(data.get("rule"))
        if field_what and data.get(field_what[0]) is None:
            raise ValidationError(f"'{data['rule']}' needs a {field_what[1]}", field_what[0])
        if data.get("rule") in FORWARDS and data.get("notice") == "custom" and data.get("notice_prompt_id") is None:
            raise ValidationError("a custom notice names its prompt", "notice_prompt_id")

    @post_load
    def only_the_rules_target(self, data, **kwargs):
        # A target the rule does not use is dropped, never stored unchecked.
        keep = NO_ANSWER_TARGETS.get(data.get("rule"), (None,))[0]
        for field, _ in NO_ANSWER_TARGETS.values():
            if field != keep and field in data:
                data[field] = None
        if data.get("rule") != "drop_message":
            data["message_prompt_id"] = None
        if data.get("rule") not in FORWARDS:
            data["notice"] = "none"
        if data.get("notice") != "custom":
            data["notice_prompt_id"] = None
        return data


class AbsenceSchema(Schema):
    id = fields.Integer(dump_only=True)
    kind = fields.String(required=True, validate=validate.OneOf(["vacation", "sick_leave"]))
    start = fields.Date(required=True)
    end = fields.Date(required=True)

    @validates_schema
    def ordered(self, data, **kwargs):
        if data["end"] < data["start"]:
            raise ValidationError("ends before it starts", "end")


class EmployeeSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Name(required=True)
    extension = fields.String(
        required=True, validate=validate.Regexp(r"^[0-9]{2,6}$", error="an extension is 2 to 6 digits")
    )
    email = fields.Email(allow_none=True, load_default=None)
    mobile = PhoneNumber(allow_none=True, load_default=None)
    mobile_after = fields.Integer(
        allow_none=True,
        load_default=None,
        validate=validate.Range(0, 120),
        metadata={
            "description": "R5: seconds the desk phone rings alone before the mobile rings too (0: together); "
            "none: calls do not ring the mobile"
        },
    )
    role = fields.String(load_default="user", validate=validate.OneOf(["admin", "user", "limited"]))
    sip_login = fields.String(
        allow_none=True,
        validate=validate.Regexp(r"^[A-Za-z0-9._-]{1,64}$", error="letters, digits, '.', '_' or '-', at most 64"),
        metadata={
            "description": "The SIP account's user name; left out or null, the extension. Every employee gets one, "
            "with a password shown once in the answer (sip_password)"
        },
    )
    schedule_id = fields.Integer(
        load_default=None, allow_none=True, metadata={"description": "Personal working hours; none: always available"}
    )
    no_answer = fields.Nested(NoAnswerSchema, load_default=lambda: NoAnswerSchema().load({}))
    outgoing_calls = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.OneOf(PERMISSIONS),
        metadata={
            "description": "Which numbers outside the company the employee may call; each allows the ones "
            "before it: internal, local, national, mobile, international (premium-rate numbers included). "
            "None: the widest of their departments', else mobile. Emergency numbers are always allowed."
        },
    )
    caller_id = PhoneNumber(
        allow_none=True,
        load_default=None,
        metadata={"description": "The company number callees see; none: their first department's, else the company's"},
    )
    dnd = fields.Boolean(
        load_default=False,
        metadata={"description": "Do not disturb: calls skip the employee as one off duty (feature codes *78, *79)"},
    )
    forward_all = PhoneNumber(
        allow_none=True,
        load_default=None,
        metadata={
            "description": "Every call to the employee rings this number instead (feature codes *72<number>, *73); "
            "a department skips them. Only a number the employee may call, and none of the company's own"
        },
    )


class SipCredentialsSchema(Schema):
    sip_login = fields.String()
    sip_domain = fields.String()
    sip_password = fields.String(metadata={"description": "Shown once: only its digest is stored."})


class EmployeeCreatedSchema(EmployeeSchema):
    sip_password = fields.String(dump_only=True, metadata={"description": "Shown once."})
    welcome_email_to = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "Where the SIP account's details were sent (seed 004); null: not sent"},
    )


class NewEmployeeSchema(EmployeeSchema):
    send_welcome_email = fields.Boolean(
        load_default=True,
        load_only=True,
        metadata={
            "description": "Email the employee (when they have an address) their SIP login, password and "
            "how to set up a phone; false when an administrator sets the phone up for them"
        },
    )


DEFAULT_TOKEN_DAYS = 90


class NewTokenSchema(Schema):
    label = Name(load_default="api", metadata={"description": "what the token is for, as /tokens lists it"})
    expires_in_days = fields.Integer(load_default=DEFAULT_TOKEN_DAYS, validate=validate.Range(1, 3650))


class TokenSchema(Schema):
    id = fields.Integer()
    token = fields.String(metadata={"description": "Shown once: only its digest is stored."})
    expires_at = fields.DateTime()


def _shape(row: dict) -> dict:
    """A database row as the API shows an employee."""
    employee = {
        k: row[k]
        for k in (
            "id",
            "name",
            "extension",
            "email",
            "mobile",
            "role",
            "sip_login",
            "schedule_id",
            "outgoing_calls",
            "dnd",
            "forward_all",
        )
    }
    employee["caller_id"] = row["caller_id"]
    employee["mobile_after"] = row["mobile_after_s"]
    employee["no_answer"] = {
        "rule": row["no_answer_rule"],
        "after": row["no_answer_after_s"],
        "employee_id": row["no_answer_employee_id"],
        "department_id": row["no_answer_department_id"],
        "voicemail_box_id": row["no_answer_voicemail_box_id"],
        "message_prompt_id": row["no_answer_message_prompt_id"],
        "notice": row["no_answer_notice"],
        "notice_prompt_id": row["no_answer_notice_prompt_id"],
    }
    return employee


def _find(conn, employee_id: int) -> dict:
    row = conn.execute(
        f"SELECT {COLUMNS} FROM employees WHERE id = %s AND company_id = %s", (employee_id, principal().company_id)
    ).fetchone()
    if row is None:
        raise not_found("Employee")
    return _shape(row)


def _check_references(conn, company_id: int, employee_id: int | None, data: dict) -> None:
    if not owned(conn, company_id, "schedule", data.get("schedule_id")):
        raise invalid("schedule_id", missing("schedule", data["schedule_id"]))
    no_answer = data.get("no_answer")
    if not no_answer:
        return
    for field in ("message_prompt_id", "notice_prompt_id"):
        if not owned(conn, company_id, "prompt", no_answer.get(field)):
            raise ApiError(
                422, "The request is invalid.", {"no_answer": {field: [missing("prompt", no_answer[field])]}}
            )
    field_what = NO_ANSWER_TARGETS.get(no_answer["rule"])
    if field_what is None:
        return
    field, what = field_what
    if not owned(conn, company_id, what, no_answer[field]):
        raise ApiError(422, "The request is invalid.", {"no_answer": {field: [missing(what, no_answer[field])]}})
    if what == "employee" and no_answer[field] == employee_id:
        raise ApiError(
            422,
            "The request is invalid.",
            {"no_answer": {field: ["a call cannot be forwarded to the employee it was for"]}},
        )


def _check_mobile(data: dict) -> None:
    if data.get("mobile_after") is not None and not data.get("mobile"):
        raise invalid("mobile_after", "ringing the mobile needs a mobile number")


def _check_forward_all(conn, company: dict, employee_id: int, data: dict) -> None:
    """Forwarded calls leave through the trunks at the company's cost: only to
    a number the employee may call, as the feature code *72 checks. Called once
    the employee's settings are written (in the request's transaction), so the
    permission is the effective one, their departments' included."""
    if not data.get("forward_all"):
        return
    document = {"outgoing": {"region": company["region"].strip(), "numbers": sorted(numbers_of(conn, company["id"]))}}
    number, what = forward_number(document, data["forward_all"])
    if number is None:
        raise invalid("forward_all", what)
    permission = outgoing_settings(conn, company["id"], None, employee_id)[employee_id].allowed
    if not allowed(permission, what):
        raise invalid("forward_all", f"a {what} number, and the employee may call {permission} at most")


def _write_call_settings(conn, company_id: int, employee_id: int, data: dict) -> None:
    """When the employee is rung, what a call they miss does, and whom they may call outside as whom."""
    no_answer = data["no_answer"]
    conn.execute(
        """UPDATE employees SET schedule_id = %s, no_answer_rule = %s, no_answer_after_s = %s,
           no_answer_employee_id = %s, no_answer_department_id = %s, no_answer_voicemail_box_id = %s,
           no_answer_message_prompt_id = %s, no_answer_notice = %s, no_answer_notice_prompt_id = %s,
           outgoing_calls = %s, caller_id_number_id = %s, dnd = %s, forward_all = %s
           WHERE id = %s""",
        (
            data["schedule_id"],
            no_answer["rule"],
            no_answer["after"],
            no_answer["employee_id"],
            no_answer["department_id"],
            no_answer["voicemail_box_id"],
            no_answer["message_prompt_id"],
            no_answer["notice"],
            no_answer["notice_prompt_id"],
            data["outgoing_calls"],
            caller_id_number(conn, company_id, data["caller_id"]),
            data["dnd"],
            data["forward_all"],
            employee_id,
        ),
    )


def _send_welcome(welcome: welcome_email.Welcome, to: str) -> None:
    """In a thread of its own, once the employee is committed: a slow or
    absent mail server never holds the API's answer (the password is in it too)."""
    settings = current_app.config["VPBX_SETTINGS"]

    def send() -> None:
        try:
            mail.send(settings.media.smtp, welcome_email.compose(welcome, settings, to), [to])
            log.info("welcome email for extension %s sent to %s", welcome.extension, to)
        except (OSError, smtplib.SMTPException) as exc:
            log.error("welcome email for extension %s to %s not sent: %s", welcome.extension, to, exc)

    threading.Thread(target=send, name="welcome-email", daemon=True).start()


def _visible(employee_id: int) -> None:
    who = principal()
    if who.role == "limited" and employee_id != who.employee_id:
        raise not_found("Employee")


def login_taken_by(
    conn, company_id: int, login: str, *, employee_id: int | None = None, account_id: int | None = None
) -> str | None:
    """Who in the company already has this SIP login: employees and SIP accounts share one realm."""
    row = conn.execute(
        """SELECT name FROM employees WHERE company_id = %(c)s AND sip_login = %(l)s AND id IS DISTINCT FROM %(e)s
           UNION ALL
           SELECT 'SIP account ' || name FROM sip_accounts
           WHERE company_id = %(c)s AND sip_login = %(l)s AND id IS DISTINCT FROM %(a)s
           LIMIT 1""",
        {"c": company_id, "l": login, "e": employee_id, "a": account_id},
    ).fetchone()
    return row["name"] if row else None


def _check_unique(conn, company_id: int, employee_id: int | None, extension: str | None, login: str | None):
    if extension is not None:
        holder = conn.execute(
            "SELECT name FROM employees WHERE company_id = %s AND extension = %s AND id IS DISTINCT FROM %s",
            (company_id, extension, employee_id),
        ).fetchone()
        if holder:
            raise invalid("extension", f"{extension} is already used by {holder['name']}")
    if login is not None and (holder := login_taken_by(conn, company_id, login, employee_id=employee_id)):
        raise invalid("sip_login", f"{login} is already used by {holder}")


def _set_password(conn, employee_id: int, login: str, domain: str) -> str:
    return reset_password(conn, "employees", employee_id, login, domain)


@blueprint.route("")
class Employees(MethodView):
    @blueprint.response(200, EmployeeSchema(many=True))
    def get(self):
        who = principal()
        if who.role == "limited":
            return [_find(db(), who.employee_id)]
        return [
            _shape(r)
            for r in db().execute(
                f"SELECT {COLUMNS} FROM employees WHERE company_id = %s ORDER BY extension", (who.company_id,)
            )
        ]

    @blueprint.arguments(NewEmployeeSchema)
    @blueprint.response(201, EmployeeCreatedSchema)
    def post(self, data):
        who = require_admin()
        conn = db()
        data["sip_login"] = data.get("sip_login") or data["extension"]
        _check_unique(conn, who.company_id, None, data["extension"], data["sip_login"])
        _check_references(conn, who.company_id, None, data)
        _check_mobile(data)
        company = load_company(conn, who.company_id)
        domain = company["sip_domain"]
        employee_id = conn.execute(
            """INSERT INTO employees (company_id, name, extension, email, mobile, mobile_after_s, role, sip_login,
                                      sip_ha1, sip_ha1b)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, '', '') RETURNING id""",
            (
                who.company_id,
                data["name"],
                data["extension"],
                data["email"],
                data["mobile"],
                data["mobile_after"],
                data["role"],
                data["sip_login"],
            ),
        ).fetchone()["id"]
        _write_call_settings(conn, who.company_id, employee_id, data)
        _check_forward_all(conn, company, employee_id, data)
        row = _find(conn, employee_id)
        row["sip_password"] = _set_password(conn, employee_id, row["sip_login"], domain)
        republish_company(who.company_id)
        row["welcome_email_to"] = None
        if data["send_welcome_email"] and row["email"]:
            welcome = welcome_email.Welcome(
                row["name"], company["name"], row["extension"], row["sip_login"], row["sip_password"], domain
            )
            after_commit(lambda _conn: _send_welcome(welcome, row["email"]))
            row["welcome_email_to"] = row["email"]
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
                raise ApiError(
                    403,
                    "Only an administrator can change these fields.",
                    {f: ["only an administrator can change this"] for f in forbidden},
                )
        if "no_answer" in changes:
            # PATCH changes the fields it names; the rule is checked whole.
            try:
                changes["no_answer"] = NoAnswerSchema().load({**current["no_answer"], **changes["no_answer"]})
            except ValidationError as exc:
                raise ApiError(422, "The request is invalid.", {"no_answer": exc.messages}) from None
        if "sip_login" in changes and changes["sip_login"] is None:
            # As on creation: no login of its own means the extension is the login.
            changes["sip_login"] = changes.get("extension", current["extension"])
        if changes.get("role") not in (None, "admin") and employee_id == who.employee_id:
            raise invalid("role", "you cannot take away your own administrator role")
        _check_unique(conn, who.company_id, employee_id, changes.get("extension"), changes.get("sip_login"))
        _check_references(conn, who.company_id, employee_id, changes)
        updated = {**current, **changes}
        _check_mobile(updated)
        company = load_company(conn, who.company_id)
        conn.execute(
            # The mobile and its delay in one statement: the table refuses a delay without a mobile.
            """UPDATE employees SET name = %s, extension = %s, email = %s, mobile = %s, mobile_after_s = %s, role = %s,
                                    sip_login = %s
               WHERE id = %s""",
            (
                updated["name"],
                updated["extension"],
                updated["email"],
                updated["mobile"],
                updated["mobile_after"],
                updated["role"],
                updated["sip_login"],
                employee_id,
            ),
        )
        _write_call_settings(conn, who.company_id, employee_id, updated)
        _check_forward_all(conn, company, employee_id, updated)
        domain = company["sip_domain"]
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
        forwarding = [
            r["name"]
            for r in conn.execute(
                "SELECT name FROM employees WHERE no_answer_employee_id = %s ORDER BY name", (employee_id,)
            )
        ]
        if forwarding:
            raise invalid(
                "id", f"the no-answer rule of {', '.join(forwarding)} forwards to this employee: change it first"
            )
        gone = conn.execute(
            """DELETE FROM employees e USING companies c WHERE e.id = %s AND c.id = e.company_id
               RETURNING e.sip_login, c.sip_domain""",
            (employee_id,),
        ).fetchone()
        republish_company(who.company_id)
        after_commit(lambda _conn: _forget_phones(f"{gone['sip_login']}@{gone['sip_domain']}"))


def _forget_phones(aor: str) -> None:
    """Unregister a deleted employee's phones: until they expire, a new employee
    given the same login would have calls forked to the old phone too. On a
    cluster this reaches the node the sidecar runs beside; the others keep
    their copy until it expires (usrloc's database is written through, not
    read back)."""
    try:
        KamailioRpc(current_app.config["VPBX_SETTINGS"].kamailio_rpc, timeout=1.0).call("ul.rm", "location", aor)
    except RpcError as exc:
        if "not found" not in str(exc).lower():
            log.warning("the phones of %s not unregistered: %s", aor, exc)
    except OSError as exc:
        log.warning("the phones of %s not unregistered (Kamailio unreachable): %s", aor, exc)


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
@blueprint.arguments(NewTokenSchema, required=False)
@blueprint.response(201, TokenSchema)
def new_token(data, employee_id):
    """Issue an API token acting as this employee (with this employee's role),
    valid for ``expires_in_days`` (90 by default); list and revoke at /tokens."""
    _self_or_admin(employee_id)
    conn = db()
    _find(conn, employee_id)
    expires_at = now() + timedelta(days=data.get("expires_in_days", DEFAULT_TOKEN_DAYS))
    token_id, token = issue(conn, employee_id, data.get("label", "api"), expires_at)
    return {"id": token_id, "token": token, "expires_at": expires_at}


@blueprint.route("/<int:employee_id>/absences")
class Absences(MethodView):
    """Vacation and sick leave: a call skips the employee on those days (R3)."""

    @blueprint.response(200, AbsenceSchema(many=True))
    def get(self, employee_id):
        _visible(employee_id)
        conn = db()
        _find(conn, employee_id)
        return conn.execute(
            "SELECT id, kind, start_date AS start, end_date AS end FROM employee_absences "
            "WHERE employee_id = %s ORDER BY start_date",
            (employee_id,),
        ).fetchall()

    @blueprint.arguments(AbsenceSchema)
    @blueprint.response(201, AbsenceSchema)
    def post(self, data, employee_id):
        _self_or_admin(employee_id)
        conn = db()
        _find(conn, employee_id)
        clash = conn.execute(
            """SELECT kind, start_date, end_date FROM employee_absences
               WHERE employee_id = %s AND start_date <= %s AND end_date >= %s""",
            (employee_id, data["end"], data["start"]),
        ).fetchone()
        if clash:
            raise invalid(
                "start", f"overlaps the {clash['kind'].replace('_', ' ')} {clash['start_date']}..{clash['end_date']}"
            )
        row = conn.execute(
            "INSERT INTO employee_absences (employee_id, kind, start_date, end_date) VALUES (%s, %s, %s, %s) "
            "RETURNING id, kind, start_date AS start, end_date AS end",
            (employee_id, data["kind"], data["start"], data["end"]),
        ).fetchone()
        republish_company(principal().company_id)
        return row


@blueprint.route("/<int:employee_id>/absences/<int:absence_id>", methods=["DELETE"])
@blueprint.response(204)
def delete_absence(employee_id, absence_id):
    _self_or_admin(employee_id)
    conn = db()
    _find(conn, employee_id)
    if (
        conn.execute(
            "DELETE FROM employee_absences WHERE id = %s AND employee_id = %s RETURNING id", (absence_id, employee_id)
        ).fetchone()
        is None
    ):
        raise not_found("Absence")
    republish_company(principal().company_id)
