"""/api/v1/prompts: what callers hear (R12): the standard recording or text read aloud.

Uploaded recordings come with the media app, which stores and converts them.
"""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .auth import require_admin
from .blueprints import api_blueprint
from .changes import republish_company
from .database import db
from .errors import invalid, not_found

blueprint = api_blueprint("prompts", "/prompts", "Greetings, announcements and music")


class PromptSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(1, 200))
    kind = fields.String(required=True, validate=validate.OneOf(["default", "tts"]))
    text = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 2000))
    language = fields.String(load_default="ru", validate=validate.OneOf(["ru", "uk", "en"]))

    @validates_schema
    def text_for_tts(self, data, **kwargs):
        if data.get("kind") == "tts" and not data.get("text"):
            raise ValidationError("text-to-speech needs the text to read", "text")


def _find(conn, company_id: int, prompt_id: int) -> dict:
    row = conn.execute("SELECT id, name, kind, text, language FROM prompts WHERE id = %s AND company_id = %s",
                       (prompt_id, company_id)).fetchone()
    if row is None:
        raise not_found("Prompt")
    return row


def _name_free(conn, company_id: int, name: str, prompt_id: int | None) -> None:
    if conn.execute("SELECT 1 FROM prompts WHERE company_id = %s AND name = %s AND id IS DISTINCT FROM %s",
                    (company_id, name, prompt_id)).fetchone():
        raise invalid("name", f"a prompt named {name!r} already exists")


@blueprint.route("")
class Prompts(MethodView):
    @blueprint.response(200, PromptSchema(many=True))
    def get(self):
        who = require_admin()
        return db().execute("SELECT id, name, kind, text, language FROM prompts WHERE company_id = %s ORDER BY id",
                            (who.company_id,)).fetchall()

    @blueprint.arguments(PromptSchema)
    @blueprint.response(201, PromptSchema)
    def post(self, data):
        who = require_admin()
        conn = db()
        _name_free(conn, who.company_id, data["name"], None)
        return conn.execute(
            "INSERT INTO prompts (company_id, name, kind, text, language) VALUES (%s, %s, %s, %s, %s) "
            "RETURNING id, name, kind, text, language",
            (who.company_id, data["name"], data["kind"], data["text"], data["language"])).fetchone()


@blueprint.route("/<int:prompt_id>")
class Prompt(MethodView):
    @blueprint.response(200, PromptSchema)
    def get(self, prompt_id):
        who = require_admin()
        return _find(db(), who.company_id, prompt_id)

    @blueprint.arguments(PromptSchema)
    @blueprint.response(200, PromptSchema)
    def put(self, data, prompt_id):
        who = require_admin()
        conn = db()
        _find(conn, who.company_id, prompt_id)
        _name_free(conn, who.company_id, data["name"], prompt_id)
        conn.execute("UPDATE prompts SET name = %s, kind = %s, text = %s, language = %s WHERE id = %s",
                     (data["name"], data["kind"], data["text"], data["language"], prompt_id))
        republish_company(who.company_id)
        return _find(conn, who.company_id, prompt_id)

    @blueprint.response(204)
    def delete(self, prompt_id):
        who = require_admin()
        conn = db()
        _find(conn, who.company_id, prompt_id)
        users = [r["what"] for r in conn.execute(
            """SELECT 'IVR menu ' || quote_literal(name) AS what FROM ivr_menus WHERE greeting_prompt_id = %(id)s
               UNION ALL SELECT 'queue ' || quote_literal(name) FROM queues WHERE music_prompt_id = %(id)s
               UNION ALL SELECT 'voicemail box ' || quote_literal(name) FROM voicemail_boxes
                          WHERE greeting_prompt_id = %(id)s""",
            {"id": prompt_id})]
        if users:
            raise invalid("id", f"in use by {', '.join(sorted(users))}: change them first")
        conn.execute("DELETE FROM prompts WHERE id = %s", (prompt_id,))
