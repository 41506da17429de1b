"""One pattern for a company's objects behind /api/v1 (wazo-confd's split of
resource, schema and service is the model).

- The **schema** (marshmallow) says what a body may hold, field by field.
- The **service** (``Service``) says how one kind of object is read, checked
  against the company's other objects, stored, and what refers to it.
- The **resource** (``routes``) is the same for every kind: only an
  administrator of the company may call it; the body is validated by the
  schema, checked by the service and written in the request's transaction;
  the routing documents are republished once that commits. An object of
  another company is "not found", never "forbidden": ids do not leak.

A module of this package declares its schema and service and calls
``routes``; what it does beyond the five CRUD calls (a password reset, a
dry run) it adds as views of its own.
"""

from __future__ import annotations

from typing import Any, ClassVar

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema
from psycopg import sql

from .auth import require_admin
from .changes import republish_company
from .database import after_commit, db
from .errors import invalid, not_found

Row = dict[str, Any]


class Service:
    """How one kind of a company's objects is read and written. Override what differs."""

    what: ClassVar[str]  # its name in messages: "department", "IVR menu"
    a: ClassVar[str] = "a"  # its article: "an IVR menu"
    table: ClassVar[str]  # where it is stored, with company_id and name columns
    id_name: ClassVar[str]  # its id as the URL names it: "department_id"
    schema: ClassVar[type[Schema]]
    # The answers to a POST and a PUT when they show more than a GET does (a
    # secret or a password, once).
    created_schema: ClassVar[type[Schema] | None] = None
    updated_schema: ClassVar[type[Schema] | None] = None
    # What a GET shows when that is one row of the table as it is ("id, name, url").
    columns: ClassVar[str | None] = None

    # ---- reading --------------------------------------------------------------

    def load(self, conn, company_id: int, object_id: int) -> Row:
        """The object as the API shows it; 404 when the company has no such object."""
        if self.columns is None:
            raise NotImplementedError
        row = conn.execute(self._select("id = %s AND company_id = %s"), (object_id, company_id)).fetchone()
        if row is None:
            raise self.not_found()
        return row

    def ids(self, conn, company_id: int) -> list[int]:
        query = sql.SQL("SELECT id FROM {} WHERE company_id = %s ORDER BY id").format(sql.Identifier(self.table))
        return [row["id"] for row in conn.execute(query, (company_id,))]

    def all(self, conn, company_id: int) -> list[Row]:
        if self.columns is not None:
            return conn.execute(self._select("company_id = %s ORDER BY id"), (company_id,)).fetchall()
        return [self.load(conn, company_id, object_id) for object_id in self.ids(conn, company_id)]

    def _select(self, where: str) -> sql.Composed:
        # The columns and the condition are this module's constants, never a request's.
        return sql.SQL("SELECT {} FROM {} WHERE {}").format(
            sql.SQL(self.columns or "id"), sql.Identifier(self.table), sql.SQL(where)
        )

    def not_found(self):
        return not_found(self.what[:1].upper() + self.what[1:])

    # ---- checking -------------------------------------------------------------

    def check(self, conn, company_id: int, object_id: int | None, data: Row) -> None:
        """Refuse (ApiError) what the schema alone cannot: a name the company
        already uses, ids of objects it does not own. ``object_id``: None on create."""
        self.name_free(conn, company_id, object_id, data["name"])

    def name_free(self, conn, company_id: int, object_id: int | None, name: str) -> None:
        query = sql.SQL("SELECT 1 FROM {} WHERE company_id = %s AND name = %s AND id IS DISTINCT FROM %s").format(
            sql.Identifier(self.table)
        )
        if conn.execute(query, (company_id, name, object_id)).fetchone():
            raise invalid("name", f"{self.a} {self.what} named {name!r} already exists")

    # ---- writing --------------------------------------------------------------

    def create(self, conn, company_id: int, data: Row) -> Row:
        query = sql.SQL("INSERT INTO {} (company_id, name) VALUES (%s, %s) RETURNING id").format(
            sql.Identifier(self.table)
        )
        object_id = conn.execute(query, (company_id, data["name"])).fetchone()["id"]
        self.write(conn, object_id, data)
        return self.load(conn, company_id, object_id)

    def update(self, conn, company_id: int, object_id: int, current: Row, data: Row) -> Row:
        self.write(conn, object_id, data)
        return self.load(conn, company_id, object_id)

    def write(self, conn, object_id: int, data: Row) -> None:
        """Store ``data`` (valid and checked) as the object's whole state."""
        raise NotImplementedError

    # ---- deleting -------------------------------------------------------------

    def users(self, conn, object_id: int) -> list[str]:
        """What refers to the object ("scheme 'Day'"): it cannot be deleted while anything does."""
        return []

    def delete(self, conn, company_id: int, object_id: int) -> None:
        users = sorted(set(self.users(conn, object_id)))
        if users:
            raise invalid("id", f"in use by {', '.join(users)}: change them first")
        conn.execute(sql.SQL("DELETE FROM {} WHERE id = %s").format(sql.Identifier(self.table)), (object_id,))

    def forget(self, object_id: int) -> None:
        """Drop shared state of an object changed or deleted (after the commit)."""


def routes(blueprint: Blueprint, service: Service) -> None:
    """The collection (GET, POST) and item (GET, PUT, DELETE) views of ``service``."""
    created = service.created_schema or service.schema
    updated = service.updated_schema or service.schema

    @blueprint.route("")
    class Collection(MethodView):
        @blueprint.response(200, service.schema(many=True))
        def get(self):
            who = require_admin()
            return service.all(db(), who.company_id)

        @blueprint.arguments(service.schema)
        @blueprint.response(201, created)
        def post(self, data):
            who = require_admin()
            conn = db()
            service.check(conn, who.company_id, None, data)
            made = service.create(conn, who.company_id, data)
            republish_company(who.company_id)
            return made

    @blueprint.route(f"/<int:{service.id_name}>")
    class Item(MethodView):
        @blueprint.response(200, service.schema)
        def get(self, **ids):
            who = require_admin()
            return service.load(db(), who.company_id, ids[service.id_name])

        @blueprint.arguments(service.schema)
        @blueprint.response(200, updated)
        def put(self, data, **ids):
            who = require_admin()
            conn, object_id = db(), ids[service.id_name]
            current = service.load(conn, who.company_id, object_id)
            service.check(conn, who.company_id, object_id, data)
            changed = service.update(conn, who.company_id, object_id, current, data)
            republish_company(who.company_id)
            after_commit(lambda _conn: service.forget(object_id))
            return changed

        @blueprint.response(204)
        def delete(self, **ids):
            who = require_admin()
            conn, object_id = db(), ids[service.id_name]
            service.load(conn, who.company_id, object_id)
            service.delete(conn, who.company_id, object_id)
            republish_company(who.company_id)
            after_commit(lambda _conn: service.forget(object_id))
