"""Schedules through the API, and numbers and schemes that follow them."""

import pytest

from vpbx import db as vpbx_db

from .conftest import error_fields

OFFICE = {
    "name": "Office hours",
    "timezone": "Europe/Moscow",
    "weekly": [{"day": d, "start": "09:00", "end": "18:00"} for d in ("mon", "tue", "wed", "thu", "fri")],
    "exceptions": [
        {"start": "2026-12-31", "end": "2027-01-08", "closed": True},
        {"start": "2027-02-20", "end": "2027-02-20", "closed": False, "hours": {"start": "10:00", "end": "15:00"}},
    ],
}


def test_a_schedule_reads_back_as_written(client, admin, created, post):
    schedule = post("schedules", OFFICE)

    assert {k: v for k, v in schedule.items() if k != "id"} == {
        **OFFICE,
        "exceptions": [{**OFFICE["exceptions"][0], "hours": None}, OFFICE["exceptions"][1]],
    }


BAD = {
    "inverted": (
        {"weekly": [{"day": "mon", "start": "18:00", "end": "09:00"}]},
        ["weekly", "0", "end"],
        "ends before it starts (split a night shift at midnight)",
    ),
    "overlapping": (
        {
            "weekly": [
                {"day": "mon", "start": "09:00", "end": "13:00"},
                {"day": "mon", "start": "12:00", "end": "18:00"},
            ]
        },
        ["weekly", "1", "start"],
        "overlaps mon 09:00-13:00",
    ),
    "bad-clock": (
        {"weekly": [{"day": "mon", "start": "9:00", "end": "25:00"}]},
        ["weekly", "0", "start"],
        "a time of day as HH:MM, 00:00 to 24:00",
    ),
    "bad-day": (
        {"weekly": [{"day": "monday", "start": "09:00", "end": "18:00"}]},
        ["weekly", "0", "day"],
        "Must be one of: mon, tue, wed, thu, fri, sat, sun.",
    ),
    "bad-timezone": (
        {"timezone": "Mars/Olympus"},
        ["timezone"],
        "unknown timezone 'Mars/Olympus': use an IANA name such as 'Europe/Moscow'",
    ),
    "exception-inverted": (
        {"exceptions": [{"start": "2027-01-08", "end": "2027-01-01"}]},
        ["exceptions", "0", "end"],
        "ends before it starts",
    ),
    "working-day-without-hours": (
        {"exceptions": [{"start": "2027-02-20", "end": "2027-02-20", "closed": False}]},
        ["exceptions", "0", "hours"],
        "an extra working day needs its hours",
    ),
    "holiday-with-hours": (
        {"exceptions": [{"start": "2027-01-01", "end": "2027-01-01", "hours": {"start": "10:00", "end": "12:00"}}]},
        ["exceptions", "0", "hours"],
        "a holiday has no hours",
    ),
    "exceptions-overlap": (
        {"exceptions": [{"start": "2027-01-01", "end": "2027-01-08"}, {"start": "2027-01-05", "end": "2027-01-10"}]},
        ["exceptions", "1", "start"],
        "overlaps the exception 2027-01-01..2027-01-08",
    ),
}


@pytest.mark.parametrize("change, path, reason", BAD.values(), ids=BAD.keys())
def test_a_bad_schedule_is_refused_and_nothing_is_stored(client, admin, db, change, path, reason):
    before = db.execute("SELECT count(*) AS n FROM schedules").fetchone()["n"]

    response = client.post("/api/v1/schedules", headers=admin, json={"name": "Bad", **change})

    assert response.status_code == 422
    node = error_fields(response)
    for part in path:
        node = node[part]
    assert reason in node
    assert db.execute("SELECT count(*) AS n FROM schedules").fetchone()["n"] == before


def test_another_companys_schedule_is_invisible(client, admin, created, other_company, post):
    schedule = post("schedules", OFFICE)

    assert client.get(f"/api/v1/schedules/{schedule['id']}", headers=other_company["headers"]).status_code == 404
    response = client.patch("/api/v1/company", headers=other_company["headers"], json={"schedule_id": schedule["id"]})
    assert response.status_code == 422
    assert error_fields(response) == {"schedule_id": [f"no schedule {schedule['id']} in this company"]}


