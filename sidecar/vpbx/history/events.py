"""The events a call emits, as plain dicts (JSON on a Redis stream).

Kamailio emits them at the moments it already handles anyway, so a new call
costs no extra Redis round trip before it rings:

    answered  the 200 OK to the caller's INVITE; every leg rung so far, and
              which of them answered (``answered_leg``, its index in ``legs``)
    missed    the plan is spent, the caller cancelled, or nobody could be rung
    ended     the BYE of an answered call
    voicemail the media app's, when a caller it answered reached a voicemail box:
              {call_id, at, box_id, message_id (None: no message left)}
    queue     the media app's, when a caller left a call queue and again, with
              talk_s, when an answered queue call ended: {call_id, queue_id,
              company_id, joined_at, left_at, outcome, wait_s, employee_id, talk_s,
              callback_number}
    callback_asked the media app's, when a caller was promised a callback
              (a queue's or a department's): {call_id, at, number, queue_id or
              department_id}
    queue_callback the media app's, when a caller's callback request was
              served: {call_id, queue_id or department_id, at, outcome,
              callback_call_id}
    categorized the media app's, when whoever answered pressed a key of the
              scheme's post-call category menu: {call_id (the caller's), at,
              key, category, employee_id}
    lookup    a webhook or CRM lookup asked for a call, for the metrics only:
              {call_id, at, company_id, lookup (its kind), outcome
              (vpbx.lookups.http.LOOKUP_RESULTS), seconds}

``call`` (the same in answered and missed) describes the call itself:
company_id, direction ("incoming" from a trunk, "internal" from a company
phone, "outgoing" from a company phone to a number outside), caller,
caller_login (internal and outgoing calls), called (number or extension),
started_at, dialled_employee_id (a direct call to an extension, else None),
caller_id (outgoing calls: the company number the callee was shown).
``legs``: [{step, target, employee_id, department_id, rang_at}], one per
target rung, ``step`` counting from 1 in ringing order.
"""

from __future__ import annotations

from datetime import UTC, datetime

from redis.typing import EncodableT, FieldT

STREAM = "vpbx:history:events"
# The stream is a buffer between Kamailio and the keeper, not the archive:
# trimmed (approximately) to this many events.
STREAM_MAX_LEN = 1_000_000

ANSWERED, MISSED, ENDED, VOICEMAIL = "answered", "missed", "ended", "voicemail"
QUEUE, LOOKUP = "queue", "lookup"
# A department's served callback keeps the queue's name of the event: events
# already on the stream when a keeper is upgraded read the same.
CALLBACK_ASKED, CALLBACK_SERVED = "callback_asked", "queue_callback"
CATEGORIZED = "categorized"

# Kamailio's counter (group "script") of call events it could not keep: its
# shared-memory queue or its spool on disk was full.
DROPPED_COUNTER = "history_events_dropped"


def entry(batch: list[str]) -> dict[FieldT, EncodableT]:
    """One stream entry carrying a batch of events (JSON texts), in order: one
    XADD per batch costs Kamailio and Redis far less than one per event."""
    return {str(i): event for i, event in enumerate(batch)}


def from_entry(fields: dict) -> list[bytes | str]:
    """The events of a stream entry, in the order they were emitted."""

    def position(name):
        name = name.decode() if isinstance(name, bytes) else name
        return int(name) if name.isdigit() else -1

    return [fields[name] for name in sorted(fields, key=position)]


# Why a call was missed, from the final SIP outcome.
CALLER_CANCELLED, NO_ANSWER, BUSY, NOBODY_TO_RING, REJECTED = (
    "caller_cancelled",
    "no_answer",
    "busy",
    "nobody_to_ring",
    "rejected",
)


def lookup(call_id: str, company_id: int | None, kind: str, outcome: str, seconds: float) -> dict:
    return {
        "type": LOOKUP,
        "call_id": call_id,
        "at": datetime.now(UTC).isoformat(),
        "company_id": company_id,
        "lookup": kind,
        "outcome": outcome,
        "seconds": round(seconds, 6),
    }


def missed_reason(status: int, cancelled: bool) -> str:
    if cancelled:
        return CALLER_CANCELLED
    if status in (486, 600):
        return BUSY
    if status in (408, 480, 487):
        return NO_ANSWER
    return REJECTED


def answered_leg(event: dict) -> dict:
    """The leg of an "answered" event that answered. Events queued by the
    previous version carry the leg itself, under "answered"."""
    if "answered" in event:
        return event["answered"]
    return event["legs"][event["answered_leg"]]


def event_time(at: str | float) -> datetime:
    """An event's time: ISO-8601 from Python, epoch seconds from kamailio.cfg
    (which completes the "answered" and "ended" events itself, with no ISO
    formatter at hand)."""
    if isinstance(at, int | float):
        return datetime.fromtimestamp(at, UTC)
    return datetime.fromisoformat(at)
