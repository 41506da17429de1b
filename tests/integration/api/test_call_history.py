"""Call history: R19's rules on real events, the keeper on the real Redis stream
and PostgreSQL, and who may see which lines through the API."""

from __future__ import annotations

import csv
import io
import json
import secrets
from datetime import UTC, datetime, timedelta

import pytest
import redis

from vpbx import db as vpbx_db
from vpbx.history import events
from vpbx.history.store import apply
from vpbx.stack.manager import services
from vpbx.stack.process import wait_for

from .conftest import error_fields


def _call_id() -> str:
    return f"{secrets.token_hex(6)}@history.test"


# When the calls these tests write started (history keeps the times its events say).
CALLS_AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _at(seconds: float = 0) -> str:
    """``seconds`` into the calls, as events carry times."""
    return (CALLS_AT + timedelta(seconds=seconds)).isoformat()


def _node_leg(target: str, node: str) -> dict:
    """The leg of a call the media app answered (an IVR menu, a queue), rung as the call came in."""
    return {"step": 1, "target": target, "employee_id": None, "department_id": None, "rang_at": _at(), "node": node}


def _leg(step, employee, at="2026-11-23T10:00:00+00:00"):
    return {
        "step": step,
        "target": f"employee {employee['extension']} {employee['name']}",
        "employee_id": employee["id"],
        "department_id": None,
        "rang_at": at,
    }


@pytest.fixture
def people(make_employee, demo):
    return make_employee(name="Ivan"), make_employee(name="Petr"), make_employee(name="Limited Lena", role="limited")


def _direct(company_id, dialled, **extra):
    return {
        "company_id": company_id,
        "direction": "internal",
        "caller": "101",
        "caller_login": "101",
        "caller_domain": "demo.vpbx.test",
        "called": dialled["extension"],
        "started_at": "2026-11-23T10:00:00+00:00",
        "dialled_employee_id": dialled["id"],
        "dialled_employee_label": f"employee {dialled['extension']} {dialled['name']}",
        **extra,
    }


def _lines(client, admin, call_id):
    return client.get(f"/api/v1/calls?call_id={call_id}", headers=admin).get_json()


def _write(cfg, *batch):
    with vpbx_db.connect(cfg.database_url) as conn:
        for event in batch:
            apply(conn, event)


def test_r19_lines_of_direct_calls(cfg, client, admin, people, company_id):
    ivan, petr, _ = people
    dropped, forwarded_answered, forwarded_missed = _call_id(), _call_id(), _call_id()
    _write(
        cfg,
        {
            "type": "missed",
            "call_id": dropped,
            "at": "2026-11-23T10:02:00+00:00",
            "call": _direct(company_id, ivan),
            "legs": [_leg(1, ivan)],
            "reason": "no_answer",
        },
        {
            "type": "answered",
            "call_id": forwarded_answered,
            "at": 1795428040.0,  # 10:00:40 UTC, as kamailio.cfg writes it
            "call": _direct(company_id, ivan),
            "legs": [_leg(1, ivan), _leg(2, petr, "2026-11-23T10:00:30+00:00")],
            "answered_leg": 1,
        },
        {"type": "ended", "call_id": forwarded_answered, "at": "2026-11-23T10:01:40+00:00", "by": "caller"},
        {
            "type": "missed",
            "call_id": forwarded_missed,
            "at": "2026-11-23T10:01:00+00:00",
            "call": _direct(company_id, ivan),
            "legs": [_leg(1, ivan), _leg(2, petr)],
            "reason": "no_answer",
        },
    )

    [line] = _lines(client, admin, dropped)
    assert (line["status"], line["employee_id"], line["forwarded"]) == ("missed", ivan["id"], False)
    assert line["ring_seconds"] == 120
    [line] = _lines(client, admin, forwarded_answered)
    assert (line["status"], line["employee_id"], line["forwarded"]) == ("answered", petr["id"], True)
    assert (line["ring_seconds"], line["talk_seconds"]) == (40, 60)
    assert [leg["answered"] for leg in line["legs"]] == [False, True]
    [line] = _lines(client, admin, forwarded_missed)
    # Forwarded and not answered: missed by the first employee, the one dialled.
    assert (line["status"], line["employee_id"], line["forwarded"]) == ("missed", ivan["id"], True)


