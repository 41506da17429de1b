"""/api/v1/queues: callers wait with music until an agent is free (R18)."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .auth import require_admin
from .blueprints import api_blueprint
from .changes import republish_company
from .database import db
from .errors import ApiError, invalid, not_found
from .fields import Name
from .references import missing, owned

blueprint = api_blueprint("queues", "/queues", "Call queues")


class QueueSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Name(required=True)
    strategy = fields.String(
        load_default="longest_idle", validate=validate.OneOf(["ring_all", "round_robin", "longest_idle"])
    )
    max_wait = fields.Integer(
        load_default=300,
        validate=validate.Range(15, 3600),
        metadata={"description": "Seconds a caller waits before the next step"},
    )
    max_callers = fields.Integer(load_default=20, validate=validate.Range(1, 500))
    music_prompt_id = fields.Integer(
        load_default=None, allow_none=True, metadata={"description": "What callers hear; none: the standard music"}
    )
    members = fields.List(fields.Integer(), load_default=list, metadata={"description": "Agents (employee ids)"})

    @validates_schema
    def no_duplicates(self, data, **kwargs):
        if len(set(data.get("members", []))) != len(data.get("members", [])):
            raise ValidationError("an employee is listed twice", "members")


def _find(conn, company_id: int, queue_id: int) -> dict:
    row = conn.execute(
        """SELECT id, name, strategy, max_wait_s AS max_wait, max_callers, music_prompt_id
           FROM queues WHERE id = %s AND company_id = %s""",
        (queue_id, company_id),
    ).fetchone()
    if row is None:
        raise not_found("Queue")
    row["members"] = [
        r["employee_id"]
        for r in conn.execute(
            "SELECT employee_id FROM queue_members WHERE queue_id = %s ORDER BY employee_id", (queue_id,)
        )
    ]
    return row


def _check(conn, company_id: int, queue_id: int | None, data: dict) -> None:
    if conn.execute(
        "SELECT 1 FROM queues WHERE company_id = %s AND name = %s AND id IS DISTINCT FROM %s",
        (company_id, data["name"], queue_id),
    ).fetchone():
        raise invalid("name", f"a queue named {data['name']!r} already exists")
    if not owned(conn, company_id, "prompt", data["music_prompt_id"]):
        raise invalid("music_prompt_id", missing("prompt", data["music_prompt_id"]))
    errors = {
        i: [missing("employee", e)] for i, e in enumerate(data["members"]) if not owned(conn, company_id, "employee", e)
    }
    if errors:
        raise ApiError(422, "The request is invalid.", {"members": errors})


def _write(conn, queue_id: int, data: dict) -> None:
    conn.execute(
        """UPDATE queues SET name = %s, strategy = %s, max_wait_s = %s, max_callers = %s, music_prompt_id = %s
           WHERE id = %s""",
        (data["name"], data["strategy"], data["max_wait"], data["max_callers"], data["music_prompt_id"], queue_id),
    )
    conn.execute("DELETE FROM queue_members WHERE queue_id = %s", (queue_id,))
    for employee_id in data["members"]:
        conn.execute("INSERT INTO queue_members (queue_id, employee_id) VALUES (%s, %s)", (queue_id, employee_id))


@blueprint.route("")
class Queues(MethodView):
    @blueprint.response(200, QueueSchema(many=True))
    def get(self):
        who = require_admin()
        conn = db()
        return [
            _find(conn, who.company_id, r["id"])
            for r in conn.execute("SELECT id FROM queues WHERE company_id = %s ORDER BY id", (who.company_id,))
        ]

    @blueprint.arguments(QueueSchema)
    @blueprint.response(201, QueueSchema)
    def post(self, data):
        who = require_admin()
        conn = db()
        _check(conn, who.company_id, None, data)
        queue_id = conn.execute(
            "INSERT INTO queues (company_id, name) VALUES (%s, %s) RETURNING id", (who.company_id, data["name"])
        ).fetchone()["id"]
        _write(conn, queue_id, data)
        return _find(conn, who.company_id, queue_id)


@blueprint.route("/<int:queue_id>")
class Queue(MethodView):
    @blueprint.response(200, QueueSchema)
    def get(self, queue_id):
        who = require_admin()
        return _find(db(), who.company_id, queue_id)

    @blueprint.arguments(QueueSchema)
    @blueprint.response(200, QueueSchema)
    def put(self, data, queue_id):
        who = require_admin()
        conn = db()
        _find(conn, who.company_id, queue_id)
        _check(conn, who.company_id, queue_id, data)
        _write(conn, queue_id, data)
        republish_company(who.company_id)
        return _find(conn, who.company_id, queue_id)

    @blueprint.response(204)
    def delete(self, queue_id):
        who = require_admin()
        conn = db()
        _find(conn, who.company_id, queue_id)
        conn.execute("DELETE FROM queues WHERE id = %s", (queue_id,))
        republish_company(who.company_id)
