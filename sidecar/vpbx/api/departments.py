"""/api/v1/departments: groups of employees that share calls (R4).

``members`` lists employee ids in ring order. How calls are distributed
(all at once, in order, round robin, random, longest idle) and what happens
when nobody answers are the department's own settings.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..routing.department_state import state_key
from ..routing.outbound import PERMISSIONS
from .blueprints import api_blueprint
from .changes import forget_state
from .database import after_commit
from .errors import invalid
from .fields import Name, PhoneNumber
from .references import caller_id_number, missing, owned, require_owned_list
from .resources import Service, routes

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
        load_default="next_step",
        validate=validate.OneOf(["next_step", "voicemail", "call_back_later"]),
        metadata={
            "description": "next_step: the plan goes on; voicemail: the department's voicemail_box_id; "
            "call_back_later: the caller hears that the department will call back, and its members on duty "
            "are rung, then the caller, once they hung up"
        },
    )
    voicemail_box_id = fields.Integer(allow_none=True, load_default=None)
    members = fields.List(fields.Integer(), load_default=list, metadata={"description": "Employee ids, in order"})
    outgoing_calls = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.OneOf(PERMISSIONS),
        metadata={
            "description": "Which numbers outside the company members may call, where a member has no permission "
            "of their own; a member of several departments gets the widest. None: the company's default (mobile)"
        },
    )
    caller_id = PhoneNumber(
        allow_none=True,
        load_default=None,
        metadata={
            "description": "The company number members' outgoing calls show, where a member has none of their own; "
            "members may also choose it for one call (*81)"
        },
    )

    @validates_schema
    def consistent(self, data, **kwargs):
        members = data.get("members", [])
        if len(set(members)) != len(members):
            raise ValidationError("an employee is listed twice", "members")
        if data.get("if_nobody_answers") == "voicemail" and data.get("voicemail_box_id") is None:
            raise ValidationError("'voicemail' needs a voicemail box", "voicemail_box_id")


class Departments(Service):
    what = "department"
    table = "departments"
    id_name = "department_id"
    schema = DepartmentSchema

    def load(self, conn, company_id: int, object_id: int) -> dict:
        row = conn.execute(
            """SELECT id, name, distribution, ring_time_s AS ring_time, if_nobody_answers, voicemail_box_id,
                      outgoing_calls, (SELECT e164 FROM numbers WHERE id = caller_id_number_id) AS caller_id
               FROM departments WHERE id = %s AND company_id = %s""",
            (object_id, company_id),
        ).fetchone()
        if row is None:
            raise self.not_found()
        row["members"] = [
            r["employee_id"]
            for r in conn.execute(
                "SELECT employee_id FROM department_members WHERE department_id = %s ORDER BY position", (object_id,)
            )
        ]
        return row

    def check(self, conn, company_id: int, object_id: int | None, data: dict) -> None:
        super().check(conn, company_id, object_id, data)
        if not owned(conn, company_id, "voicemail box", data["voicemail_box_id"]):
            raise invalid("voicemail_box_id", missing("voicemail box", data["voicemail_box_id"]))
        require_owned_list(conn, company_id, "employee", "members", data["members"])
        data["caller_id_number_id"] = caller_id_number(conn, company_id, data["caller_id"])

    def write(self, conn, object_id: int, data: dict) -> None:
        conn.execute(
            """UPDATE departments SET name = %s, distribution = %s, ring_time_s = %s, if_nobody_answers = %s,
               voicemail_box_id = %s, outgoing_calls = %s, caller_id_number_id = %s WHERE id = %s""",
            (
                data["name"],
                data["distribution"],
                data["ring_time"],
                data["if_nobody_answers"],
                data["voicemail_box_id"],
                data["outgoing_calls"],
                data["caller_id_number_id"],
                object_id,
            ),
        )
        conn.execute("DELETE FROM department_members WHERE department_id = %s", (object_id,))
        for position, employee_id in enumerate(data["members"]):
            conn.execute(
                "INSERT INTO department_members (department_id, employee_id, position) VALUES (%s, %s, %s)",
                (object_id, employee_id, position),
            )

    def users(self, conn, object_id: int) -> list[str]:
        return [
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
                {"id": object_id},
            )
        ]

    def delete(self, conn, company_id: int, object_id: int) -> None:
        super().delete(conn, company_id, object_id)
        # Its round robin turn and members' call times: nothing routes by them any more.
        after_commit(lambda _conn: forget_state(state_key(object_id)))


routes(blueprint, Departments())