def test_the_first_outcome_stands_and_repeated_events_change_nothing(cfg, client, admin, people, company_id):
    ivan, petr, _ = people
    call_id = _call_id()
    answered = {
        "type": "answered",
        "call_id": call_id,
        "at": "2026-11-23T10:00:10+00:00",
        "call": _direct(company_id, ivan),
        "legs": [_leg(1, ivan)],
        "answered_leg": 0,
    }
    _write(
        cfg,
        answered,
        answered,
        {
            "type": "missed",
            "call_id": call_id,
            "at": "2026-11-23T10:00:20+00:00",
            "call": _direct(company_id, ivan),
            "legs": [_leg(1, ivan)],
            "reason": "rejected",
        },
        {"type": "ended", "call_id": call_id, "at": "2026-11-23T10:01:10+00:00", "by": "callee"},
        {"type": "ended", "call_id": call_id, "at": "2026-11-23T10:09:00+00:00", "by": "caller"},
    )

    [line] = _lines(client, admin, call_id)
    assert (line["status"], line["talk_seconds"], len(line["legs"])) == ("answered", 60, 1)


def test_a_limited_user_sees_only_their_own_calls(cfg, client, admin, people, company_id, token_for):
    ivan, _, lena = people
    theirs, not_theirs = _call_id(), _call_id()
    _write(
        cfg,
        {
            "type": "missed",
            "call_id": theirs,
            "at": "2026-11-23T10:00:30+00:00",
            "call": _direct(company_id, lena),
            "legs": [_leg(1, lena)],
            "reason": "no_answer",
        },
        {
            "type": "missed",
            "call_id": not_theirs,
            "at": "2026-11-23T10:00:30+00:00",
            "call": _direct(company_id, ivan),
            "legs": [_leg(1, ivan)],
            "reason": "no_answer",
        },
    )
    lena_headers, ivan_headers = token_for(lena["id"]), token_for(ivan["id"])

    def seen_by(headers) -> set[str]:
        # By Call-ID: the company's history holds every call the e2e tests made.
        return {
            line["call_id"]
            for call_id in (theirs, not_theirs)
            for line in client.get(f"/api/v1/calls?call_id={call_id}", headers=headers).get_json()
        }

    seen_by_lena, seen_by_ivan = seen_by(lena_headers), seen_by(ivan_headers)

    assert theirs in seen_by_lena and not_theirs not in seen_by_lena
    assert {theirs, not_theirs} <= seen_by_ivan  # a user sees the company's history
    one = _lines(client, admin, not_theirs)[0]["id"]
    assert client.get(f"/api/v1/calls/{one}", headers=lena_headers).status_code == 404


def test_another_company_never_sees_the_lines(cfg, client, admin, people, company_id, other_company):
    ivan = people[0]
    call_id = _call_id()
    _write(
        cfg,
        {
            "type": "missed",
            "call_id": call_id,
            "at": "2026-11-23T10:00:30+00:00",
            "call": _direct(company_id, ivan),
            "legs": [_leg(1, ivan)],
            "reason": "no_answer",
        },
    )

    assert client.get(f"/api/v1/calls?call_id={call_id}", headers=other_company["headers"]).get_json() == []


def test_filters_are_checked(client, admin):
    bad_status = client.get("/api/v1/calls?status=lost&limit=0", headers=admin)
    backwards = client.get(
        "/api/v1/calls?since=2026-11-23T10:00:00%2B00:00&until=2026-11-22T10:00:00%2B00:00", headers=admin
    )

    assert bad_status.status_code == backwards.status_code == 422
    assert set(bad_status.get_json()["error"]["fields"]) == {"status", "limit"}
    assert backwards.get_json()["error"]["fields"] == {"until": ["must be later than since"]}


