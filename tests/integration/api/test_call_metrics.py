"""The call counters and histograms on /metrics move with the history the keeper
writes, by exactly what the events say, and an event delivered twice counts once."""

from __future__ import annotations

import json
import secrets
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from vpbx import db as vpbx_db
from vpbx import redis_client
from vpbx.history import events
from vpbx.history.keeper import write_batch
from vpbx.lookups import webhook
from vpbx.lookups.breaker import breaker_key

from .test_call_history import CALLS_AT, _at, _incoming


def _samples(client, cfg) -> dict:
    """{(sample name, frozenset of labels): value} of everything /metrics serves."""
    response = client.get("/metrics", headers={"Authorization": f"Bearer {cfg.metrics_token}"})
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def _moved(before: dict, after: dict) -> dict:
    return {key: value - before.get(key, 0.0) for key, value in after.items() if value != before.get(key, 0.0)}


def _entry(*batch: dict) -> tuple[bytes, dict]:
    return b"0-1", events.entry([json.dumps(event) for event in batch])


@pytest.fixture
def trunk(cfg):
    """The demo trunk, which calls come in on (its name is the metrics' label)."""
    with vpbx_db.connect(cfg.database_url) as conn:
        return conn.execute("SELECT id, name FROM trunks ORDER BY id LIMIT 1").fetchone()


def _call(company_id, trunk_id, number) -> dict:
    return _incoming(company_id, called=number, plan_s=0.002, trunk_id=trunk_id)


def _leg(step: int, target: str) -> dict:
    return {"step": step, "target": target, "employee_id": None, "department_id": None, "rang_at": _at()}


def test_calls_count_once_each_by_outcome_reason_and_code_class_with_their_setup_time(
    cfg, client, admin, company_id, trunk
):
    number = "+7495" + str(secrets.randbelow(10**7)).zfill(7)
    started = CALLS_AT.timestamp()  # the calls' started_at
    answered = {
        "type": events.ANSWERED,
        "call_id": f"{secrets.token_hex(6)}@metrics",
        "at": started + 5,
        "ringing_at": started + 0.4,
        "call": _call(company_id, trunk["id"], number),
        "legs": [_leg(1, "employee 101 Anna")],
        "answered_leg": 0,
    }
    busy = {
        "type": events.MISSED,
        "call_id": f"{secrets.token_hex(6)}@metrics",
        "at": _at(20),
        "ringing_at": started + 1.5,
        "call": _call(company_id, trunk["id"], number),
        "legs": [_leg(1, "employee 101 Anna")],
        "reason": events.BUSY,
        "code": 486,
    }
    nobody = {
        "type": events.MISSED,
        "call_id": f"{secrets.token_hex(6)}@metrics",
        "at": _at(1),
        "ringing_at": None,
        "call": _call(company_id, trunk["id"], number),
        "legs": [],
        "reason": events.NOBODY_TO_RING,
        "code": 480,
    }
    lookups = [
        events.lookup(busy["call_id"], company_id, "webhook", "timeout", 1.02),
        events.lookup(nobody["call_id"], company_id, "webhook", "ok", 0.03),
    ]
    before = _samples(client, cfg)

    with vpbx_db.connect(cfg.database_url) as conn:
        write_batch(conn, [_entry(answered, busy, nobody, *lookups), _entry(answered, busy)])

    moved = _moved(before, _samples(client, cfg))
    labels = {"company_id": str(company_id), "direction": "incoming", "number": number, "trunk": trunk["name"]}
    # The carrier's caller is kept as its trunk's region reads it: E.164, like the number called.
    with vpbx_db.connect(cfg.database_url) as conn:
        line = conn.execute("SELECT caller, called FROM calls WHERE call_id = %s", (answered["call_id"],)).fetchone()
    assert (line["caller"], line["called"]) == ("+79161234567", number)
    # Found however the number is typed.
    for typed in ("79161234567", "8 916 123-45-67", "+79161234567"):
        found = client.get(
            "/api/v1/calls", headers=admin, query_string={"caller": typed, "call_id": answered["call_id"]}
        )
        assert [c["caller"] for c in found.get_json()] == ["+79161234567"], typed

    def calls(outcome, reason, code_class):
        return (
            "vpbx_calls_total",
            frozenset({**labels, "outcome": outcome, "reason": reason, "code_class": code_class}.items()),
        )

    assert {key: value for key, value in moved.items() if key[0] == "vpbx_calls_total"} == {
        calls("answered", "", "2xx"): 1.0,
        calls("missed", "busy", "4xx"): 1.0,
        calls("failed", "nobody_to_ring", "4xx"): 1.0,
    }
    incoming = frozenset({("direction", "incoming")})
    # Two calls rang (0.4 s and 1.5 s after their INVITE), the third never did.
    assert moved[("vpbx_call_setup_seconds_count", incoming)] == 2.0
    assert moved[("vpbx_call_setup_seconds_sum", incoming)] == pytest.approx(1.9)
    assert moved[("vpbx_call_setup_seconds_bucket", incoming | {("le", "0.5")})] == 1.0
    assert ("vpbx_call_setup_seconds_bucket", incoming | {("le", "0.25")}) not in moved
    assert moved[("vpbx_call_setup_seconds_bucket", incoming | {("le", "2.0")})] == 2.0
    assert moved[("vpbx_call_plan_seconds_count", incoming)] == 3.0
    webhook = {"company_id": str(company_id), "lookup": "webhook"}
    assert moved[("vpbx_lookups_total", frozenset({**webhook, "outcome": "timeout"}.items()))] == 1.0
    assert moved[("vpbx_lookups_total", frozenset({**webhook, "outcome": "ok"}.items()))] == 1.0
    timeouts = frozenset({"lookup": "webhook", "outcome": "timeout"}.items())
    assert moved[("vpbx_lookup_seconds_sum", timeouts)] == pytest.approx(1.02)
    assert moved[("vpbx_lookup_seconds_bucket", timeouts | {("le", "2.0")})] == 1.0


