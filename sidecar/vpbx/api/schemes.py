"""/api/v1/schemes: forwarding schemes, an ordered chain of steps (R7, R8).

A scheme is written whole: POST creates it, PUT replaces its name and steps in
one transaction. Each destination is a tagged union on ``kind``, validated by
the schema of its kind.
"""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .auth import principal, require_admin
from .blueprints import api_blueprint
from .changes import republish_company
from .database import db
from .errors import ApiError, invalid, not_found
from ..config.compile import MAX_BACKUP_DEPTH
from .fields import PhoneNumber
from .references import missing, owned

blueprint = api_blueprint("schemes", "/schemes", "Forwarding schemes: ordered steps of destinations")

MAX_PARALLEL = 10
MIN_TIMEOUT, MAX_TIMEOUT = 15, 600


class EmployeeDestination(Schema):
    kind = fields.Constant("employee")
    employee_id = fields.Integer(required=True)


class PhoneNumberDestination(Schema):
    kind = fields.Constant("phone_number")
    number = PhoneNumber(required=True)


class SipUriDestination(Schema):
    kind = fields.Constant("sip_uri")
    uri = fields.String(required=True, validate=validate.Regexp(
        r"^sips?:[^@\s]+@[^@\s]+$", error="a SIP URI such as sip:user@example.com"))


class DepartmentDestination(Schema):
    kind = fields.Constant("department")
    department_id = fields.Integer(required=True)


class VoicemailDestination(Schema):
    kind = fields.Constant("voicemail")
    voicemail_box_id = fields.Integer(required=True)


DESTINATION_SCHEMAS: dict[str, type[Schema]] = {
    "employee": EmployeeDestination,
    "department": DepartmentDestination,
    "phone_number": PhoneNumberDestination,
    "sip_uri": SipUriDestination,
    "voicemail": VoicemailDestination,
}
# Destination kinds that name an object of the company: kind -> (field, what).
REFERENCES = {
    "employee": ("employee_id", "employee"),
    "department": ("department_id", "department"),
    "voicemail": ("voicemail_box_id", "voicemail box"),
}


class Destination(fields.Field):
    """Dispatches on ``kind`` to the schema of that destination kind."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ValidationError("a destination is an object with a 'kind'")
        schema = DESTINATION_SCHEMAS.get(value.get("kind"))
        if schema is None:
            raise ValidationError({"kind": [f"one of: {', '.join(DESTINATION_SCHEMAS)}"]})
        return {"kind": value["kind"], **schema().load({k: v for k, v in value.items() if k != "kind"})}

    def _serialize(self, value, attr, obj, **kwargs):
        return DESTINATION_SCHEMAS[value["kind"]]().dump(value)


class StepSchema(Schema):
    mode = fields.String(required=True, validate=validate.OneOf(["parallel", "sequential"]))
    timeout = fields.Integer(required=True, validate=validate.Range(
        MIN_TIMEOUT, MAX_TIMEOUT,
        error=f"a step rings {MIN_TIMEOUT} to {MAX_TIMEOUT} s ({MIN_TIMEOUT} s is meant for voicemail; "
              "more than 30 s is recommended for people)"))
    destinations = fields.List(Destination(), required=True, validate=validate.Length(min=1))

    @validates_schema
    def parallel_limit(self, data, **kwargs):
        if data.get("mode") == "parallel" and len(data.get("destinations", [])) > MAX_PARALLEL:
            raise ValidationError(f"at most {MAX_PARALLEL} destinations ring in parallel", "destinations")


class SchemeSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(1, 200))
    steps = fields.List(fields.Nested(StepSchema), required=True, validate=validate.Length(1, 20))
    active_schedule_id = fields.Integer(
        allow_none=True, load_default=None,
        metadata={"description": "Applies only while this schedule is open (R9); none: always"})
    backup_scheme_id = fields.Integer(
        allow_none=True, load_default=None, metadata={"description": "Applies while this one is not active"})


def _check_links(conn, company_id: int, scheme_id: int | None, data: dict) -> None:
    if not owned(conn, company_id, "schedule", data["active_schedule_id"]):
        raise invalid("active_schedule_id", missing("schedule", data["active_schedule_id"]))
    backup = data["backup_scheme_id"]
    if backup is None:
        return
    chain = [data["name"]]
    seen = {scheme_id}
    while backup is not None:
        row = conn.execute("SELECT id, name, backup_scheme_id FROM schemes WHERE id = %s AND company_id = %s",
                           (backup, company_id)).fetchone()
        if row is None:
            raise invalid("backup_scheme_id", f"no scheme {backup} in this company")
        chain.append(row["name"])
        if row["id"] in seen:
            raise invalid("backup_scheme_id", f"the backups loop: {' -> '.join(chain)}")
        if len(chain) > MAX_BACKUP_DEPTH + 1:
            raise invalid("backup_scheme_id", f"backups chain at most {MAX_BACKUP_DEPTH} schemes")
        seen.add(row["id"])
        backup = row["backup_scheme_id"]


def _check_destinations(conn, company_id: int, steps: list[dict]) -> None:
    """Every employee, department or voicemail box named must belong to the caller's company."""
    errors: dict = {}
    for s_index, step in enumerate(steps):
        for d_index, destination in enumerate(step["destinations"]):
            if destination["kind"] not in REFERENCES:
                continue
            field, what = REFERENCES[destination["kind"]]
            if not owned(conn, company_id, what, destination[field]):
                errors.setdefault("steps", {}).setdefault(s_index, {}).setdefault("destinations", {})[d_index] = {
                    field: [missing(what, destination[field])]}
    if errors:
        raise ApiError(422, "The request is invalid.", errors)


