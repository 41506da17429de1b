"""SIP accounts of devices that belong to no employee."""

from vpbx.config.credentials import ha1

from .conftest import error_fields


def test_an_account_gets_a_password_shown_once_and_kamailio_sees_its_digest(client, admin, db, post):
    account = post("sip-accounts", {"name": "Door phone", "sip_login": "door"})

    assert len(account["sip_password"]) == 20
    row = db.execute(
        "SELECT ha1 FROM kamailio_subscriber WHERE username = 'door' AND domain = 'demo.vpbx.test'"
    ).fetchone()
    assert row["ha1"] == ha1("door", "demo.vpbx.test", account["sip_password"])
    assert "sip_password" not in client.get(f"/api/v1/sip-accounts/{account['id']}", headers=admin).get_json()


def test_logins_are_unique_across_employees_and_accounts(client, admin, post, make_employee):
    post("sip-accounts", {"name": "Fax", "sip_login": "fax"})

    employee_clash = client.post(
        "/api/v1/employees", headers=admin, json={"name": "Faxer", "extension": "7001", "sip_login": "fax"}
    )
    account_clash = client.post("/api/v1/sip-accounts", headers=admin, json={"name": "Lobby", "sip_login": "101"})

    assert error_fields(employee_clash) == {"sip_login": ["fax is already used by SIP account Fax"]}
    assert error_fields(account_clash) == {"sip_login": ["101 is already used by Anna Sales"]}


def test_an_account_is_a_destination(client, admin, post):
    account = post("sip-accounts", {"name": "Lobby phone", "sip_login": "lobby"})
    scheme = post(
        "schemes",
        {
            "name": "Lobby",
            "steps": [
                {
                    "mode": "parallel",
                    "timeout": 30,
                    "destinations": [{"kind": "sip_account", "sip_account_id": account["id"]}],
                }
            ],
        },
    )
    post("numbers", {"number": "+74959990033", "scheme_id": scheme["id"]}, key="number")

    plan = client.get("/api/v1/numbers/+74959990033/route", headers=admin).get_json()

    assert plan["steps"][0]["targets"] == [
        {
            "uri": "sip:lobby@demo.vpbx.test",
            "label": "SIP account Lobby phone",
            "via_location": True,
            "via_trunk": False,
            "node": None,
            "employee_id": None,
            "department_id": None,
        }
    ]


def test_another_company_cannot_reach_an_account(client, post, other_company):
    account = post("sip-accounts", {"name": "Private", "sip_login": "private"})
    url = f"/api/v1/sip-accounts/{account['id']}"
    stranger = other_company["headers"]

    assert client.get(url, headers=stranger).status_code == 404
    assert client.put(url, headers=stranger, json={"name": "Mine", "sip_login": "mine"}).status_code == 404
    assert client.post(f"{url}/sip-password", headers=stranger).status_code == 404
    assert client.delete(url, headers=stranger).status_code == 404