def test_registered_phones_and_open_breakers_per_company(cfg, client, company_id, db):
    login = f"metrics-{secrets.token_hex(3)}"
    domain = db.execute("SELECT sip_domain FROM companies WHERE id = %s", (company_id,)).fetchone()["sip_domain"]
    hook = db.execute(
        "INSERT INTO webhooks (company_id, name, url, secret) VALUES (%s, 'metrics', 'https://crm.example/hook', 's')"
        " RETURNING id",
        (company_id,),
    ).fetchone()["id"]
    client_redis = redis_client.connect(cfg)
    phones = ("vpbx_registered_phones", frozenset({("company_id", str(company_id))}))
    breaker = (
        "vpbx_lookup_breaker_open",
        frozenset({"company_id": str(company_id), "lookup": "webhook", "lookup_id": str(hook)}.items()),
    )
    try:
        before = _samples(client, cfg)
        assert before[breaker] == 0.0  # closed: no failure yet
        # A phone registered with two contacts counts once (as usrloc writes it through).
        for contact in ("sip:a@192.0.2.1:5060", "sip:a@192.0.2.2:5060"):
            db.execute(
                "INSERT INTO location (ruid, username, domain, contact, expires) VALUES (%s, %s, %s, %s, now() + '1h')",
                (secrets.token_hex(8), login, domain, contact),
            )
        client_redis.hset(breaker_key(webhook.breaker_name(hook)), "open_until", time.time() + 60)

        after = _samples(client, cfg)
        assert after[phones] - before[phones] == 1
        assert after[breaker] == 1.0
    finally:
        db.execute("DELETE FROM location WHERE username = %s", (login,))
        db.execute("DELETE FROM webhooks WHERE id = %s", (hook,))
        client_redis.delete(breaker_key(webhook.breaker_name(hook)))
        client_redis.close()
