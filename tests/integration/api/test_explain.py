"""GET /numbers/{number}/route: the plan a call would follow, from the routing code Kamailio runs."""


def test_explain_lists_each_step_with_targets_and_reasons(client, admin, demo):
    response = client.get(
        f"/api/v1/numbers/{demo['number']}/route",
        query_string={"caller": "+79161234567", "at": "2026-11-23T10:00:00+03:00"},
        headers=admin,
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["number"] == demo["number"]
    assert body["at"] == "2026-11-23T10:00:00+03:00"
    ids = {e["extension"]: e["id"] for e in client.get("/api/v1/employees", headers=admin).get_json()}
    phone = {"via_location": True, "via_trunk": False, "node": None, "department_id": None}
    assert body["steps"] == [
        {
            "mode": "parallel",
            "timeout": 30,
            "targets": [
                {
                    "uri": "sip:101@demo.vpbx.test",
                    "label": "employee 101 Anna Sales",
                    "employee_id": ids["101"],
                    **phone,
                },
                {
                    "uri": "sip:102@demo.vpbx.test",
                    "label": "employee 102 Boris Support",
                    "employee_id": ids["102"],
                    **phone,
                },
            ],
        }
    ]
    assert "step 1: ring employee 101 Anna Sales" in body["reasons"]


def test_explain_accepts_the_number_in_national_format(client, admin):
    response = client.get("/api/v1/numbers/84951112233/route", headers=admin)

    assert response.status_code == 200
    assert response.get_json()["number"] == "+74951112233"


def test_explain_refuses_a_moment_without_a_timezone(client, admin, demo):
    response = client.get(
        f"/api/v1/numbers/{demo['number']}/route", query_string={"at": "2026-11-23T10:00:00"}, headers=admin
    )

    assert response.status_code == 422
    assert "at" in response.get_json()["error"]["fields"]


def test_a_secretary_rings_like_the_employee_and_the_crm_kind_has_its_place(client, admin, make_employee):
    secretary = make_employee(name="Secretary")
    scheme = client.post(
        "/api/v1/schemes",
        headers=admin,
        json={
            "name": "Front desk",
            "steps": [
                {"mode": "parallel", "timeout": 20, "destinations": [{"kind": "responsible_manager"}]},
                {
                    "mode": "parallel",
                    "timeout": 40,
                    "destinations": [{"kind": "secretary", "employee_id": secretary["id"]}],
                },
            ],
        },
    )
    assert scheme.status_code == 201, scheme.get_json()
    assert (
        client.post(
            "/api/v1/numbers", headers=admin, json={"number": "+74958880022", "scheme_id": scheme.get_json()["id"]}
        ).status_code
        == 201
    )
    try:
        plan = client.get("/api/v1/numbers/+74958880022/route", headers=admin).get_json()
    finally:
        client.delete("/api/v1/numbers/+74958880022", headers=admin)
        client.delete(f"/api/v1/schemes/{scheme.get_json()['id']}", headers=admin)

    assert [(s["timeout"], [(t["label"], t["node"]) for t in s["targets"]]) for s in plan["steps"]] == [
        (20, [("responsible manager", "responsible_manager")]),
        (40, [(f"employee {secretary['extension']} Secretary", None)]),
    ]
    assert (
        "step 1: responsible manager: the CRM names the caller's manager when the call arrives (R16)" in plan["reasons"]
    )
    assert f"step 2: ring employee {secretary['extension']} Secretary (secretary)" in plan["reasons"]
