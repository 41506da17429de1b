"""Who asks the outside system for each lookup kind (routing's Handler.LOOKUP
destinations): ``ASKERS`` maps the kind to a function that takes the call's
``Lookup`` and returns the outcome routing expands (the kind's ``expand``)
with how the metrics count it (``http.Answer``).
A lookup kind without an asker fails its unit test, not a call."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import redis

from ..addresses import IPNetwork
from . import crm, webhook
from .http import SKIPPED, Answer


@dataclass(frozen=True)
class Lookup:
    """One node of a live call's plan to look up."""

    redis: redis.Redis
    directory: dict  # the company's compiled directory document
    node_id: str  # "5" of "webhook:5"; "" for a kind without an id
    call_id: str
    caller: str  # as it came
    caller_e164: str | None  # None: hidden or not a phone number
    called: str | None
    at: datetime
    arrival: float  # monotonic time the INVITE came in: budgets count from it
    allowed: Iterable[IPNetwork]  # private networks a customer's URL may reach


def _webhook(lookup: Lookup) -> Answer:
    hook = lookup.directory["webhooks"].get(lookup.node_id)
    if hook is None:
        return Answer("the webhook is gone", SKIPPED)
    asked = webhook.ask(
        lookup.redis,
        hook,
        {"call_id": lookup.call_id, "caller": lookup.caller, "called": lookup.called, "at": lookup.at.isoformat()},
        lookup.directory["company"],
        lookup.arrival + hook["budget_ms"] / 1000,
        allowed=lookup.allowed,
    )
    return Answer(asked.outcome, asked.result)


def _responsible_manager(lookup: Lookup) -> Answer:
    budget = (lookup.directory.get("crm") or {}).get("budget_ms", 1000)
    return crm.manager(
        lookup.redis, lookup.directory, lookup.caller_e164, lookup.arrival + budget / 1000, allowed=lookup.allowed
    )


ASKERS: dict[str, Callable[[Lookup], Answer]] = {"webhook": _webhook, "responsible_manager": _responsible_manager}
