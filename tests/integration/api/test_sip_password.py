from vpbx.config.credentials import ha1


def test_a_new_sip_password_is_shown_once_and_only_its_digest_is_kept(client, admin, db, make_employee):
    employee = make_employee(extension="3456")
    assert len(employee["sip_password"]) == 20

    response = client.post(f"/api/v1/employees/{employee['id']}/sip-password", headers=admin)

    assert response.status_code == 201
    new = response.get_json()
    assert new["sip_login"] == "3456" and new["sip_domain"] == "demo.vpbx.test"
    assert new["sip_password"] != employee["sip_password"]
    stored = db.execute("SELECT sip_ha1 FROM employees WHERE id = %s", (employee["id"],)).fetchone()["sip_ha1"]
    assert stored == ha1("3456", "demo.vpbx.test", new["sip_password"])
    shown_again = client.get(f"/api/v1/employees/{employee['id']}", headers=admin).get_json()
    assert "sip_password" not in shown_again


def test_passwords_are_unique_per_employee(make_employee):
    passwords = {make_employee()["sip_password"] for _ in range(5)}

    assert len(passwords) == 5
