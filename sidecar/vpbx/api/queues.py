"""/api/v1/queues: callers wait with music until an agent is free (R18)."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .auth import principal
from .blueprints import api_blueprint
from .database import db
from .errors import ApiError, invalid, not_found
from .fields import Name
from .references import missing, owned, require_owned_list
from .resources import Service, routes

blueprint = api_blueprint("queues", "/queues", "Call queues")

STRATEGIES = ["ring_all", "in_order", "round_robin", "longest_idle", "fewest_calls", "random"]


class QueueSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Name(required=True)
    strategy = fields.String(
        load_default="longest_idle",
        validate=validate.OneOf(STRATEGIES),
        metadata={
            "description": "Which free agent rings next: every one at once (ring_all); the first in `members` "
            "order (in_order); each in turn, remembered across calls (round_robin); the one idle longest "
            "(longest_idle); the one who took the fewest calls today, UTC (fewest_calls); any (random). "
            "Agents with a lower penalty always come first."
        },
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
    members = fields.List(
        fields.Integer(), load_default=list, metadata={"description": "Agents (employee ids), in the queue's order"}
    )
    agents = fields.List(
        fields.Nested(lambda: AgentStateSchema()),
        dump_only=True,
        metadata={"description": "Each agent's state: logged in, paused (PUT /queues/{id}/agents/{employee_id})"},
    )
    agent_ring_time = fields.Integer(
        load_default=15, validate=validate.Range(5, 120), metadata={"description": "Seconds an agent rings"}
    )
    wrap_up = fields.Integer(
        load_default=5,
        validate=validate.Range(0, 600),
        metadata={"description": "Seconds an agent rests after a queue call before the next one rings"},
    )
    announce_position_every = fields.Integer(
        load_default=0,
        validate=validate.Range(0, 600),
        metadata={"description": "Seconds between telling a waiting caller their place; 0: never"},
    )
    join_empty = fields.Boolean(
        load_default=True, metadata={"description": "Callers join while no agent is free; false: the fallback"}
    )
    pause_after_misses = fields.Integer(
        load_default=0,
        validate=validate.Range(0, 20),
        metadata={"description": "Pause an agent who leaves this many queue calls in a row unanswered; 0: never"},
    )
    fallback_voicemail_box_id = fields.Integer(
        load_default=None,
        allow_none=True,
        metadata={"description": "Where a caller goes at the longest wait or a full queue; none: a goodbye"},
    )

    @validates_schema
    def announcements_not_too_often(self, data, **kwargs):
        if 0 < data.get("announce_position_every", 0) < 10:
            raise ValidationError("0 (never) or 10 to 600 seconds", "announce_position_every")

    @validates_schema
    def no_duplicates(self, data, **kwargs):
        if len(set(data.get("members", []))) != len(data.get("members", [])):
            raise ValidationError("an employee is listed twice", "members")


class AgentStateSchema(Schema):
    employee_id = fields.Integer(dump_only=True)
    logged_in = fields.Boolean(load_default=True)
    pause_reason = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.Length(1, 100),
        metadata={"description": "Paused, and why (none: not paused); only agents logged in and not paused ring"},
    )
    penalty = fields.Integer(
        load_default=None,
        validate=validate.Range(0, 9),
        metadata={
            "description": "0 to 9: an agent rings only while every agent with a lower penalty is busy, away, "
            "paused or has just been rung; left out: unchanged (new agents: 0)"
        },
    )


class Queues(Service):
    what = "queue"
    table = "queues"
    id_name = "queue_id"
    schema = QueueSchema

    def load(self, conn, company_id: int, object_id: int) -> dict:
        row = conn.execute(
            """SELECT id, name, strategy, max_wait_s AS max_wait, max_callers, music_prompt_id,
                      agent_ring_s AS agent_ring_time, wrap_up_s AS wrap_up,
                      announce_position_s AS announce_position_every, join_empty, fallback_voicemail_box_id,
                      pause_after_misses
               FROM queues WHERE id = %s AND company_id = %s""",
            (object_id, company_id),
        ).fetchone()
        if row is None:
            raise self.not_found()
        row["agents"] = conn.execute(
            """SELECT employee_id, logged_in, pause_reason, penalty FROM queue_members WHERE queue_id = %s
               ORDER BY position, employee_id""",
            (object_id,),
        ).fetchall()
        row["members"] = [agent["employee_id"] for agent in row["agents"]]
        return row

    def check(self, conn, company_id: int, object_id: int | None, data: dict) -> None:
        super().check(conn, company_id, object_id, data)
        if not owned(conn, company_id, "prompt", data["music_prompt_id"]):
            raise invalid("music_prompt_id", missing("prompt", data["music_prompt_id"]))
        if not owned(conn, company_id, "voicemail box", data["fallback_voicemail_box_id"]):
            raise invalid("fallback_voicemail_box_id", missing("voicemail box", data["fallback_voicemail_box_id"]))
        require_owned_list(conn, company_id, "employee", "members", data["members"])

    def write(self, conn, object_id: int, data: dict) -> None:
        conn.execute(
            """UPDATE queues SET name = %s, strategy = %s, max_wait_s = %s, max_callers = %s, music_prompt_id = %s,
                      agent_ring_s = %s, wrap_up_s = %s, announce_position_s = %s, join_empty = %s,
                      fallback_voicemail_box_id = %s, pause_after_misses = %s
               WHERE id = %s""",
            (
                data["name"],
                data["strategy"],
                data["max_wait"],
                data["max_callers"],
                data["music_prompt_id"],
                data["agent_ring_time"],
                data["wrap_up"],
                data["announce_position_every"],
                data["join_empty"],
                data["fallback_voicemail_box_id"],
                data["pause_after_misses"],
                object_id,
            ),
        )
        # Members staying keep their login and pause; those gone go, those new come logged in.
        conn.execute(
            "DELETE FROM queue_members WHERE queue_id = %s AND NOT employee_id = ANY(%s)", (object_id, data["members"])
        )
        for position, employee_id in enumerate(data["members"], 1):
            conn.execute(
                """INSERT INTO queue_members (queue_id, employee_id, position) VALUES (%s, %s, %s)
                   ON CONFLICT (queue_id, employee_id) DO UPDATE SET position = excluded.position""",
                (object_id, employee_id, position),
            )


routes(blueprint, Queues())


@blueprint.route("/<int:queue_id>/agents/<int:employee_id>", methods=["PUT"])
@blueprint.arguments(AgentStateSchema)
@blueprint.response(200, AgentStateSchema)
def agent_state(data, queue_id, employee_id):
    """Log an agent in or out of the queue, or pause them with a reason: an
    employee their own, an administrator anyone's (phones: *45 to *48)."""
    who = principal()
    if employee_id != who.employee_id and not who.is_admin:
        raise ApiError(403, "Only an administrator can change another agent's state.")
    if data["penalty"] is not None and not who.is_admin:
        raise ApiError(403, "Only an administrator can set an agent's penalty.")
    row = (
        db()
        .execute(
            """UPDATE queue_members m SET logged_in = %s, pause_reason = %s, penalty = COALESCE(%s, m.penalty)
             FROM queues q
            WHERE q.id = m.queue_id AND q.company_id = %s AND m.queue_id = %s AND m.employee_id = %s
        RETURNING m.employee_id, m.logged_in, m.pause_reason, m.penalty""",
            (data["logged_in"], data["pause_reason"], data["penalty"], who.company_id, queue_id, employee_id),
        )
        .fetchone()
    )
    if row is None:
        raise not_found("Agent of this queue")
    return row
