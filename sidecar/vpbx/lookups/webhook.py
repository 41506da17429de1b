"""Asking a webhook number's URL where a call goes (R17).

vpbx POSTs the call as JSON, signed (see signing), and the answer must pass
``AnswerSchema``; routing.destinations.webhook turns it into what rings.
Whatever goes wrong comes back as a reason string, never as an exception:
the caller then follows the webhook's fallback.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

import redis
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from ..addresses import IPNetwork
from ..routing.numbers import to_e164
from .breaker import Breaker, BreakerState
from .http import OK, Exchange, LookupFailed, request_json, result_of

log = logging.getLogger(__name__)
# Recent failures kept per webhook for the admin API.
FAILURES_KEPT = 100
RING_KINDS = ("employee", "department", "phone_number", "sip_uri", "queue")


def failures_key(webhook_id: int) -> str:
    return f"vpbx:webhook:{webhook_id}:failures"


def answer_key(webhook_id: int, caller: str) -> str:
    return f"vpbx:webhook:{webhook_id}:answer:{caller}"


def breaker_name(webhook_id: int) -> str:
    return f"webhook:{webhook_id}"


class AnswerDestinationSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    kind = fields.String(required=True, validate=validate.OneOf(RING_KINDS))
    employee_id = fields.Integer()
    extension = fields.String(validate=validate.Regexp(r"^[0-9]{2,6}$"))
    department_id = fields.Integer()
    number = fields.String()
    uri = fields.String(validate=validate.Regexp(r"^sips?:[^@\s]+@[^@\s]+$", error="a SIP URI"))
    queue_id = fields.Integer()

    @validates_schema
    def _needs(self, data, **kwargs):
        needs = {
            "employee": ("employee_id", "extension"),
            "department": ("department_id",),
            "phone_number": ("number",),
            "sip_uri": ("uri",),
            "queue": ("queue_id",),
        }[data["kind"]]
        if not any(data.get(name) is not None for name in needs):
            raise ValidationError(f"a {data['kind']} destination needs {' or '.join(needs)}")
        if data["kind"] == "phone_number":
            e164 = to_e164(data["number"])
            if e164 is None:
                raise ValidationError("not a phone number", "number")
            data["number"] = e164


class AnswerSchema(Schema):
    """A webhook's answer. Unknown fields are ignored: customers' servers add their own."""

    class Meta:
        unknown = EXCLUDE

    action = fields.String(required=True, validate=validate.OneOf(("ring", "scheme", "reject", "fallback")))
    destinations = fields.List(fields.Nested(AnswerDestinationSchema), validate=validate.Length(1, 20))
    mode = fields.String(load_default="parallel", validate=validate.OneOf(("parallel", "sequential")))
    timeout = fields.Integer(load_default=30, validate=validate.Range(5, 600))
    scheme_id = fields.Integer()
    code = fields.Integer(validate=validate.Range(400, 699))
    # The caller waits ahead of lower priorities in call queues (a known client, an unpaid invoice).
    queue_priority = fields.Integer(load_default=0, validate=validate.Range(0, 9))

    @validates_schema
    def _needs(self, data, **kwargs):
        needed = {"ring": "destinations", "scheme": "scheme_id", "reject": "code"}.get(data["action"])
        if needed and data.get(needed) is None:
            raise ValidationError(f"action {data['action']!r} needs {needed}", needed)


def call_payload(call: dict, company: dict) -> dict:
    """What a webhook is told about the call (the attempt number is added per request)."""
    return {
        "call_id": call["call_id"],
        "from": call["caller"],
        "to": call["called"],
        "number": call["called"],
        "company": {"id": company["id"], "name": company["name"]},
        "time": call["at"],
    }


@dataclass(frozen=True)
class Asked:
    """A webhook lookup's result: the valid answer, or why there is none."""

    answer: dict | None
    failure: str | None = None  # "timeout: …", "breaker_open: …"
    exchange: Exchange | None = None
    cached: bool = False
    failure_kind: str | None = None  # LookupFailed.kind

    @property
    def outcome(self) -> dict | str:
        return self.answer if self.answer is not None else self.failure or "no answer"

    @property
    def result(self) -> str:
        """How /metrics counts it (http.LOOKUP_RESULTS)."""
        return OK if self.answer is not None else result_of(self.failure_kind or "")


def ask(
    client: redis.Redis | None,
    webhook: dict,
    call: dict,
    company: dict,
    deadline: float,
    *,
    use_state: bool = True,
    allowed: Iterable[IPNetwork] = (),
    wall=time.time,
) -> Asked:
    """Ask ``webhook`` (its directory entry) about ``call`` by ``deadline`` (monotonic).

    With ``use_state`` the breaker, the per-caller answer cache and the
    failure log apply (a live call); a dry run sets it False.
    """
    # A live call's breaker; a dry run (no client) has none.
    breaker = (
        Breaker(client, breaker_name(webhook["id"]), webhook["breaker_failures"], webhook["breaker_open_s"])
        if use_state and client is not None
        else None
    )
    state, cached = BreakerState(), None
    caching = use_state and webhook["cache_ttl_s"] > 0 and call.get("caller")
    if breaker is not None and client is not None:
        try:
            with client.pipeline(transaction=False) as pipe:
                breaker.queue_read(pipe)
                if caching:
                    pipe.get(answer_key(webhook["id"], call["caller"]))
                state, *rest = pipe.execute()
            state = BreakerState.from_reply(state)
            cached = rest[0] if rest else None
            if cached:
                return Asked(json.loads(cached), cached=True)
            if not breaker.admits(state, wall(), webhook["budget_ms"]):
                return Asked(
                    None, "breaker_open: too many failures in a row, asking again later", failure_kind="breaker_open"
                )
        except redis.RedisError as exc:
            log.warning("webhook %s: breaker and cache unavailable (%s); asking anyway", webhook["id"], exc)
    try:
        body, exchange = request_json(
            "POST",
            webhook["url"],
            call_payload(call, company),
            webhook["secret"],
            deadline,
            retries=webhook["retries"],
            allowed=allowed,
        )
        try:
            answer = AnswerSchema().load(body if isinstance(body, dict) else {"": body})
        except ValidationError as exc:
            raise LookupFailed("invalid_answer", json.dumps(exc.messages, sort_keys=True)[:500], exchange) from None
    except LookupFailed as failed:
        if breaker is not None and client is not None:
            _note_failure(client, breaker, webhook["id"], call, failed, wall())
        return Asked(None, f"{failed.kind}: {failed.detail}", failed.exchange, failure_kind=failed.kind)
    if breaker is not None and client is not None:
        try:
            breaker.succeeded(state)
            if caching:
                client.set(answer_key(webhook["id"], call["caller"]), json.dumps(answer), ex=webhook["cache_ttl_s"])
        except redis.RedisError as exc:
            log.warning("webhook %s: success not noted: %s", webhook["id"], exc)
    return Asked(answer, exchange=exchange)


def _note_failure(
    client: redis.Redis, breaker: Breaker, webhook_id: int, call: dict, failed: LookupFailed, now: float
) -> None:
    try:
        breaker.failed(now)
        note = {"at": now, "call_id": call.get("call_id"), "kind": failed.kind, "detail": failed.detail}
        with client.pipeline(transaction=False) as pipe:
            pipe.lpush(failures_key(webhook_id), json.dumps(note))
            pipe.ltrim(failures_key(webhook_id), 0, FAILURES_KEPT - 1)
            pipe.execute()
    except redis.RedisError as exc:
        log.warning("webhook %s: failure not noted: %s", webhook_id, exc)
