"""/api/v1/prompts: what callers hear (R12): the standard recording, text read
aloud, or a recording uploaded to ``/prompts/{id}/recording`` (WAV, MP3, OGG or
FLAC, converted at once to the 8 kHz WAV the media app plays).
"""

from __future__ import annotations

from flask import current_app, request, send_file
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..media import uploads
from .auth import require_admin
from .blueprints import api_blueprint, body_limit
from .database import db
from .errors import ApiError, not_found
from .fields import Name
from .resources import Service, routes

blueprint = api_blueprint("prompts", "/prompts", "Greetings, announcements and music")
COLUMNS = "id, name, kind, text, language, file_name, file_seconds"


class PromptSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Name(required=True)
    kind = fields.String(
        required=True,
        validate=validate.OneOf(["default", "tts"]),
        metadata={"description": "'upload' once a recording is uploaded (PUT /prompts/{id}/recording)"},
    )
    seconds = fields.Float(
        dump_only=True,
        allow_none=True,
        attribute="file_seconds",
        metadata={"description": "How long the uploaded recording plays"},
    )
    text = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 2000))
    language = fields.String(load_default="ru", validate=validate.OneOf(["ru", "uk", "en"]))

    @validates_schema
    def text_for_tts(self, data, **kwargs):
        if data.get("kind") == "tts" and not data.get("text"):
            raise ValidationError("text-to-speech needs the text to read", "text")


class Prompts(Service):
    what = "prompt"
    table = "prompts"
    id_name = "prompt_id"
    schema = PromptSchema
    columns = COLUMNS

    def create(self, conn, company_id: int, data: dict) -> dict:
        return conn.execute(
            f"""INSERT INTO prompts (company_id, name, kind, text, language) VALUES (%s, %s, %s, %s, %s)
                RETURNING {COLUMNS}""",
            (company_id, data["name"], data["kind"], data["text"], data["language"]),
        ).fetchone()

    def write(self, conn, object_id: int, data: dict) -> None:
        # Choosing the standard recording or text again sets any uploaded recording aside.
        conn.execute(
            """UPDATE prompts SET name = %s, kind = %s, text = %s, language = %s, file_name = NULL,
                               file_seconds = NULL WHERE id = %s""",
            (data["name"], data["kind"], data["text"], data["language"], object_id),
        )

    def users(self, conn, object_id: int) -> list[str]:
        return [
            r["what"]
            for r in conn.execute(
                """SELECT 'IVR menu ' || quote_literal(name) AS what FROM ivr_menus WHERE greeting_prompt_id = %(id)s
               UNION ALL SELECT 'queue ' || quote_literal(name) FROM queues
                          WHERE %(id)s IN (music_prompt_id, announce_prompt_id)
               UNION ALL SELECT 'voicemail box ' || quote_literal(name) FROM voicemail_boxes
                          WHERE greeting_prompt_id = %(id)s
               UNION ALL SELECT 'scheme ' || quote_literal(name) FROM schemes
                          WHERE %(id)s IN (greeting_prompt_id, music_prompt_id, whisper_prompt_id,
                                           forward_notice_prompt_id)
               UNION ALL SELECT 'category menu ' || quote_literal(name) FROM category_menus WHERE prompt_id = %(id)s
               UNION ALL SELECT 'employee ' || quote_literal(name) FROM employees
                          WHERE %(id)s IN (no_answer_message_prompt_id, no_answer_notice_prompt_id)""",
                {"id": object_id},
            )
        ]


PROMPTS = Prompts()
routes(blueprint, PROMPTS)


@blueprint.route("/<int:prompt_id>/recording")
@body_limit(uploads.MAX_BYTES, field="recording")
class Recording(MethodView):
    @blueprint.doc(
        requestBody={
            "required": True,
            "content": {
                kind: {"schema": {"type": "string", "format": "binary"}}
                for kind in ("audio/wav", "audio/mpeg", "audio/ogg", "audio/flac")
            },
        }
    )
    @blueprint.response(200, PromptSchema)
    @blueprint.alt_response(413, description="Larger than 10 MB")
    @blueprint.alt_response(415, description="Not WAV, MP3, OGG or FLAC")
    def put(self, prompt_id):
        """Upload the recording callers hear: the prompt becomes an 'upload'."""
        who = require_admin()
        conn = db()
        PROMPTS.load(conn, who.company_id, prompt_id)
        media = current_app.config["VPBX_SETTINGS"].media
        try:
            name, seconds = uploads.store_upload(
                request.get_data(cache=False), request.content_type or "", media.data_dir / "prompts"
            )
        except uploads.UploadRefused as refused:
            raise ApiError(refused.status, "The recording is refused.", {"recording": [refused.reason]}) from None
        conn.execute(
            "UPDATE prompts SET kind = 'upload', file_name = %s, file_seconds = %s WHERE id = %s",
            (name, seconds, prompt_id),
        )
        return PROMPTS.load(conn, who.company_id, prompt_id)

    @blueprint.response(200, content_type="audio/wav")
    @blueprint.doc(
        responses={
            "200": {
                "description": "The recording as callers hear it (8 kHz mono WAV)",
                "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    )
    def get(self, prompt_id):
        who = require_admin()
        prompt = PROMPTS.load(db(), who.company_id, prompt_id)
        media = current_app.config["VPBX_SETTINGS"].media
        if prompt["file_name"] is None or not (media.data_dir / "prompts" / prompt["file_name"]).is_file():
            raise not_found("Recording")
        return send_file(media.data_dir / "prompts" / prompt["file_name"], mimetype="audio/wav", max_age=0)