def test_the_keeper_writes_what_was_emitted_while_it_was_down_and_skips_a_broken_event(
    cfg, stack, client, admin, people, company_id
):
    ivan = people[0]
    stream = redis.Redis.from_url(cfg.redis_url)
    call_id = _call_id()
    keeper = next(s for s in services(stack) if s.name == "history-keeper")
    assert keeper.stop()
    try:
        # One entry, as Kamailio's timer writes a batch: the broken events must not block the good one.
        stream.xadd(
            events.STREAM,
            events.entry(
                [
                    "{not json",
                    json.dumps({"type": "missed", "call_id": "x", "call": {}}),
                    json.dumps(
                        {
                            "type": "missed",
                            "call_id": call_id,
                            "at": "2026-11-23T10:00:30+00:00",
                            "call": _direct(company_id, ivan),
                            "legs": [_leg(1, ivan)],
                            "reason": "busy",
                        }
                    ),
                ]
            ),
        )
        assert _lines(client, admin, call_id) == []  # Kamailio never writes history itself
    finally:
        keeper.start()

    line = wait_for(lambda: _lines(client, admin, call_id), 10, "the keeper to write the line")[0]

    assert (line["status"], line["end_reason"]) == ("missed", "busy")
    # The broken events were acknowledged too, not retried forever.
    wait_for(lambda: stream.xpending(events.STREAM, "history-keeper")["pending"] == 0, 5, "nothing left pending")


def test_a_call_id_reused_by_a_later_call_gets_a_line_of_its_own(cfg, client, admin, people, company_id):
    ivan = people[0]
    call_id = _call_id()
    first = {
        "type": "answered",
        "call_id": call_id,
        "at": "2026-11-23T10:00:05+00:00",
        "call": _direct(company_id, ivan),
        "legs": [_leg(1, ivan)],
        "answered_leg": 0,
    }
    later = {
        **first,
        "at": "2026-11-24T10:00:05+00:00",
        "call": _direct(company_id, ivan, started_at="2026-11-24T10:00:00+00:00"),
    }
    _write(
        cfg,
        first,
        {"type": "ended", "call_id": call_id, "at": "2026-11-23T10:01:05+00:00", "by": "caller"},
        later,
        {"type": "ended", "call_id": call_id, "at": "2026-11-24T10:02:05+00:00", "by": "caller"},
    )

    lines = _lines(client, admin, call_id)
    assert [(line["started_at"][:10], line["talk_seconds"]) for line in lines] == [
        ("2026-11-24", 120),
        ("2026-11-23", 60),
    ]


def _incoming(company_id, **extra):
    return {
        "company_id": company_id,
        "direction": "incoming",
        "caller": "79161234567",
        "caller_login": None,
        "caller_domain": None,
        "called": "+74951112233",
        "started_at": "2026-11-23T10:00:00+00:00",
        "dialled_employee_id": None,
        "dialled_employee_label": None,
        **extra,
    }


def test_an_ivr_keys_leg_joins_the_callers_line_and_whoever_answers_it_makes_it_theirs(
    cfg, client, admin, people, company_id
):
    ivan, petr, _ = people
    call_id = _call_id()
    menu = _node_leg("IVR menu 4", "ivr:4")
    leg_call = {**_incoming(company_id, parent_call_id=call_id), "called": "ivr-4-2"}
    legs = [_leg(1, ivan, "2026-11-23T10:00:08+00:00"), _leg(2, petr, "2026-11-23T10:00:28+00:00")]
    answered_leg = {
        "type": "answered",
        "call_id": "leg@vpbx-media",
        "at": "2026-11-23T10:00:30+00:00",
        "call": leg_call,
        "legs": legs,
        "answered_leg": 1,
    }
    _write(
        cfg,
        {
            "type": "answered",
            "call_id": call_id,
            "at": "2026-11-23T10:00:01+00:00",
            "call": _incoming(company_id),
            "legs": [menu],
            "answered": {**menu, "rang_at": None},
        },
        answered_leg,
        answered_leg,  # delivered twice: nothing changes the second time
        {"type": "ended", "call_id": "leg@vpbx-media", "at": "2026-11-23T10:01:00+00:00", "by": "caller"},
        {"type": "ended", "call_id": call_id, "at": "2026-11-23T10:01:00+00:00", "by": "caller"},
    )

    [line] = _lines(client, admin, call_id)
    assert (line["status"], line["employee_id"], line["voicemail"]) == ("answered", petr["id"], False)
    assert [(leg["step"], leg["target"], leg["answered"]) for leg in line["legs"]] == [
        (1, "IVR menu 4", True),
        (2, f"employee {ivan['extension']} Ivan", False),
        (3, f"employee {petr['extension']} Petr", True),
    ]
    assert _lines(client, admin, "leg@vpbx-media") == []


