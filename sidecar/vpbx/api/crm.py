"""/api/v1/crm: the CRM integration (R16).

The CRM tells vpbx who owns each client: it pushes phone -> responsible
employee in bulk (``PUT /crm/clients``), and may also offer a lookup URL that
vpbx asks, within a budget, for callers it was not told about. The
integration's no-answer rule, when set, takes priority over the manager's
own. ``GET /crm/clients/{phone}`` answers CRMs and softphones with the manager.

Pushed clients live in PostgreSQL and are written through to a Redis hash
per company after commit, which Kamailio's lookup workers read.
"""

from __future__ import annotations

import logging
import secrets

import redis
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..documents import crm_clients_key
from ..lookups.breaker import breaker_key
from ..lookups.crm import breaker_name, pulled_key
from .auth import principal, require_admin
from .blueprints import api_blueprint
from .changes import republish_company, routing_cache
from .database import after_commit, db
from .errors import ApiError, invalid, not_found
from .fields import CustomerUrl, PhoneNumber
from .references import missing, owned

log = logging.getLogger(__name__)
blueprint = api_blueprint("crm", "/crm", "CRM integration: clients' responsible managers")
SETTINGS = (
    "lookup_url",
    "events_url",
    "budget_ms",
    "cache_ttl_s",
    "no_answer_rule",
    "no_answer_employee_id",
    "no_answer_department_id",
    "no_answer_ring_s",
)
MAX_PUSH = 10_000


class CrmSchema(Schema):
    lookup_url = CustomerUrl(
        load_default=None,
        allow_none=True,
        metadata={
            "description": 'GET <url>?phone=+7… answers {"employee_id": …} or '
            '{"extension": …}; none: only pushed clients are known'
        },
    )
    events_url = CustomerUrl(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "POST <url> tells the CRM what happened to a call, signed like a lookup: "
            '{"event": "call_categorized", "call_id", "caller", "called", "employee_id", "key", '
            '"category", "at"} once whoever answered pressed its category (a scheme\'s post-call menu)'
        },
    )
    budget_ms = fields.Integer(load_default=1000, validate=validate.Range(100, 10000))
    cache_ttl_s = fields.Integer(
        load_default=300,
        validate=validate.Range(0, 86400),
        metadata={"description": "Seconds the lookup URL's answer is reused"},
    )
    no_answer_rule = fields.String(
        load_default="none",
        validate=validate.OneOf(("none", "forward_employee", "forward_department")),
        metadata={
            "description": "When the manager does not answer their client; 'none': the manager's own rule applies"
        },
    )
    no_answer_employee_id = fields.Integer(load_default=None, allow_none=True)
    no_answer_department_id = fields.Integer(load_default=None, allow_none=True)
    no_answer_ring_s = fields.Integer(load_default=30, validate=validate.Range(5, 300))

    @validates_schema
    def _target(self, data, **kwargs):
        needs = {"forward_employee": "no_answer_employee_id", "forward_department": "no_answer_department_id"}
        field = needs.get(data.get("no_answer_rule"))
        if field and data.get(field) is None:
            raise ValidationError(f"the rule {data['no_answer_rule']!r} needs {field}", field)


class CrmCreatedSchema(CrmSchema):
    secret = fields.String(
        dump_only=True,
        metadata={"description": "HMAC-SHA256 key signing lookup requests; shown when the integration is created"},
    )


def _settings(conn, company_id: int) -> dict | None:
    return conn.execute(
        f"SELECT {', '.join(SETTINGS)} FROM crm_integrations WHERE company_id = %s", (company_id,)
    ).fetchone()


@blueprint.route("")
class Crm(MethodView):
    @blueprint.response(200, CrmSchema)
    def get(self):
        who = require_admin()
        found = _settings(db(), who.company_id)
        if found is None:
            raise not_found("CRM integration")
        return found

    @blueprint.arguments(CrmSchema)
    @blueprint.response(200, CrmCreatedSchema)
    def put(self, data):
        who = require_admin()
        conn = db()
        if not owned(conn, who.company_id, "employee", data["no_answer_employee_id"]):
            raise invalid("no_answer_employee_id", missing("employee", data["no_answer_employee_id"]))
        if not owned(conn, who.company_id, "department", data["no_answer_department_id"]):
            raise invalid("no_answer_department_id", missing("department", data["no_answer_department_id"]))
        secret = secrets.token_urlsafe(32)
        row = conn.execute(
            f"""INSERT INTO crm_integrations (company_id, secret, {", ".join(SETTINGS)})
                VALUES (%s, %s, {", ".join(["%s"] * len(SETTINGS))})
                ON CONFLICT (company_id) DO UPDATE SET {", ".join(f"{k} = EXCLUDED.{k}" for k in SETTINGS)}
                RETURNING secret = %s AS created""",
            (who.company_id, secret, *(data[k] for k in SETTINGS), secret),
        ).fetchone()
        republish_company(who.company_id)
        _forget_lookups(who.company_id)
        created = bool(row and row["created"])
        return {**(_settings(conn, who.company_id) or {}), **({"secret": secret} if created else {})}

    @blueprint.response(204)
    def delete(self):
        who = require_admin()
        conn = db()
        conn.execute("DELETE FROM crm_integrations WHERE company_id = %s", (who.company_id,))
        republish_company(who.company_id)
        _forget_lookups(who.company_id)


