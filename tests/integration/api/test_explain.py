"""GET /numbers/{number}/route: the plan a call would follow, from the routing code Kamailio runs."""


def test_explain_lists_each_step_with_targets_and_reasons(client, admin, demo):
    response = client.get(f"/api/v1/numbers/{demo['number']}/route",
                          query_string={"caller": "+79161234567", "at": "2026-11-23T10:00:00+03:00"},
                          headers=admin)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["number"] == demo["number"]
    assert body["at"] == "2026-11-23T10:00:00+03:00"
    assert body["steps"] == [{"mode": "parallel", "timeout": 30, "targets": [
        {"uri": "sip:101@demo.vpbx.test", "label": "employee 101 Anna Sales", "via_location": True},
        {"uri": "sip:102@demo.vpbx.test", "label": "employee 102 Boris Support", "via_location": True},
    ]}]
    assert "step 1: ring employee 101 Anna Sales" in body["reasons"]


def test_explain_accepts_the_number_in_national_format(client, admin):
    response = client.get("/api/v1/numbers/84951112233/route", headers=admin)

    assert response.status_code == 200
    assert response.get_json()["number"] == "+74951112233"


def test_explain_refuses_a_moment_without_a_timezone(client, admin, demo):
    response = client.get(f"/api/v1/numbers/{demo['number']}/route",
                          query_string={"at": "2026-11-23T10:00:00"}, headers=admin)

    assert response.status_code == 422
    assert "at" in response.get_json()["error"]["fields"]
