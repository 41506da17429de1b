"""Who the CRM says owns a caller (R16).

Two sources, in order: the list the CRM pushes (``vpbx:crm:clients:<company>``,
a Redis hash phone -> employee id, written through from PostgreSQL by the
API), then, for callers not on it, the CRM's optional lookup URL
(``GET <url>?phone=+7…``, signed like a webhook, under its own budget and
breaker), whose answers are cached for the integration's TTL.

The answer is an employee id, or a string saying why there is none: an
unknown caller and a failed lookup both let the call move on.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from urllib.parse import urlencode

import redis
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from ..addresses import IPNetwork
from ..documents import crm_clients_key
from ..routing.destinations.employee import in_directory
from .breaker import Breaker, BreakerState
from .http import BREAKER_OPEN, ERROR, SKIPPED, Answer, LookupFailed, request_json, result_of

log = logging.getLogger(__name__)
UNKNOWN = "-"  # a cached "the CRM does not know this caller"
BREAKER_FAILURES = 5
BREAKER_OPEN_SECONDS = 30


def breaker_name(company_id: int) -> str:
    return f"crm:{company_id}"


def pulled_key(company_id: int, phone: str) -> str:
    return f"vpbx:crm:pulled:{company_id}:{phone}"


class ManagerAnswerSchema(Schema):
    """The CRM lookup URL's answer: the manager by id or extension; null for an unknown client."""

    class Meta:
        unknown = EXCLUDE

    employee_id = fields.Integer(allow_none=True)
    extension = fields.String(allow_none=True, validate=validate.Regexp(r"^[0-9]{2,6}$"))


def manager(
    client: redis.Redis,
    directory: dict,
    phone: str | None,
    deadline: float,
    *,
    allowed: Iterable[IPNetwork] = (),
    wall=time.time,
) -> Answer:
    """The caller's manager's employee id, or why there is none (an unknown
    caller is an answer, for the metrics' outcome too)."""
    if not phone:
        return Answer("the caller's number is hidden", SKIPPED)
    company_id = directory["company"]["id"]
    crm = directory.get("crm") or {}
    url = crm.get("lookup_url")
    breaker = Breaker(client, breaker_name(company_id), BREAKER_FAILURES, BREAKER_OPEN_SECONDS)
    try:
        with client.pipeline(transaction=False) as pipe:
            pipe.hget(crm_clients_key(company_id), phone)
            if url:
                pipe.get(pulled_key(company_id, phone))
                breaker.queue_read(pipe)
            pushed, *rest = pipe.execute()
    except redis.RedisError as exc:
        return Answer(f"the CRM's client list is unavailable ({exc})", ERROR)
    if pushed is not None:
        return Answer(int(pushed))
    if not url:
        return Answer(f"{phone} is not a client the CRM told us about")
    cached, state = rest[0], BreakerState.from_reply(rest[1])
    if cached is not None:
        return Answer(int(cached) if cached != UNKNOWN.encode() else f"the CRM does not know {phone} (cached)")
    try:
        if not breaker.admits(state, wall(), crm["budget_ms"]):
            return Answer("the CRM lookup's breaker is open", BREAKER_OPEN)
    except redis.RedisError:
        pass
    try:
        body, _ = request_json(
            "GET",
            f"{url}{'&' if '?' in url else '?'}{urlencode({'phone': phone})}",
            None,
            crm["secret"],
            deadline,
            allowed=allowed,
        )
        try:
            answer = ManagerAnswerSchema().load(body if isinstance(body, dict) else {"": body})
        except ValidationError as exc:
            raise LookupFailed("invalid_answer", json.dumps(exc.messages, sort_keys=True)[:300]) from None
    except LookupFailed as failed:
        try:
            breaker.failed(wall())
        except redis.RedisError:
            pass
        log.warning("CRM lookup of %s for company %s failed: %s", phone, company_id, failed)
        return Answer(f"the CRM lookup failed ({failed.kind}: {failed.detail})", result_of(failed.kind))
    employee = in_directory(directory, employee_id=answer.get("employee_id"), extension=answer.get("extension"))
    found = employee["id"] if employee else None
    try:
        breaker.succeeded(state)
        if crm["cache_ttl_s"]:
            client.set(pulled_key(company_id, phone), str(found) if found else UNKNOWN, ex=crm["cache_ttl_s"])
    except redis.RedisError as exc:
        log.warning("CRM answer for %s not cached: %s", phone, exc)
    return Answer(found if found is not None else f"the CRM does not know {phone}")