def _write_steps(conn, scheme_id: int, steps: list[dict]) -> None:
    conn.execute("DELETE FROM scheme_steps WHERE scheme_id = %s", (scheme_id,))
    for position, step in enumerate(steps):
        step_id = conn.execute(
            "INSERT INTO scheme_steps (scheme_id, position, mode, timeout_s) VALUES (%s, %s, %s, %s) RETURNING id",
            (scheme_id, position, step["mode"], step["timeout"]),
        ).fetchone()["id"]
        for d_position, destination in enumerate(step["destinations"]):
            conn.execute(
                """INSERT INTO step_destinations (step_id, position, kind, employee_id, department_id,
                                                  voicemail_box_id, phone_number, sip_uri)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
                (step_id, d_position, destination["kind"], destination.get("employee_id"),
                 destination.get("department_id"), destination.get("voicemail_box_id"),
                 destination.get("number"), destination.get("uri")),
            )


def _load(conn, scheme_id: int) -> dict:
    scheme = conn.execute(
        "SELECT id, name, active_schedule_id, backup_scheme_id FROM schemes WHERE id = %s AND company_id = %s",
        (scheme_id, principal().company_id)).fetchone()
    if scheme is None:
        raise not_found("Scheme")
    rows = conn.execute(
        """SELECT s.id AS step_id, s.mode, s.timeout_s, d.kind, d.employee_id, d.department_id,
                  d.voicemail_box_id, d.phone_number, d.sip_uri
           FROM scheme_steps s LEFT JOIN step_destinations d ON d.step_id = s.id
           WHERE s.scheme_id = %s ORDER BY s.position, d.position""",
        (scheme_id,),
    ).fetchall()
    steps: dict[int, dict] = {}
    for row in rows:
        step = steps.setdefault(row["step_id"], {"mode": row["mode"], "timeout": row["timeout_s"],
                                                 "destinations": []})
        if row["kind"]:
            step["destinations"].append({"kind": row["kind"], "employee_id": row["employee_id"],
                                         "department_id": row["department_id"],
                                         "voicemail_box_id": row["voicemail_box_id"],
                                         "number": row["phone_number"], "uri": row["sip_uri"]})
    return {**scheme, "steps": list(steps.values())}


def _name_free(conn, company_id: int, name: str, scheme_id: int | None) -> None:
    taken = conn.execute("SELECT 1 FROM schemes WHERE company_id = %s AND name = %s AND id IS DISTINCT FROM %s",
                         (company_id, name, scheme_id)).fetchone()
    if taken:
        raise ApiError(422, "The request is invalid.", {"name": [f"a scheme named {name!r} already exists"]})


@blueprint.route("")
class Schemes(MethodView):
    @blueprint.response(200, SchemeSchema(many=True))
    def get(self):
        who = require_admin()
        conn = db()
        ids = [r["id"] for r in conn.execute("SELECT id FROM schemes WHERE company_id = %s ORDER BY id",
                                             (who.company_id,))]
        return [_load(conn, i) for i in ids]

    @blueprint.arguments(SchemeSchema)
    @blueprint.response(201, SchemeSchema)
    def post(self, data):
        who = require_admin()
        conn = db()
        _name_free(conn, who.company_id, data["name"], None)
        _check_destinations(conn, who.company_id, data["steps"])
        _check_links(conn, who.company_id, None, data)
        scheme_id = conn.execute(
            "INSERT INTO schemes (company_id, name, active_schedule_id, backup_scheme_id) "
            "VALUES (%s, %s, %s, %s) RETURNING id",
            (who.company_id, data["name"], data["active_schedule_id"], data["backup_scheme_id"])).fetchone()["id"]
        _write_steps(conn, scheme_id, data["steps"])
        return _load(conn, scheme_id)


@blueprint.route("/<int:scheme_id>")
class Scheme(MethodView):
    @blueprint.response(200, SchemeSchema)
    def get(self, scheme_id):
        require_admin()
        return _load(db(), scheme_id)

    @blueprint.arguments(SchemeSchema)
    @blueprint.response(200, SchemeSchema)
    def put(self, data, scheme_id):
        who = require_admin()
        conn = db()
        _load(conn, scheme_id)
        _name_free(conn, who.company_id, data["name"], scheme_id)
        _check_destinations(conn, who.company_id, data["steps"])
        _check_links(conn, who.company_id, scheme_id, data)
        conn.execute("UPDATE schemes SET name = %s, active_schedule_id = %s, backup_scheme_id = %s WHERE id = %s",
                     (data["name"], data["active_schedule_id"], data["backup_scheme_id"], scheme_id))
        _write_steps(conn, scheme_id, data["steps"])
        republish_company(who.company_id)
        return _load(conn, scheme_id)

    @blueprint.response(204)
    def delete(self, scheme_id):
        require_admin()
        conn = db()
        _load(conn, scheme_id)
        users = [r["what"] for r in conn.execute(
            """SELECT 'number ' || e164 AS what FROM numbers WHERE %(id)s IN (scheme_id, off_hours_scheme_id)
               UNION ALL SELECT 'scheme ' || quote_literal(name) FROM schemes WHERE backup_scheme_id = %(id)s""",
            {"id": scheme_id})]
        if users:
            raise ApiError(422, "The request is invalid.",
                           {"id": [f"in use by {', '.join(users)}: change them first"]})
        conn.execute("DELETE FROM schemes WHERE id = %s", (scheme_id,))