def _outgoing(company_id, caller: str, started_at: str) -> dict:
    return {
        "company_id": company_id,
        "direction": "outgoing",
        "caller": caller,
        "caller_login": "101",
        "caller_domain": "demo.vpbx.test",
        "called": "+79161234567",
        "caller_id": "+74951112233",
        "started_at": started_at,
        "dialled_employee_id": None,
        "dialled_employee_label": None,
    }


@pytest.fixture
def exported_lines(db):
    """Call-IDs of lines a test writes, deleted after it: an export of their
    day then finds only the lines of the test that runs."""
    call_ids: list[str] = []
    yield call_ids
    db.execute("DELETE FROM calls WHERE call_id = ANY(%s)", (call_ids,))


def test_a_period_exports_as_csv_oldest_first_with_formulas_defused(cfg, client, admin, company_id, exported_lines):
    day = f"2031-0{secrets.randbelow(9) + 1}-1{secrets.randbelow(9)}"  # no other test writes lines on it
    first, second, other_day = _call_id(), _call_id(), _call_id()
    exported_lines += [first, second, other_day]
    _write(
        cfg,
        {
            "type": "missed",
            "call_id": second,
            "at": f"{day}T10:05:30+00:00",
            "call": _outgoing(company_id, '=HYPERLINK("http://attacker.example","x")', f"{day}T10:05:00+00:00"),
            "legs": [],
            "reason": "rejected",
        },
        {
            "type": "missed",
            "call_id": first,
            "at": f"{day}T09:00:20+00:00",
            "call": _outgoing(company_id, "+79990001122", f"{day}T09:00:00+00:00"),
            "legs": [],
            "reason": "no_answer",
        },
        {
            "type": "missed",
            "call_id": other_day,
            "at": "2030-01-01T09:00:20+00:00",
            "call": _outgoing(company_id, "101", "2030-01-01T09:00:00+00:00"),
            "legs": [],
            "reason": "no_answer",
        },
    )

    response = client.get(
        f"/api/v1/calls/export?since={day}T00:00:00%2B00:00&until={day}T23:59:59%2B00:00", headers=admin
    )

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="calls-{day}-{day}.csv"'
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["call_id"] for r in rows] == [first, second]
    assert (rows[0]["direction"], rows[0]["caller"], rows[0]["called"], rows[0]["caller_id"]) == (
        "outgoing",
        "+79990001122",
        "+79161234567",
        "+74951112233",
    )
    assert (rows[0]["status"], rows[0]["end_reason"], rows[0]["ring_seconds"]) == ("missed", "no_answer", "20.0")
    assert rows[1]["caller"] == '\'=HYPERLINK("http://attacker.example","x")'


@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        ("since=2031-01-02T00:00:00%2B00:00&until=2031-01-01T00:00:00%2B00:00", "until", "must be later than since"),
        (
            "since=2030-01-01T00:00:00%2B00:00&until=2031-06-01T00:00:00%2B00:00",
            "until",
            "a period of at most 366 days",
        ),
        ("until=2031-01-01T00:00:00%2B00:00", "since", "Missing data for required field."),
    ],
)
def test_an_export_needs_a_bounded_period(client, admin, query, field, reason):
    response = client.get(f"/api/v1/calls/export?{query}", headers=admin)
    assert response.status_code == 422
    assert error_fields(response)[field] == [reason]


