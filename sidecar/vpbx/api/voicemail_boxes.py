"""/api/v1/voicemail-boxes: where callers leave messages, and who is told (R11).

A box belongs to the company, an IVR level, a department or an employee.
Recipients are employees (who need an email address) or departments (each
member with an email), plus an optional extra address.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .blueprints import api_blueprint
from .errors import ApiError, invalid
from .fields import Name
from .references import missing, owned
from .resources import Service, routes

blueprint = api_blueprint("voicemail_boxes", "/voicemail-boxes", "Voicemail boxes and their recipients")


class RecipientSchema(Schema):
    employee_id = fields.Integer(load_default=None, allow_none=True)
    department_id = fields.Integer(load_default=None, allow_none=True)

    @validates_schema
    def exactly_one(self, data, **kwargs):
        if (data.get("employee_id") is None) == (data.get("department_id") is None):
            raise ValidationError("a recipient is an employee_id or a department_id")


class VoicemailBoxSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Name(required=True)
    owner_kind = fields.String(
        load_default="company", validate=validate.OneOf(["company", "ivr", "department", "employee"])
    )
    owner_id = fields.Integer(
        load_default=None, allow_none=True, metadata={"description": "The department or employee that owns the box"}
    )
    recipients = fields.List(fields.Nested(RecipientSchema), load_default=list)
    extra_email = fields.Email(load_default=None, allow_none=True)
    greeting_prompt_id = fields.Integer(
        load_default=None,
        allow_none=True,
        metadata={"description": "R12: the prompt callers hear before the beep; null plays the standard greeting"},
    )
    max_length_s = fields.Integer(
        load_default=180, validate=validate.Range(10, 600), metadata={"description": "A message ends at this length"}
    )
    silence_s = fields.Integer(
        load_default=5,
        validate=validate.Range(2, 60),
        metadata={"description": "A message ends after this many seconds of silence"},
    )

    @validates_schema
    def consistent(self, data, **kwargs):
        if data.get("owner_kind") in ("department", "employee") and data.get("owner_id") is None:
            raise ValidationError(f"a {data['owner_kind']}'s box names its {data['owner_kind']}", "owner_id")
        if not data.get("recipients") and not data.get("extra_email"):
            raise ValidationError("a voicemail box needs a recipient or an extra email", "recipients")


class VoicemailBoxes(Service):
    what = "voicemail box"
    table = "voicemail_boxes"
    id_name = "box_id"
    schema = VoicemailBoxSchema

    def load(self, conn, company_id: int, object_id: int) -> dict:
        box = conn.execute(
            """SELECT id, name, owner_kind, COALESCE(owner_department_id, owner_employee_id) AS owner_id, extra_email,
                      greeting_prompt_id, max_length_s, silence_s
               FROM voicemail_boxes WHERE id = %s AND company_id = %s""",
            (object_id, company_id),
        ).fetchone()
        if box is None:
            raise self.not_found()
        box["recipients"] = conn.execute(
            "SELECT employee_id, department_id FROM voicemail_recipients WHERE voicemail_box_id = %s ORDER BY id",
            (object_id,),
        ).fetchall()
        return box

    def check(self, conn, company_id: int, object_id: int | None, data: dict) -> None:
        super().check(conn, company_id, object_id, data)
        owner_kind = data["owner_kind"]
        if owner_kind in ("department", "employee") and not owned(conn, company_id, owner_kind, data["owner_id"]):
            raise invalid("owner_id", missing(owner_kind, data["owner_id"]))
        prompt = data["greeting_prompt_id"]
        if (
            prompt is not None
            and not conn.execute(
                "SELECT 1 FROM prompts WHERE id = %s AND company_id = %s", (prompt, company_id)
            ).fetchone()
        ):
            raise invalid("greeting_prompt_id", missing("prompt", prompt))
        errors: dict = {}
        for index, recipient in enumerate(data["recipients"]):
            if recipient["employee_id"] is not None:
                employee = conn.execute(
                    "SELECT name, email FROM employees WHERE id = %s AND company_id = %s",
                    (recipient["employee_id"], company_id),
                ).fetchone()
                if employee is None:
                    errors[index] = {"employee_id": [missing("employee", recipient["employee_id"])]}
                elif not employee["email"]:
                    # R11: the seeds insist the message says exactly this.
                    errors[index] = {
                        "employee_id": [
                            f"{employee['name']} has no email address: "
                            "add one to their profile or choose another recipient"
                        ]
                    }
            else:
                department = conn.execute(
                    """SELECT d.name, count(e.email) AS with_email FROM departments d
                       LEFT JOIN department_members m ON m.department_id = d.id
                       LEFT JOIN employees e ON e.id = m.employee_id AND e.email IS NOT NULL
                       WHERE d.id = %s AND d.company_id = %s GROUP BY d.name""",
                    (recipient["department_id"], company_id),
                ).fetchone()
                if department is None:
                    errors[index] = {"department_id": [missing("department", recipient["department_id"])]}
                elif department["with_email"] == 0:
                    errors[index] = {"department_id": [f"no member of {department['name']} has an email address"]}
        if errors:
            raise ApiError(422, "The request is invalid.", {"recipients": errors})

    def write(self, conn, object_id: int, data: dict) -> None:
        kind, owner = data["owner_kind"], data["owner_id"]
        conn.execute(
            """UPDATE voicemail_boxes SET name = %s, owner_kind = %s, owner_department_id = %s, owner_employee_id = %s,
               extra_email = %s, greeting_prompt_id = %s, max_length_s = %s, silence_s = %s WHERE id = %s""",
            (
                data["name"],
                kind,
                owner if kind == "department" else None,
                owner if kind == "employee" else None,
                data["extra_email"],
                data["greeting_prompt_id"],
                data["max_length_s"],
                data["silence_s"],
                object_id,
            ),
        )
        conn.execute("DELETE FROM voicemail_recipients WHERE voicemail_box_id = %s", (object_id,))
        for recipient in data["recipients"]:
            conn.execute(
                "INSERT INTO voicemail_recipients (voicemail_box_id, employee_id, department_id) VALUES (%s, %s, %s)",
                (object_id, recipient["employee_id"], recipient["department_id"]),
            )

    def users(self, conn, object_id: int) -> list[str]:
        return [
            r["what"]
            for r in conn.execute(
                """SELECT DISTINCT 'scheme ' || quote_literal(s.name) AS what FROM schemes s
               JOIN scheme_steps st ON st.scheme_id = s.id JOIN step_destinations d ON d.step_id = st.id
               WHERE d.voicemail_box_id = %(id)s
               UNION ALL SELECT 'department ' || quote_literal(name) FROM departments WHERE voicemail_box_id = %(id)s
               UNION ALL SELECT 'the no-answer rule of ' || quote_literal(name) FROM employees
               WHERE no_answer_voicemail_box_id = %(id)s
               UNION ALL SELECT 'queue ' || quote_literal(name) FROM queues WHERE fallback_voicemail_box_id = %(id)s""",
                {"id": object_id},
            )
        ]


routes(blueprint, VoicemailBoxes())
