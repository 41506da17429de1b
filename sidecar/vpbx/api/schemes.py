"""/api/v1/schemes: forwarding schemes, an ordered chain of steps (R7, R8).

A scheme is written whole: POST creates it, PUT replaces its name and steps in
one transaction. Each destination is a tagged union on ``kind``, validated by
the schema of its kind.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..config.compile import MAX_BACKUP_DEPTH
from . import destinations as kinds
from .blueprints import api_blueprint
from .errors import ApiError, invalid
from .fields import Name
from .references import missing, owned
from .resources import Service, routes

blueprint = api_blueprint("schemes", "/schemes", "Forwarding schemes: ordered steps of destinations")

MAX_PARALLEL = 10
MIN_TIMEOUT, MAX_TIMEOUT = 15, 600


class StepSchema(Schema):
    mode = fields.String(required=True, validate=validate.OneOf(["parallel", "sequential"]))
    timeout = fields.Integer(
        required=True,
        validate=validate.Range(
            MIN_TIMEOUT,
            MAX_TIMEOUT,
            error=f"a step rings {MIN_TIMEOUT} to {MAX_TIMEOUT} s ({MIN_TIMEOUT} s is meant for voicemail; "
            "more than 30 s is recommended for people)",
        ),
    )
    destinations = fields.List(kinds.Destination(), required=True, validate=validate.Length(min=1))

    @validates_schema
    def parallel_limit(self, data, **kwargs):
        if data.get("mode") == "parallel" and len(data.get("destinations", [])) > MAX_PARALLEL:
            raise ValidationError(f"at most {MAX_PARALLEL} destinations ring in parallel", "destinations")


class SchemeSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Name(required=True)
    steps = fields.List(fields.Nested(StepSchema), required=True, validate=validate.Length(1, 20))
    active_schedule_id = fields.Integer(
        allow_none=True,
        load_default=None,
        metadata={"description": "Applies only while this schedule is open (R9); none: always"},
    )
    backup_scheme_id = fields.Integer(
        allow_none=True, load_default=None, metadata={"description": "Applies while this one is not active"}
    )
    # R14: with any of these set, the media app answers the call to play them.
    greeting_prompt_id = fields.Integer(
        allow_none=True, load_default=None, metadata={"description": "Played to the caller before anyone rings"}
    )
    music_prompt_id = fields.Integer(
        allow_none=True,
        load_default=None,
        metadata={"description": "Played to the caller instead of ringback while the steps ring"},
    )
    whisper_prompt_id = fields.Integer(
        allow_none=True,
        load_default=None,
        metadata={"description": "Played to whoever answers, before the caller is put through"},
    )
    forward_notice = fields.String(
        load_default="none",
        validate=validate.OneOf(["none", "default", "custom"]),
        metadata={
            "description": "'Your call will be answered by another specialist' "
            "before each step after one nobody answered"
        },
    )
    forward_notice_prompt_id = fields.Integer(
        allow_none=True, load_default=None, metadata={"description": "The custom notice"}
    )
    category_menu_id = fields.Integer(
        allow_none=True,
        load_default=None,
        metadata={
            "description": "Post-call category menu (seed 002): once the caller hangs up, whoever answered "
            "stays on the line to press the call's category. The media app then answers the call"
        },
    )

    @validates_schema
    def custom_notice_named(self, data, **kwargs):
        if data.get("forward_notice") == "custom" and data.get("forward_notice_prompt_id") is None:
            raise ValidationError("a custom notice names its prompt", "forward_notice_prompt_id")


ANNOUNCEMENTS = ("greeting_prompt_id", "music_prompt_id", "whisper_prompt_id", "forward_notice_prompt_id")


def _check_links(conn, company_id: int, scheme_id: int | None, data: dict) -> None:
    if not owned(conn, company_id, "schedule", data["active_schedule_id"]):
        raise invalid("active_schedule_id", missing("schedule", data["active_schedule_id"]))
    for field in ANNOUNCEMENTS:
        if not owned(conn, company_id, "prompt", data[field]):
            raise invalid(field, missing("prompt", data[field]))
    if not owned(conn, company_id, "category menu", data["category_menu_id"]):
        raise invalid("category_menu_id", missing("category menu", data["category_menu_id"]))
    backup = data["backup_scheme_id"]
    if backup is None:
        return
    chain = [data["name"]]
    seen = {scheme_id}
    while backup is not None:
        row = conn.execute(
            "SELECT id, name, backup_scheme_id FROM schemes WHERE id = %s AND company_id = %s", (backup, company_id)
        ).fetchone()
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
    found: dict = {}
    for s_index, step in enumerate(steps):
        for d_index, destination in enumerate(step["destinations"]):
            problem = kinds.errors(conn, company_id, destination)
            if problem:
                found.setdefault("steps", {}).setdefault(s_index, {}).setdefault("destinations", {})[d_index] = problem
    if found:
        raise ApiError(422, "The request is invalid.", found)


def _write_steps(conn, scheme_id: int, steps: list[dict]) -> None:
    conn.execute("DELETE FROM scheme_steps WHERE scheme_id = %s", (scheme_id,))
    for position, step in enumerate(steps):
        step_id = conn.execute(
            "INSERT INTO scheme_steps (scheme_id, position, mode, timeout_s) VALUES (%s, %s, %s, %s) RETURNING id",
            (scheme_id, position, step["mode"], step["timeout"]),
        ).fetchone()["id"]
        for d_position, destination in enumerate(step["destinations"]):
            conn.execute(
                f"""INSERT INTO step_destinations (step_id, position, kind, {kinds.COLUMN_LIST})
                    VALUES (%s, %s, %s, {kinds.PLACEHOLDERS})""",
                (step_id, d_position, destination["kind"], *kinds.column_values(destination)),
            )


class Schemes(Service):
    what = "scheme"
    table = "schemes"
    id_name = "scheme_id"
    schema = SchemeSchema

    def load(self, conn, company_id: int, object_id: int) -> dict:
        scheme = conn.execute(
            """SELECT id, name, active_schedule_id, backup_scheme_id, greeting_prompt_id, music_prompt_id,
                      whisper_prompt_id, forward_notice, forward_notice_prompt_id, category_menu_id
               FROM schemes WHERE id = %s AND company_id = %s""",
            (object_id, company_id),
        ).fetchone()
        if scheme is None:
            raise self.not_found()
        rows = conn.execute(
            f"""SELECT s.id AS step_id, s.mode, s.timeout_s, d.kind, {kinds.COLUMN_LIST}
               FROM scheme_steps s LEFT JOIN step_destinations d ON d.step_id = s.id
               WHERE s.scheme_id = %s ORDER BY s.position, d.position""",
            (object_id,),
        ).fetchall()
        steps: dict[int, dict] = {}
        for row in rows:
            step = steps.setdefault(
                row["step_id"], {"mode": row["mode"], "timeout": row["timeout_s"], "destinations": []}
            )
            if row["kind"]:
                step["destinations"].append(kinds.from_row(row))
        return {**scheme, "steps": list(steps.values())}

    def check(self, conn, company_id: int, object_id: int | None, data: dict) -> None:
        super().check(conn, company_id, object_id, data)
        _check_destinations(conn, company_id, data["steps"])
        _check_links(conn, company_id, object_id, data)

    def write(self, conn, object_id: int, data: dict) -> None:
        conn.execute(
            """UPDATE schemes SET name = %s, active_schedule_id = %s, backup_scheme_id = %s,
                               greeting_prompt_id = %s, music_prompt_id = %s, whisper_prompt_id = %s,
                               forward_notice_prompt_id = %s, forward_notice = %s, category_menu_id = %s
                         WHERE id = %s""",
            (
                data["name"],
                data["active_schedule_id"],
                data["backup_scheme_id"],
                *(data[f] for f in ANNOUNCEMENTS),
                data["forward_notice"],
                data["category_menu_id"],
                object_id,
            ),
        )
        _write_steps(conn, object_id, data["steps"])

    def users(self, conn, object_id: int) -> list[str]:
        return [
            r["what"]
            for r in conn.execute(
                """SELECT 'number ' || e164 AS what FROM numbers WHERE %(id)s IN (scheme_id, off_hours_scheme_id)
               UNION ALL SELECT 'scheme ' || quote_literal(name) FROM schemes WHERE backup_scheme_id = %(id)s""",
                {"id": object_id},
            )
        ]


routes(blueprint, Schemes())