def test_a_queue_event_delivered_twice_counts_once_and_the_talk_time_joins_it(cfg, client, admin, people, company_id):
    ivan, _, _ = people
    queue = client.post("/api/v1/queues", headers=admin, json={"name": f"History queue {_call_id()[:6]}"}).get_json()
    call_id = _call_id()
    menu = _node_leg("call queue", f"queue:{queue['id']}")
    left = {
        "type": "queue",
        "call_id": call_id,
        "queue_id": queue["id"],
        "company_id": company_id,
        "joined_at": _at(1),
        "left_at": _at(43.5),
        "outcome": "answered",
        "wait_s": 42.5,
        "employee_id": ivan["id"],
        "talk_s": None,
    }
    try:
        _write(
            cfg,
            {
                "type": "answered",
                "call_id": call_id,
                "at": _at(1),
                "call": _incoming(company_id),
                "legs": [menu],
                "answered": {**menu, "rang_at": None},
            },
            left,
            left,  # delivered twice
            {**left, "talk_s": 61.0},  # the end of the answered call
        )
        [line] = _lines(client, admin, call_id)
        day = {"since": CALLS_AT.replace(hour=0).isoformat(), "until": (CALLS_AT + timedelta(hours=14)).isoformat()}
        stats = client.get(f"/api/v1/queues/{queue['id']}/stats", query_string=day, headers=admin).get_json()
        with vpbx_db.connect(cfg.database_url) as conn:
            totals = conn.execute(
                "SELECT outcome, calls, wait_s FROM queue_totals WHERE queue_id = %s", (queue["id"],)
            ).fetchall()
    finally:
        client.delete(f"/api/v1/queues/{queue['id']}", headers=admin)

    assert line["queue"] == {
        "queue_id": queue["id"],
        "name": queue["name"],
        "wait_seconds": 42.5,
        "outcome": "answered",
        "callback_call_id": None,
        "callback_outcome": None,
        "callback_of": None,
    }
    assert totals == [{"outcome": "answered", "calls": 1, "wait_s": 42.5}]
    period = stats["period"]
    assert (period["offered"], period["answered"], period["answered_within_service_level"]) == (1, 1, 0)
    assert (period["average_wait_seconds"], period["average_talk_seconds"]) == (42.5, 61.0)
    assert period["agents"] == [{"employee_id": ivan["id"], "answered": 1, "talk_seconds": 61.0}]
    assert period["service_level_percent"] == 0.0


def test_the_statistics_of_a_period_count_its_calls_for_administrators_and_users_only(
    cfg, client, admin, people, company_id, token_for, make_employee
):
    ivan, _, lena = people
    # A minute no other test writes calls in.
    start = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(minutes=secrets.randbelow(1_000_000))

    def at(seconds: float) -> str:
        return (start + timedelta(seconds=seconds)).isoformat()

    answered, missed, busy = _call_id(), _call_id(), _call_id()
    leg = {**_leg(1, ivan, at(0))}
    _write(
        cfg,
        {
            "type": "answered",
            "call_id": answered,
            "at": at(10),
            "call": _incoming(company_id, started_at=at(0)),
            "legs": [leg],
            "answered_leg": 0,
        },
        {"type": "ended", "call_id": answered, "at": at(70), "by": "caller"},
        {
            "type": "missed",
            "call_id": missed,
            "at": at(30),
            "call": _incoming(company_id, started_at=at(1)),
            "legs": [leg],
            "reason": "no_answer",
        },
        {
            "type": "missed",
            "call_id": busy,
            "at": at(5),
            "call": _direct(company_id, ivan, started_at=at(2)),
            "legs": [leg],
            "reason": "busy",
        },
    )
    period = {"since": at(0), "until": at(60)}

    response = client.get("/api/v1/calls/stats", headers=admin, query_string=period)

    assert response.status_code == 200, response.get_json()
    stats = response.get_json()
    assert (stats["total"], stats["answered"], stats["missed"], stats["voicemail"]) == (3, 1, 2, 0)
    assert stats["by_direction"] == {
        "incoming": {"total": 2, "answered": 1, "missed": 1},
        "internal": {"total": 1, "answered": 0, "missed": 1},
    }
    assert stats["missed_by_reason"] == {"no_answer": 1, "busy": 1}
    assert (stats["average_ring_seconds"], stats["average_talk_seconds"]) == (10, 60)
    assert stats["employees"] == [
        {
            "employee_id": ivan["id"],
            "employee_label": f"employee {ivan['extension']} Ivan",
            "answered": 1,
            "missed": 1,  # the direct call dialled to him (R19)
            "talk_seconds": 60,
        }
    ]
    user = make_employee(name="User Uma")
    assert client.get("/api/v1/calls/stats", headers=token_for(user["id"]), query_string=period).status_code == 200
    limited = client.get("/api/v1/calls/stats", headers=token_for(lena["id"]), query_string=period)
    assert limited.status_code == 403
    assert client.get("/api/v1/calls/stats", headers=admin).status_code == 422  # a period is needed
