"""/api/v1/queues: callers wait with music until an agent is free (R18)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import redis
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..media import waiting_line
from .auth import principal
from .blueprints import api_blueprint
from .changes import routing_cache
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
        metadata={
            "description": "Seconds between announcements to a waiting caller (their place, the estimated "
            "wait, announce_prompt_id); 0: never"
        },
    )
    announce_position = fields.Boolean(
        load_default=True, metadata={"description": "Announcements tell the caller's place in the queue"}
    )
    announce_prompt_id = fields.Integer(
        load_default=None,
        allow_none=True,
        metadata={"description": "A prompt of the company's own, played at every announcement after the rest"},
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
    offer_callback = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Waiting callers with a phone number may press 2 to be called back in their turn "
            "(the agent first, then the caller, as the agent's own outgoing call); 1 leaves a message when "
            "the queue has a fallback voicemail box"
        },
    )
    whisper = fields.Boolean(
        load_default=False,
        metadata={"description": "The agent who answers first hears the queue's name and how long the caller waited"},
    )
    announce_wait = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Each position announcement also tells the estimated wait: the running average wait "
            "of answered callers (each new one moves it a quarter of the way)"
        },
    )
    service_level = fields.Integer(
        load_default=20,
        validate=validate.Range(5, 600),
        metadata={"description": "Seconds within which a caller should be answered (statistics)"},
    )

    @validates_schema
    def announcements_not_too_often(self, data, **kwargs):
        every = data.get("announce_position_every", 0)
        if 0 < every < 10:
            raise ValidationError("0 (never) or 10 to 600 seconds", "announce_position_every")
        if every == 0 and data.get("announce_prompt_id") is not None:
            raise ValidationError(
                "10 to 600 seconds: announce_prompt_id is played at each announcement", "announce_position_every"
            )

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
                      pause_after_misses, service_level_s AS service_level, offer_callback, whisper, announce_wait,
                      announce_position, announce_prompt_id
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
        for field in ("music_prompt_id", "announce_prompt_id"):
            if not owned(conn, company_id, "prompt", data[field]):
                raise invalid(field, missing("prompt", data[field]))
        if not owned(conn, company_id, "voicemail box", data["fallback_voicemail_box_id"]):
            raise invalid("fallback_voicemail_box_id", missing("voicemail box", data["fallback_voicemail_box_id"]))
        require_owned_list(conn, company_id, "employee", "members", data["members"])

    def write(self, conn, object_id: int, data: dict) -> None:
        conn.execute(
            """UPDATE queues SET name = %s, strategy = %s, max_wait_s = %s, max_callers = %s, music_prompt_id = %s,
                      agent_ring_s = %s, wrap_up_s = %s, announce_position_s = %s, join_empty = %s,
                      fallback_voicemail_box_id = %s, pause_after_misses = %s, service_level_s = %s,
                      offer_callback = %s, whisper = %s, announce_wait = %s, announce_position = %s,
                      announce_prompt_id = %s
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
                data["service_level"],
                data["offer_callback"],
                data["whisper"],
                data["announce_wait"],
                data["announce_position"],
                data["announce_prompt_id"],
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


def queues_now(conn, client: redis.Redis, queue_id: int | None = None) -> list[dict]:
    """Each queue now (the one, or every queue of every company, for /metrics):
    its ids, callers waiting and the longest wait, and its agents by state."""
    rows = conn.execute(
        """SELECT q.id, q.company_id,
                  coalesce(array_agg(m.employee_id) FILTER (WHERE m.logged_in AND m.pause_reason IS NULL),
                           '{}') AS ready,
                  count(m.employee_id) FILTER (WHERE m.logged_in) AS agents_logged_in,
                  count(m.employee_id) FILTER (WHERE m.logged_in AND m.pause_reason IS NOT NULL) AS agents_paused
             FROM queues q LEFT JOIN queue_members m ON m.queue_id = q.id
            WHERE %(queue)s::bigint IS NULL OR q.id = %(queue)s
            GROUP BY q.id ORDER BY q.id""",
        {"queue": queue_id},
    ).fetchall()
    now = time.time()
    return [
        {
            "queue_id": row["id"],
            "company_id": row["company_id"],
            "agents_logged_in": row["agents_logged_in"],
            "agents_paused": row["agents_paused"],
            **waiting_line.live_state(client, row["id"], list(row["ready"]), now),
        }
        for row in rows
    ]


class StatsQuerySchema(Schema):
    since = fields.AwareDateTime(
        load_default=None, metadata={"description": "callers who joined at or after; default: a day ago"}
    )
    until = fields.AwareDateTime(load_default=None, metadata={"description": "callers who joined before; default: now"})

    @validates_schema
    def _window(self, data, **kwargs):
        if data["since"] and data["until"] and data["since"] >= data["until"]:
            raise ValidationError("must be later than since", "until")


class LiveStatsSchema(Schema):
    callers_waiting = fields.Integer()
    longest_wait_seconds = fields.Float(metadata={"description": "of the callers waiting now"})
    agents_logged_in = fields.Integer()
    agents_paused = fields.Integer()
    agents_busy = fields.Integer(
        metadata={"description": "logged in, not paused, ringing or talking to a queue caller"}
    )
    agents_in_wrap_up = fields.Integer()
    agents_free = fields.Integer()


