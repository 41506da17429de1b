"""/api/v1/category-menus: post-call category menus (seed 002).

A scheme that names a menu keeps whoever answered on the line once the
caller hangs up: they hear the menu's prompt (the standard one in the
company's language when it has none) and press the key of the call's
category, which the caller's history line keeps (``category`` in /calls).
Pressing nothing within ``wait`` seconds after the prompt leaves the call
without a category; a key the menu lacks plays the prompt again.
"""

from __future__ import annotations

import re

from marshmallow import Schema, fields, validate
from psycopg.types.json import Jsonb

from .blueprints import api_blueprint
from .errors import invalid
from .fields import Name
from .references import missing, owned
from .resources import Service, routes

blueprint = api_blueprint("category_menus", "/category-menus", "Post-call category menus")

KEY = re.compile(r"^[0-9*#]$")


class CategoryMenuSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = Name(required=True)
    prompt_id = fields.Integer(
        load_default=None,
        allow_none=True,
        metadata={"description": "What the person hears; none: the standard prompt in the company's language"},
    )
    wait = fields.Integer(
        load_default=10,
        validate=validate.Range(3, 60),
        metadata={"description": "Seconds to wait for a key once the prompt has played"},
    )
    categories = fields.Dict(
        keys=fields.String(validate=validate.Regexp(KEY, error="a key is 0-9, * or #")),
        values=fields.String(validate=validate.Length(1, 100)),
        required=True,
        validate=validate.Length(1, 12, error="a menu has 1 to 12 categories"),
        metadata={"description": 'A key to its category: {"1": "Sale", "2": "Support"}'},
    )


class CategoryMenus(Service):
    what = "category menu"
    table = "category_menus"
    id_name = "category_menu_id"
    schema = CategoryMenuSchema
    columns = "id, name, prompt_id, wait_s AS wait, categories"

    def check(self, conn, company_id: int, object_id: int | None, data: dict) -> None:
        super().check(conn, company_id, object_id, data)
        if not owned(conn, company_id, "prompt", data["prompt_id"]):
            raise invalid("prompt_id", missing("prompt", data["prompt_id"]))

    def create(self, conn, company_id: int, data: dict) -> dict:
        # One INSERT: a menu's categories are never empty, not even until write().
        object_id = conn.execute(
            """INSERT INTO category_menus (company_id, name, prompt_id, wait_s, categories)
               VALUES (%s, %s, %s, %s, %s) RETURNING id""",
            (company_id, data["name"], data["prompt_id"], data["wait"], Jsonb(data["categories"])),
        ).fetchone()["id"]
        return self.load(conn, company_id, object_id)

    def write(self, conn, object_id: int, data: dict) -> None:
        conn.execute(
            "UPDATE category_menus SET name = %s, prompt_id = %s, wait_s = %s, categories = %s WHERE id = %s",
            (data["name"], data["prompt_id"], data["wait"], Jsonb(data["categories"]), object_id),
        )

    def users(self, conn, object_id: int) -> list[str]:
        return [
            r["what"]
            for r in conn.execute(
                "SELECT 'scheme ' || quote_literal(name) AS what FROM schemes WHERE category_menu_id = %s",
                (object_id,),
            )
        ]


routes(blueprint, CategoryMenus())