def test_a_schedule_in_use_cannot_be_deleted(client, admin, created, post):
    schedule = post("schedules", OFFICE)
    step = {"mode": "parallel", "timeout": 30, "destinations": [{"kind": "sip_uri", "uri": "sip:a@example.com"}]}
    post("schemes", {"name": "Daytime", "steps": [step], "active_schedule_id": schedule["id"]})

    response = client.delete(f"/api/v1/schedules/{schedule['id']}", headers=admin)

    assert response.status_code == 422
    assert error_fields(response) == {"id": ["in use by scheme 'Daytime': change them first"]}


def test_backup_schemes_cannot_loop(client, admin, created, post):
    step = {"mode": "parallel", "timeout": 30, "destinations": [{"kind": "sip_uri", "uri": "sip:a@example.com"}]}
    first = post("schemes", {"name": "First", "steps": [step]})
    second = post("schemes", {"name": "Second", "steps": [step], "backup_scheme_id": first["id"]})

    response = client.put(
        f"/api/v1/schemes/{first['id']}",
        headers=admin,
        json={"name": "First", "steps": [step], "backup_scheme_id": second["id"]},
    )

    assert response.status_code == 422
    assert error_fields(response) == {"backup_scheme_id": ["the backups loop: First -> Second -> First"]}


def test_a_number_by_schedule_needs_an_off_hours_scheme_and_a_schedule(client, admin):
    scheme_id = client.get("/api/v1/schemes", headers=admin).get_json()[0]["id"]

    no_off_hours = client.post(
        "/api/v1/numbers", headers=admin, json={"number": "+74950009988", "mode": "by_schedule", "scheme_id": scheme_id}
    )
    no_schedule = client.post(
        "/api/v1/numbers",
        headers=admin,
        json={
            "number": "+74950009988",
            "mode": "by_schedule",
            "scheme_id": scheme_id,
            "off_hours_scheme_id": scheme_id,
        },
    )

    assert error_fields(no_off_hours) == {
        "off_hours_scheme_id": ["a number that works by schedule needs an off-hours scheme"]
    }
    assert error_fields(no_schedule) == {"schedule_id": ["the company has no work schedule: give the number its own"]}


def test_seed_002_example_routes_by_the_clock(cfg, client, admin, created, make_employee, post):
    """Seed 002: Mon-Fri 09:00-18:00 the sales manager's SIP account, then the head of
    sales' mobile through the outbound trunk; outside hours another route."""
    manager = make_employee(name="Sales Manager", extension="210")
    head = make_employee(name="Head of Sales", extension="211", mobile="+79161112233")
    schedule = post(
        "schedules",
        {
            "name": "Sales hours",
            "weekly": [{"day": d, "start": "09:00", "end": "18:00"} for d in ("mon", "tue", "wed", "thu", "fri")],
        },
    )
    night = post(
        "schemes",
        {
            "name": "Night desk",
            "steps": [
                {
                    "mode": "parallel",
                    "timeout": 15,
                    "destinations": [{"kind": "sip_uri", "uri": "sip:night@example.com"}],
                }
            ],
        },
    )
    sales = post(
        "schemes",
        {
            "name": "Sales",
            "steps": [
                {
                    "mode": "sequential",
                    "timeout": 30,
                    "destinations": [{"kind": "employee", "employee_id": manager["id"]}],
                },
                {
                    "mode": "sequential",
                    "timeout": 30,
                    "destinations": [{"kind": "phone_number", "number": head["mobile"]}],
                },
            ],
        },
    )
    post(
        "numbers",
        {
            "number": "+7 (495) 222-33-44",
            "mode": "by_schedule",
            "schedule_id": schedule["id"],
            "scheme_id": sales["id"],
            "off_hours_scheme_id": night["id"],
        },
        key="number",
    )

    day = client.get(
        "/api/v1/numbers/+74952223344/route", headers=admin, query_string={"at": "2026-11-23T10:00:00+03:00"}
    ).get_json()
    night_call = client.get(
        "/api/v1/numbers/+74952223344/route", headers=admin, query_string={"at": "2026-11-23T23:00:00+03:00"}
    ).get_json()

    assert [[t["label"] for t in s["targets"]] for s in day["steps"]] == [
        ["employee 210 Sales Manager"],
        ["phone +79161112233"],
    ]
    assert "schedule 'Sales hours' is open on Mon 2026-11-23 10:00 Europe/Moscow: Mon 09:00-18:00" in day["reasons"]
    assert "step 2: ring phone +79161112233 through the outbound trunk" in day["reasons"]
    assert [t["uri"] for s in night_call["steps"] for t in s["targets"]] == ["sip:night@example.com"]
    assert "off hours: the off-hours scheme applies" in night_call["reasons"]
    # The same, as data a client reads without parsing the reasons.
    assert (day["open"], day["scheme"]) == (True, {"id": sales["id"], "name": "Sales", "chosen_as": "working"})
    [check] = day["schedules"]
    assert check == {
        "for": "number",
        "schedule_id": schedule["id"],
        "schedule": "Sales hours",
        "timezone": "Europe/Moscow",
        "local_time": "2026-11-23T10:00+03:00",
        "open": True,
        "decided_by": {"kind": "weekly", "day": "mon", "start": "09:00", "end": "18:00"},
        "reason": "schedule 'Sales hours' is open on Mon 2026-11-23 10:00 Europe/Moscow: Mon 09:00-18:00",
    }
    with vpbx_db.connect(cfg.database_url) as conn:
        gateways = conn.execute("SELECT count(*) AS n FROM trunks WHERE outbound").fetchone()["n"]
    # The head of sales' mobile rings through an outbound trunk: explain warns when there is none.
    assert day["warnings"] == (
        []
        if gateways
        else ["no outbound trunk exists: the steps' phone numbers cannot be rung (the call gets 480 there)"]
    )
    assert night_call["warnings"] == []
    assert (night_call["open"], night_call["scheme"]["chosen_as"]) == (False, "off_hours")
    assert night_call["schedules"][0]["decided_by"] is None  # no interval covers 23:00
    # A "+" left unencoded in the query reaches the API as a space: read as the "+" it was.
    unencoded = client.get("/api/v1/numbers/+74952223344/route?at=2026-11-23T10:00:00+03:00", headers=admin)
    assert unencoded.status_code == 200, unencoded.get_json()
    assert unencoded.get_json()["at"] == day["at"]