class AgentStatsSchema(Schema):
    employee_id = fields.Integer()
    answered = fields.Integer()
    talk_seconds = fields.Float(metadata={"description": "in total, of the calls that ended"})


class PeriodStatsSchema(Schema):
    since = fields.AwareDateTime()
    until = fields.AwareDateTime()
    offered = fields.Integer(metadata={"description": "callers who reached the queue"})
    answered = fields.Integer()
    abandoned = fields.Integer(metadata={"description": "hung up while waiting"})
    timed_out = fields.Integer(metadata={"description": "sent on at the longest wait"})
    full = fields.Integer(metadata={"description": "sent on: the queue was full"})
    no_agents = fields.Integer(metadata={"description": "sent on: no agent was there and the queue takes no one then"})
    voicemail = fields.Integer(metadata={"description": "chose to leave a message"})
    callbacks_asked = fields.Integer(metadata={"description": "chose to be called back"})
    callbacks_answered = fields.Integer(metadata={"description": "called back, and they answered"})
    service_level_seconds = fields.Integer()
    answered_within_service_level = fields.Integer()
    service_level_percent = fields.Float(
        allow_none=True, metadata={"description": "answered within the service level, of those offered"}
    )
    average_wait_seconds = fields.Float(allow_none=True, metadata={"description": "of the answered callers"})
    average_abandoned_wait_seconds = fields.Float(allow_none=True)
    longest_wait_seconds = fields.Float(allow_none=True)
    average_talk_seconds = fields.Float(allow_none=True, metadata={"description": "of the answered calls that ended"})
    agents = fields.List(fields.Nested(AgentStatsSchema), metadata={"description": "who answered how many"})


class QueueStatsSchema(Schema):
    queue_id = fields.Integer()
    live = fields.Nested(LiveStatsSchema)
    period = fields.Nested(PeriodStatsSchema)


@blueprint.route("/<int:queue_id>/stats")
@blueprint.arguments(StatsQuerySchema, location="query")
@blueprint.response(200, QueueStatsSchema)
def stats(query, queue_id):
    """The queue now (callers waiting, agents) and over a period (offered,
    answered, abandoned, service level, waits and talk times). Administrators
    and users see them; a limited user does not (seed 004)."""
    if principal().role == "limited":
        raise ApiError(403, "A limited user sees their own calls, not the company's statistics.")
    conn = db()
    queue = conn.execute(
        "SELECT id, service_level_s FROM queues WHERE id = %s AND company_id = %s", (queue_id, principal().company_id)
    ).fetchone()
    if queue is None:
        raise not_found("Queue")
    until = query["until"] or datetime.now(UTC)
    since = query["since"] or until - timedelta(days=1)
    try:
        [live] = queues_now(conn, routing_cache(), queue_id)
    except redis.RedisError as exc:
        raise ApiError(503, f"The queue's live state cannot be read now: {exc}") from exc
    period = conn.execute(
        """SELECT count(*) AS offered,
                  count(*) FILTER (WHERE outcome = 'answered') AS answered,
                  count(*) FILTER (WHERE outcome = 'abandoned') AS abandoned,
                  count(*) FILTER (WHERE outcome = 'timeout') AS timed_out,
                  count(*) FILTER (WHERE outcome = 'full') AS full,
                  count(*) FILTER (WHERE outcome = 'no_agents') AS no_agents,
                  count(*) FILTER (WHERE outcome = 'voicemail') AS voicemail,
                  count(*) FILTER (WHERE outcome = 'callback') AS callbacks_asked,
                  count(*) FILTER (WHERE callback_outcome = 'answered') AS callbacks_answered,
                  count(*) FILTER (WHERE outcome = 'answered' AND wait_s <= %(level)s) AS answered_within_service_level,
                  avg(wait_s) FILTER (WHERE outcome = 'answered') AS average_wait_seconds,
                  avg(wait_s) FILTER (WHERE outcome = 'abandoned') AS average_abandoned_wait_seconds,
                  max(wait_s) AS longest_wait_seconds,
                  avg(talk_s) FILTER (WHERE outcome = 'answered') AS average_talk_seconds
             FROM queue_calls WHERE queue_id = %(queue)s AND joined_at >= %(since)s AND joined_at < %(until)s""",
        {"queue": queue_id, "level": queue["service_level_s"], "since": since, "until": until},
    ).fetchone()
    period["agents"] = conn.execute(
        """SELECT employee_id, count(*) AS answered, COALESCE(sum(talk_s), 0) AS talk_seconds
             FROM queue_calls
            WHERE queue_id = %s AND joined_at >= %s AND joined_at < %s AND outcome = 'answered'
                  AND employee_id IS NOT NULL
            GROUP BY employee_id ORDER BY employee_id""",
        (queue_id, since, until),
    ).fetchall()
    offered = period["offered"]
    period.update(
        since=since,
        until=until,
        service_level_seconds=queue["service_level_s"],
        service_level_percent=round(100 * period["answered_within_service_level"] / offered, 1) if offered else None,
    )
    return {"queue_id": queue_id, "live": live, "period": period}
