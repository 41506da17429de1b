"""/api/v1/departments: groups of employees that share calls (R4).

``members`` lists employee ids in ring order. How calls are distributed
(all at once, in order, round robin, random, longest idle) and what happens
when nobody answers are the department's own settings.
"""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..routing.department_state import state_key
from .auth import require_admin
from .blueprints import api_blueprint
from .changes import forget_state, republish_company
from .database import after_commit, db
from .errors import ApiError, invalid, not_found
from .fields import Name
from .references import missing, owned

blueprint = api_blueprint("departments", "/departments", "Departments and how they share calls")


class DepartmentSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Name(required=True)
    distribution = fields.String(
        load_default="all_at_once",
        validate=validate.OneOf(["all_at_once", "in_order", "round_robin", "random", "longest_idle"]),
    )
    ring_time = fields.Integer(
        load_default=20,
        validate=validate.Range(5, 300),
        metadata={"description": "Seconds each member rings when members ring one after another"},
    )
    if_nobody_answers = fields.String(
        load_default="next_step", validate=validate.OneOf(["next_step", "voicemail", "call_back_later"])
    )
    voicemail_box_id = fields.Integer(allow_none=True, load_default=None)
    members = fields.List(fields.Integer(), load_default=list, metadata={"description": "Employee ids, in order"})

    @validates_schema
    def consistent(self, data, **kwargs):
        members = data.get("members", [])
        if len(set(members)) != len(members):
            raise ValidationError("an employee is listed twice", "members")
        if data.get("if_nobody_answers") == "voicemail" and data.get("voicemail_box_id") is None:
            raise ValidationError("'voicemail' needs a voicemail box", "voicemail_box_id")


def _load(conn, company_id: int, department_id: int) -> dict:
    row = conn.execute(
        """SELECT id, name, distribution, ring_time_s AS ring_time, if_nobody_answers, voicemail_box_id
           FROM departments WHERE id = %s AND company_id = %s""",
        (department_id, company_id),
    ).fetchone()
    if row is None:
        raise not_found("Department")
    row["members"] = [
        r["employee_id"]
        for r in conn.execute(
            "SELECT employee_id FROM department_members WHERE department_id = %s ORDER BY position", (department_id,)
        )
    ]
    return row


def _check(conn, company_id: int, department_id: int | None, data: dict) -> None:
    if conn.execute(
        "SELECT 1 FROM departments WHERE company_id = %s AND name = %s AND id IS DISTINCT FROM %s",
        (company_id, data["name"], department_id),
    ).fetchone():
        raise invalid("name", f"a department named {data['name']!r} already exists")
    if not owned(conn, company_id, "voicemail box", data["voicemail_box_id"]):
        raise invalid("voicemail_box_id", missing("voicemail box", data["voicemail_box_id"]))
    errors = {
        i: [missing("employee", e)] for i, e in enumerate(data["members"]) if not owned(conn, company_id, "employee", e)
    }
    if errors:
        raise ApiError(422, "The request is invalid.", {"members": errors})


def _write(conn, department_id: int, data: dict) -> None:
    conn.execute(
        """UPDATE departments SET name = %s, distribution = %s, ring_time_s = %s, if_nobody_answers = %s,
           voicemail_box_id = %s WHERE id = %s""",
        (
            data["name"],
            data["distribution"],
            data["ring_time"],
            data["if_nobody_answers"],
            data["voicemail_box_id"],
            department_id,
        ),
    )
    conn.execute("DELETE FROM department_members WHERE department_id = %s", (department_id,))
    for position, employee_id in enumerate(data["members"]):
        conn.execute(
            "INSERT INTO department_members (department_id, employee_id, position) VALUES (%s, %s, %s)",
            (department_id, employee_id, position),
        )


@blueprint.route("")
class Departments(MethodView):
    @blueprint.response(200, DepartmentSchema(many=True))
    def get(self):
        who = require_admin()
        conn = db()
        return [
            _load(conn, who.company_id, r["id"])
            for r in conn.execute("SELECT id FROM departments WHERE company_id = %s ORDER BY id", (who.company_id,))
        ]

    @blueprint.arguments(DepartmentSchema)
    @blueprint.response(201, DepartmentSchema)
    def post(self, data):
        who = require_admin()
        conn = db()
        _check(conn, who.company_id, None, data)
        department_id = conn.execute(
            "INSERT INTO departments (company_id, name) VALUES (%s, %s) RETURNING id", (who.company_id, data["name"])
        ).fetchone()["id"]
        _write(conn, department_id, data)
        return _load(conn, who.company_id, department_id)


@blueprint.route("/<int:department_id>")
class Department(MethodView):
    @blueprint.response(200, DepartmentSchema)
    def get(self, department_id):
        who = require_admin()
        return _load(db(), who.company_id, department_id)

    @blueprint.arguments(DepartmentSchema)
    @blueprint.response(200, DepartmentSchema)
    def put(self, data, department_id):
        who = require_admin()
        conn = db()
        _load(conn, who.company_id, department_id)
        _check(conn, who.company_id, department_id, data)
        _write(conn, department_id, data)
        republish_company(who.company_id)
        return _load(conn, who.company_id, department_id)

    @blueprint.response(204)
    def delete(self, department_id):
        who = require_admin()
        conn = db()
        _load(conn, who.company_id, department_id)
        users = [
            r["what"]
            for r in conn.execute(
                """SELECT DISTINCT 'scheme ' || quote_literal(s.name) AS what FROM schemes s
               JOIN scheme_steps st ON st.scheme_id = s.id JOIN step_destinations d ON d.step_id = st.id
               WHERE d.department_id = %(id)s
               UNION ALL SELECT 'voicemail box ' || quote_literal(b.name) FROM voicemail_boxes b
               LEFT JOIN voicemail_recipients r ON r.voicemail_box_id = b.id
               WHERE b.owner_department_id = %(id)s OR r.department_id = %(id)s
               UNION ALL SELECT 'the no-answer rule of ' || quote_literal(name) FROM employees
               WHERE no_answer_department_id = %(id)s""",
                {"id": department_id},
            )
        ]
        if users:
            raise invalid("id", f"in use by {', '.join(sorted(set(users)))}: change them first")
        conn.execute("DELETE FROM departments WHERE id = %s", (department_id,))
        after_commit(lambda _conn: forget_state(state_key(department_id)))
