"""/api/v1/voicemail-messages: the messages callers left (R11, seed 000).

Seen as history is: administrators and users see every message of the
company; a limited user only those of the boxes that are theirs (their own
box, the box their no-answer rule uses, a box that names them or one of their
departments as a recipient). Whoever sees a message may listen to it (a
signed link, as in the history line and the email), mark it heard or not, and
delete it with its recording. Messages older than the site's retention
(``[media] message_retention_days``) are deleted by the media app.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from ..notify import links
from .auth import principal
from .blueprints import api_blueprint
from .database import after_commit, db
from .errors import not_found

log = logging.getLogger(__name__)

blueprint = api_blueprint("voicemail_messages", "/voicemail-messages", "Voicemail messages callers left")


class MessageSchema(Schema):
    id = fields.Integer()
    voicemail_box_id = fields.Integer(allow_none=True, metadata={"description": "null once the box was deleted"})
    box_name = fields.String(metadata={"description": "the box's name when the message was left"})
    call_id = fields.String(metadata={"description": "SIP Call-ID of the call: its history line's"})
    caller = fields.String()
    called = fields.String()
    received_at = fields.AwareDateTime()
    duration_seconds = fields.Float()
    heard = fields.Boolean()
    heard_at = fields.AwareDateTime(allow_none=True)
    url = fields.String(metadata={"description": "plays the message (WAV) for seven days; ?download=1 saves it"})


class MessageQuerySchema(Schema):
    voicemail_box_id = fields.Integer(metadata={"description": "only this box's messages"})
    heard = fields.Boolean(metadata={"description": "only heard (true) or new (false) messages"})
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    offset = fields.Integer(load_default=0, validate=validate.Range(0))


class MessageChangeSchema(Schema):
    heard = fields.Boolean(required=True, metadata={"description": "false makes it new again"})


_SELECT = """
    SELECT id, voicemail_box_id, box_name, call_id, caller, called, received_at,
           duration_ms / 1000.0 AS duration_seconds, heard_at IS NOT NULL AS heard, heard_at, file_name
      FROM voicemail_messages m
"""


def _visible() -> tuple[str, dict]:
    who = principal()
    if who.role != "limited":
        return "m.company_id = %(company)s", {"company": who.company_id}
    return (
        """m.company_id = %(company)s AND m.voicemail_box_id IN (
               SELECT id FROM voicemail_boxes WHERE owner_kind = 'employee' AND owner_employee_id = %(me)s
               UNION SELECT no_answer_voicemail_box_id FROM employees WHERE id = %(me)s AND no_answer_rule = 'voicemail'
               UNION SELECT voicemail_box_id FROM voicemail_recipients WHERE employee_id = %(me)s
               UNION SELECT r.voicemail_box_id FROM voicemail_recipients r
                       JOIN department_members d ON d.department_id = r.department_id WHERE d.employee_id = %(me)s)""",
        {"company": who.company_id, "me": who.employee_id},
    )


def _shaped(row: dict) -> dict:
    media = current_app.config["VPBX_SETTINGS"].media
    return {**row, "url": links.url(media.public_url, links.sign(row["id"], media.link_secret))}


def _find(message_id: int) -> dict:
    where, params = _visible()
    row = db().execute(_SELECT + f" WHERE {where} AND m.id = %(id)s", {**params, "id": message_id}).fetchone()
    if row is None:
        raise not_found("Voicemail message")
    return row


@blueprint.route("")
class Messages(MethodView):
    @blueprint.arguments(MessageQuerySchema, location="query")
    @blueprint.response(200, MessageSchema(many=True))
    def get(self, query):
        """Messages, newest first."""
        where, params = _visible()
        if "voicemail_box_id" in query:
            where += " AND m.voicemail_box_id = %(box)s"
            params["box"] = query["voicemail_box_id"]
        if "heard" in query:
            where += " AND (m.heard_at IS NOT NULL) = %(heard)s"
            params["heard"] = query["heard"]
        params.update(limit=query["limit"], offset=query["offset"])
        rows = db().execute(
            _SELECT + f" WHERE {where} ORDER BY m.received_at DESC, m.id DESC LIMIT %(limit)s OFFSET %(offset)s",
            params,
        )
        return [_shaped(row) for row in rows]


@blueprint.route("/<int:message_id>")
class Message(MethodView):
    @blueprint.response(200, MessageSchema)
    def get(self, message_id):
        return _shaped(_find(message_id))

    @blueprint.arguments(MessageChangeSchema)
    @blueprint.response(200, MessageSchema)
    def patch(self, change, message_id):
        """Mark the message heard (kept from the first time) or new again."""
        _find(message_id)
        db().execute(
            """UPDATE voicemail_messages
                  SET heard_at = CASE WHEN %(heard)s THEN COALESCE(heard_at, %(now)s) END WHERE id = %(id)s""",
            {"heard": change["heard"], "now": datetime.now(UTC), "id": message_id},
        )
        return _shaped(_find(message_id))

    @blueprint.response(204)
    def delete(self, message_id):
        """Delete the message and its recording; its history line keeps that a message was left."""
        row = _find(message_id)
        db().execute("DELETE FROM voicemail_messages WHERE id = %s", (message_id,))
        path = current_app.config["VPBX_SETTINGS"].media.data_dir / row["file_name"]

        def unlink(_conn) -> None:
            # Once the deletion is committed: a failed commit keeps the message playable.
            # On a cluster the recording may live on another media host, whose
            # retention sweep removes it with the other old files.
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                log.warning("voicemail message %s: recording %s not deleted: %s", message_id, path, exc)

        after_commit(unlink)