def test_seed_001_scenario(client, admin, post, make_employee):
    """Seed 001: in working hours ring one to three numbers at once; after N seconds
    without an answer the head of sales' mobile; then the answering machine.
    Outside working hours, the answering machine with its greeting."""
    head = make_employee(name="Head of Sales", email="head@example.com", mobile="+79163334455")
    hours = post(
        "schedules",
        {
            "name": "Weekdays",
            "timezone": "Europe/Moscow",
            "weekly": [{"day": d, "start": "09:00", "end": "19:00"} for d in ("mon", "tue", "wed", "thu", "fri")],
        },
    )
    box = post("voicemail-boxes", {"name": "Answering machine", "recipients": [{"employee_id": head["id"]}]})
    working = post(
        "schemes",
        {
            "name": "Sales first",
            "steps": [
                {
                    "mode": "parallel",
                    "timeout": 20,
                    "destinations": [
                        {"kind": "phone_number", "number": "+74950001111"},
                        {"kind": "phone_number", "number": "+74950002222"},
                        {"kind": "phone_number", "number": "+74950003333"},
                    ],
                },
                {
                    "mode": "parallel",
                    "timeout": 30,
                    "destinations": [{"kind": "phone_number", "number": head["mobile"]}],
                },
                {
                    "mode": "parallel",
                    "timeout": 15,
                    "destinations": [{"kind": "voicemail", "voicemail_box_id": box["id"]}],
                },
            ],
        },
    )
    night = post(
        "schemes",
        {
            "name": "Night machine",
            "steps": [
                {
                    "mode": "parallel",
                    "timeout": 15,
                    "destinations": [{"kind": "voicemail", "voicemail_box_id": box["id"]}],
                }
            ],
        },
    )
    post(
        "numbers",
        {
            "number": "+74954445566",
            "mode": "by_schedule",
            "schedule_id": hours["id"],
            "scheme_id": working["id"],
            "off_hours_scheme_id": night["id"],
        },
        key="number",
    )

    day = client.get(
        "/api/v1/numbers/+74954445566/route", headers=admin, query_string={"at": "2026-11-23T18:59:00+03:00"}
    ).get_json()
    evening = client.get(
        "/api/v1/numbers/+74954445566/route", headers=admin, query_string={"at": "2026-11-23T19:00:00+03:00"}
    ).get_json()

    assert "scheme 'Sales first'" in day["reasons"]
    assert "scheme 'Night machine'" in evening["reasons"]
    assert "schedule 'Weekdays' is closed on Mon 2026-11-23 19:00 Europe/Moscow" in evening["reasons"]
