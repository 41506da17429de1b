"""IVR menus (R10) through the API, and seed 004's number with a self-service menu."""

import pytest

from .conftest import error_fields

DESK = {"kind": "sip_uri", "uri": "sip:desk@example.com"}


def test_a_menu_reads_back_as_written(client, admin, created, post):
    body = {
        "name": "Main",
        "greeting": {"kind": "tts", "text": "Press 1 for sales", "prompt_id": None},
        "timeout": 5,
        "invalid_key_tries": 2,
        "keys": {"1": DESK, "#": {"kind": "phone_number", "number": "+79161234567"}, "timeout": DESK},
    }

    menu = post("ivr-menus", body)

    assert {k: v for k, v in menu.items() if k != "id"} == body


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"keys": {"1": DESK}}, {"keys": {"timeout": ["a menu needs a default route for callers who press nothing"]}}),
        ({"keys": {"12": DESK, "timeout": DESK}}, {"keys": {"12": {"key": ["a key is 0-9, *, # or 'timeout'"]}}}),
        (
            {"greeting": {"kind": "tts"}, "keys": {"timeout": DESK}},
            {"greeting": {"text": ["text-to-speech needs the text to read"]}},
        ),
        (
            {"timeout": 0, "keys": {"timeout": DESK}},
            {"timeout": ["Must be greater than or equal to 1 and less than or equal to 60."]},
        ),
        (
            {"keys": {"timeout": {"kind": "department", "department_id": 99999999}}},
            {"keys": {"timeout": {"department_id": ["no department 99999999 in this company"]}}},
        ),
    ],
    ids=["no-default", "bad-key", "tts-without-text", "zero-timeout", "stranger-department"],
)
def test_a_bad_menu_is_refused(client, admin, body, expected):
    response = client.post("/api/v1/ivr-menus", headers=admin, json={"name": "Bad", **body})

    assert response.status_code == 422
    assert error_fields(response) == expected


def test_keys_may_lead_back_but_pressing_nothing_may_not_loop(client, admin, created, post):
    main = post("ivr-menus", {"name": "Main", "keys": {"timeout": DESK}})
    sub = post(
        "ivr-menus",
        {
            "name": "Sub",
            "keys": {
                "0": {"kind": "ivr", "ivr_menu_id": main["id"]},
                "timeout": {"kind": "ivr", "ivr_menu_id": main["id"]},
            },
        },
    )

    back = client.put(
        f"/api/v1/ivr-menus/{main['id']}",
        headers=admin,
        json={"name": "Main", "keys": {"9": {"kind": "ivr", "ivr_menu_id": sub["id"]}, "timeout": DESK}},
    )
    loop = client.put(
        f"/api/v1/ivr-menus/{main['id']}",
        headers=admin,
        json={"name": "Main", "keys": {"timeout": {"kind": "ivr", "ivr_menu_id": sub["id"]}}},
    )

    assert back.status_code == 200, back.get_json()
    assert loop.status_code == 422
    assert error_fields(loop) == {"keys": {"timeout": ["pressing nothing would loop: Main -> Sub -> Main"]}}


def test_another_companys_menu_is_out_of_reach(client, admin, created, other_company, post):
    menu = post("ivr-menus", {"name": "Private", "keys": {"timeout": DESK}})
    stranger = other_company["headers"]

    assert client.get(f"/api/v1/ivr-menus/{menu['id']}", headers=stranger).status_code == 404
    assert (
        client.put(
            f"/api/v1/ivr-menus/{menu['id']}", headers=stranger, json={"name": "Mine", "keys": {"timeout": DESK}}
        ).status_code
        == 404
    )
    assert client.delete(f"/api/v1/ivr-menus/{menu['id']}", headers=stranger).status_code == 404
    steal = client.post(
        "/api/v1/ivr-menus",
        headers=stranger,
        json={"name": "Steal", "keys": {"timeout": {"kind": "ivr", "ivr_menu_id": menu["id"]}}},
    )
    assert error_fields(steal) == {"keys": {"timeout": {"ivr_menu_id": [f"no IVR menu {menu['id']} in this company"]}}}


def test_seed_004_number_with_a_self_service_menu(client, admin, created, make_employee, post):
    """Seed 004: in working hours a self-service menu (keys to the sales department,
    an employee, fax, voicemail; no key in 5 s: the sales department); off hours voicemail."""
    seller = make_employee(name="Seller", email="seller@example.com")
    sales = post("departments", {"name": "Sales dept", "members": [seller["id"]]})
    box = post("voicemail-boxes", {"name": "Company box", "recipients": [{"department_id": sales["id"]}]})
    menu = post(
        "ivr-menus",
        {
            "name": "Self-service",
            "greeting": {"kind": "tts", "text": "Press 1 for sales, 2 for Seller, 9 to leave a message"},
            "keys": {
                "1": {"kind": "department", "department_id": sales["id"]},
                "2": {"kind": "employee", "employee_id": seller["id"]},
                "9": {"kind": "voicemail", "voicemail_box_id": box["id"]},
                "timeout": {"kind": "department", "department_id": sales["id"]},
            },
        },
    )
    hours = post(
        "schedules",
        {
            "name": "Company hours",
            "weekly": [{"day": d, "start": "09:00", "end": "18:00"} for d in ("mon", "tue", "wed", "thu", "fri")],
        },
    )
    assert client.patch("/api/v1/company", headers=admin, json={"schedule_id": hours["id"]}).status_code == 200
    try:
        day = post(
            "schemes",
            {
                "name": "Menu",
                "steps": [
                    {"mode": "parallel", "timeout": 60, "destinations": [{"kind": "ivr", "ivr_menu_id": menu["id"]}]}
                ],
            },
        )
        night = post(
            "schemes",
            {
                "name": "Answering machine",
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
                "number": "+74953334455",
                "mode": "by_schedule",
                "scheme_id": day["id"],
                "off_hours_scheme_id": night["id"],
            },
            key="number",
        )

        at_noon = client.get(
            "/api/v1/numbers/+74953334455/route", headers=admin, query_string={"at": "2026-11-24T12:00:00+03:00"}
        ).get_json()
        at_night = client.get(
            "/api/v1/numbers/+74953334455/route", headers=admin, query_string={"at": "2026-11-24T22:00:00+03:00"}
        ).get_json()

        assert (
            "schedule 'Company hours' is open on Tue 2026-11-24 12:00 Europe/Moscow: Tue 09:00-18:00"
            in at_noon["reasons"]
        )
        assert "scheme 'Menu'" in at_noon["reasons"]
        assert "scheme 'Answering machine'" in at_night["reasons"]
    finally:  # before the fixture deletes the schedule the company uses
        client.patch("/api/v1/company", headers=admin, json={"schedule_id": None})
