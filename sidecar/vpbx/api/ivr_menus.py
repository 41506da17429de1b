"""/api/v1/ivr-menus: voice menus (R10).

A menu plays its greeting, then waits ``timeout`` seconds for a key. ``keys``
maps "0".."9", "*", "#" to destinations, a submenu included, and "timeout"
to the default route for a caller who presses nothing. Keys may lead back to
an earlier menu, but the no-key path may not loop.
"""

from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from . import destinations as kinds
from .blueprints import api_blueprint
from .errors import ApiError
from .fields import Name
from .references import missing, owned
from .resources import Service, routes

blueprint = api_blueprint("ivr_menus", "/ivr-menus", "Voice menus: keys to destinations")

KEY = re.compile(r"^([0-9*#]|timeout)$")


class GreetingSchema(Schema):
    kind = fields.String(load_default="default", validate=validate.OneOf(["default", "tts", "prompt"]))
    text = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 2000))
    prompt_id = fields.Integer(load_default=None, allow_none=True)

    @validates_schema
    def what_to_play(self, data, **kwargs):
        if data.get("kind") == "tts" and not data.get("text"):
            raise ValidationError("text-to-speech needs the text to read", "text")
        if data.get("kind") == "prompt" and data.get("prompt_id") is None:
            raise ValidationError("'prompt' needs a prompt_id", "prompt_id")


class IvrMenuSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Name(required=True)
    greeting = fields.Nested(GreetingSchema, load_default=lambda: {"kind": "default", "text": None, "prompt_id": None})
    timeout = fields.Integer(
        load_default=5, validate=validate.Range(1, 60), metadata={"description": "Seconds to wait for a key (R10: 5)"}
    )
    invalid_key_tries = fields.Integer(load_default=2, validate=validate.Range(1, 5))
    keys = fields.Dict(
        keys=fields.String(validate=validate.Regexp(KEY, error="a key is 0-9, *, # or 'timeout'")),
        values=kinds.Destination(),
        required=True,
    )

    @validates_schema
    def has_default(self, data, **kwargs):
        if "timeout" not in data.get("keys", {}):
            raise ValidationError({"timeout": ["a menu needs a default route for callers who press nothing"]}, "keys")


class IvrMenus(Service):
    what = "IVR menu"
    a = "an"
    table = "ivr_menus"
    id_name = "menu_id"
    schema = IvrMenuSchema

    def load(self, conn, company_id: int, object_id: int) -> dict:
        menu = conn.execute(
            """SELECT id, name, greeting_kind, greeting_text, greeting_prompt_id, timeout_s, invalid_key_tries
               FROM ivr_menus WHERE id = %s AND company_id = %s""",
            (object_id, company_id),
        ).fetchone()
        if menu is None:
            raise self.not_found()
        keys = conn.execute(
            f"SELECT key, kind, {kinds.COLUMN_LIST} FROM ivr_keys WHERE menu_id = %s ORDER BY key", (object_id,)
        ).fetchall()
        return {
            "id": menu["id"],
            "name": menu["name"],
            "greeting": {
                "kind": menu["greeting_kind"],
                "text": menu["greeting_text"],
                "prompt_id": menu["greeting_prompt_id"],
            },
            "timeout": menu["timeout_s"],
            "invalid_key_tries": menu["invalid_key_tries"],
            "keys": {row["key"]: kinds.from_row(row) for row in keys},
        }

    def check(self, conn, company_id: int, object_id: int | None, data: dict) -> None:
        super().check(conn, company_id, object_id, data)
        if not owned(conn, company_id, "prompt", data["greeting"]["prompt_id"]):
            raise ApiError(
                422,
                "The request is invalid.",
                {"greeting": {"prompt_id": [missing("prompt", data["greeting"]["prompt_id"])]}},
            )
        problems = {key: p for key, d in data["keys"].items() if (p := kinds.errors(conn, company_id, d))}
        if problems:
            raise ApiError(422, "The request is invalid.", {"keys": problems})
        # Follow "timeout" through submenus: pressing nothing must end somewhere.
        path, seen = [data["name"]], {object_id}
        default = data["keys"]["timeout"]
        while default["kind"] == "ivr":
            target = default["ivr_menu_id"]
            if target in seen:
                name = data["name"] if target == object_id else path[-1]
                raise ApiError(
                    422,
                    "The request is invalid.",
                    {"keys": {"timeout": [f"pressing nothing would loop: {' -> '.join(path + [name])}"]}},
                )
            seen.add(target)
            row = conn.execute(
                f"""SELECT m.name, k.kind, {kinds.COLUMN_LIST} FROM ivr_menus m
                    JOIN ivr_keys k ON k.menu_id = m.id AND k.key = 'timeout' WHERE m.id = %s""",
                (target,),
            ).fetchone()
            path.append(row["name"])
            default = kinds.from_row(row)

    def write(self, conn, object_id: int, data: dict) -> None:
        conn.execute(
            """UPDATE ivr_menus SET name = %s, greeting_kind = %s, greeting_text = %s, greeting_prompt_id = %s,
               timeout_s = %s, invalid_key_tries = %s WHERE id = %s""",
            (
                data["name"],
                data["greeting"]["kind"],
                data["greeting"]["text"],
                data["greeting"]["prompt_id"],
                data["timeout"],
                data["invalid_key_tries"],
                object_id,
            ),
        )
        conn.execute("DELETE FROM ivr_keys WHERE menu_id = %s", (object_id,))
        for key, destination in data["keys"].items():
            conn.execute(
                f"""INSERT INTO ivr_keys (menu_id, key, kind, {kinds.COLUMN_LIST})
                    VALUES (%s, %s, %s, {kinds.PLACEHOLDERS})""",
                (object_id, key, destination["kind"], *kinds.column_values(destination)),
            )

    def users(self, conn, object_id: int) -> list[str]:
        return [
            r["what"]
            for r in conn.execute(
                """SELECT DISTINCT 'scheme ' || quote_literal(s.name) AS what FROM schemes s
               JOIN scheme_steps st ON st.scheme_id = s.id JOIN step_destinations d ON d.step_id = st.id
               WHERE d.ivr_menu_id = %(id)s
               UNION ALL SELECT DISTINCT 'IVR menu ' || quote_literal(m.name) FROM ivr_menus m
               JOIN ivr_keys k ON k.menu_id = m.id WHERE k.ivr_menu_id = %(id)s AND m.id <> %(id)s""",
                {"id": object_id},
            )
        ]


routes(blueprint, IvrMenus())