def _forget_lookups(company_id: int) -> None:
    """A changed integration may ask another URL: answers cached from the old one, and
    its breaker, are dropped once the change commits."""

    def forget(_conn):
        try:
            cache = routing_cache()
            stale = list(cache.scan_iter(match=pulled_key(company_id, "*"), count=1000))
            cache.delete(breaker_key(breaker_name(company_id)), *stale)
        except redis.RedisError:
            log.warning("CRM lookups cached for company %s not dropped; they expire on their own", company_id)

    after_commit(forget)


class ClientSchema(Schema):
    phone = PhoneNumber(required=True)
    employee_id = fields.Integer(required=True)


class ClientsPushSchema(Schema):
    clients = fields.List(fields.Nested(ClientSchema), required=True, validate=validate.Length(1, MAX_PUSH))


class PushedSchema(Schema):
    upserted = fields.Integer()


class ManagerSchema(Schema):
    phone = fields.String()
    employee_id = fields.Integer()
    extension = fields.String()
    name = fields.String()


def _write_through(company_id: int, mapping: dict[str, int], removed: list[str]) -> None:
    def write(_conn):
        try:
            with routing_cache().pipeline(transaction=True) as pipe:
                if mapping:
                    pipe.hset(crm_clients_key(company_id), mapping=mapping)
                if removed:
                    pipe.hdel(crm_clients_key(company_id), *removed)
                pipe.execute()
        except redis.RedisError:
            # Committed in PostgreSQL; calls see it after the cache rebuild (`vpbx cache rebuild`).
            log.exception("CRM clients of company %s not written to Redis", company_id)

    after_commit(write)


@blueprint.route("/clients")
class Clients(MethodView):
    @blueprint.arguments(ClientsPushSchema)
    @blueprint.response(200, PushedSchema)
    def put(self, data):
        """Upsert clients' responsible managers in bulk (up to 10,000 per request), all or nothing."""
        who = require_admin()
        conn = db()
        wanted = {c["employee_id"] for c in data["clients"]}
        known = {
            r["id"]
            for r in conn.execute(
                "SELECT id FROM employees WHERE company_id = %s AND id = ANY(%s)", (who.company_id, list(wanted))
            )
        }
        for index, client in enumerate(data["clients"]):
            if client["employee_id"] not in known:
                raise ApiError(
                    422,
                    "A client names an employee who is not in this company.",
                    {f"clients.{index}.employee_id": [missing("employee", client["employee_id"])]},
                )
        mapping = {c["phone"]: c["employee_id"] for c in data["clients"]}  # the last one for a phone wins
        with conn.cursor() as cursor:
            cursor.executemany(
                """INSERT INTO crm_clients (company_id, phone, employee_id) VALUES (%s, %s, %s)
                   ON CONFLICT (company_id, phone)
                   DO UPDATE SET employee_id = EXCLUDED.employee_id, updated_at = now()""",
                [(who.company_id, phone, employee_id) for phone, employee_id in mapping.items()],
            )
        _write_through(who.company_id, mapping, [])
        return {"upserted": len(mapping)}


@blueprint.route("/clients/<phone>")
class Client(MethodView):
    @blueprint.response(200, ManagerSchema)
    def get(self, phone):
        """The client's responsible manager, for CRMs and softphones (any employee's token)."""
        who = principal()
        e164 = _phone(phone)
        row = (
            db()
            .execute(
                """SELECT c.phone, e.id AS employee_id, e.extension, e.name FROM crm_clients c
               JOIN employees e ON e.id = c.employee_id WHERE c.company_id = %s AND c.phone = %s""",
                (who.company_id, e164),
            )
            .fetchone()
        )
        if row is None:
            raise not_found("Client")
        return row

    @blueprint.response(204)
    def delete(self, phone):
        who = require_admin()
        e164 = _phone(phone)
        if (
            db()
            .execute(
                "DELETE FROM crm_clients WHERE company_id = %s AND phone = %s RETURNING phone", (who.company_id, e164)
            )
            .fetchone()
            is None
        ):
            raise not_found("Client")
        _write_through(who.company_id, {}, [e164])


def _phone(raw: str) -> str:
    try:
        return PhoneNumber().deserialize(raw)
    except ValidationError as exc:
        raise invalid("phone", exc.messages[0]) from None
