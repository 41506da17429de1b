import secrets
from datetime import UTC, datetime, timedelta

import pytest
import redis

from vpbx import documents
from vpbx.config import compile as compiler
from vpbx.config import demo
from vpbx.config.companies import create_company


@pytest.fixture
def cache(cfg):
    client = redis.Redis.from_url(cfg.redis_url)
    yield client
    client.close()


def test_demo_number_compiles_to_one_self_contained_document(db):
    document = compiler.compile_number(db, demo.DEMO_NUMBER)

    assert document["number"] == demo.DEMO_NUMBER
    assert document["company"]["domain"] == demo.DEMO_DOMAIN
    assert (document["mode"], document["schedule"], document["off_hours"]) == ("always", None, None)
    working = document["working"]
    assert (working["name"], working["active"], working["backup"]) == ("Ring everyone", None, None)
    assert [(s["mode"], s["timeout"]) for s in working["steps"]] == [("parallel", 30)]
    assert [d["employee"]["extension"] for d in working["steps"][0]["destinations"]] == ["101", "102"]


def test_an_unknown_number_compiles_to_nothing(db):
    assert compiler.compile_number(db, "+70000000000") is None


def test_rebuild_writes_every_number_and_drops_stale_documents(db, cache):
    stale = documents.number_key("+70000000000")
    cache.set(stale, "{}")
    cache.delete(documents.number_key(demo.DEMO_NUMBER))

    count = compiler.rebuild_all(db, cache)

    assert count == db.execute("SELECT count(*) AS n FROM numbers").fetchone()["n"]
    assert cache.get(stale) is None
    version, stored = documents.decode_document(cache.get(documents.number_key(demo.DEMO_NUMBER)))
    assert stored["number"] == demo.DEMO_NUMBER
    assert version == str(stored["version"]).encode()
    assert cache.get(documents.GENERATION_KEY) is not None


def test_company_document_maps_extensions_to_sip_logins(db):
    document = compiler.compile_company(db, demo.DEMO_DOMAIN)

    assert document["company"]["domain"] == demo.DEMO_DOMAIN
    assert {x: e["login"] for x, e in document["extensions"].items()} == {"101": "101", "102": "102"}


def test_rebuild_drops_documents_of_companies_that_no_longer_exist(db, cache):
    stale = documents.company_key("gone.vpbx.test")
    cache.set(stale, "{}")

    compiler.rebuild_all(db, cache)

    assert cache.get(stale) is None
    assert documents.decode_document(cache.get(documents.company_key(demo.DEMO_DOMAIN)))[1]["extensions"]


def test_rebuild_restores_the_crm_clients_and_drops_those_of_gone_companies(db, cache):
    company = db.execute("SELECT id FROM companies WHERE sip_domain = %s", (demo.DEMO_DOMAIN,)).fetchone()["id"]
    anna = db.execute("SELECT id FROM employees WHERE company_id = %s AND extension = '101'", (company,)).fetchone()
    db.execute(
        "INSERT INTO crm_clients (company_id, phone, employee_id) VALUES (%s, '+79165550000', %s)",
        (company, anna["id"]),
    )
    try:
        cache.delete(documents.CRM_CLIENTS_KEY_PREFIX + str(company))
        cache.hset(documents.CRM_CLIENTS_KEY_PREFIX + "999999", "+79160000000", 1)

        compiler.rebuild_all(db, cache)

        assert cache.hgetall(documents.CRM_CLIENTS_KEY_PREFIX + str(company)) == {
            b"+79165550000": str(anna["id"]).encode()
        }
        assert not cache.exists(documents.CRM_CLIENTS_KEY_PREFIX + "999999")
    finally:
        db.execute("DELETE FROM crm_clients WHERE phone = '+79165550000'")
        compiler.rebuild_all(db, cache)


def test_the_directory_names_every_employee_department_scheme_and_webhook_by_id(db):
    directory = compiler.compile_company_documents(db, demo.DEMO_DOMAIN)[documents.directory_key(demo.DEMO_DOMAIN)]

    assert {e["extension"] for e in directory["employees"].values()} == {"101", "102"}
    assert all(key == str(e["id"]) for key, e in directory["employees"].items())
    assert "Ring everyone" in {s["name"] for s in directory["schemes"].values()}
    assert all(key == str(w["id"]) and w["secret"] for key, w in directory["webhooks"].items())


@pytest.mark.parametrize(
    "tz, kept",
    [
        # 2026-12-02T14:00Z is 06:00 on Dec 2 in Los Angeles: an absence ending that day still counts...
        ("America/Los_Angeles", True),
        # ...and midnight starting Dec 3 in Vladivostok: it is over there.
        ("Asia/Vladivostok", False),
    ],
)
def test_an_absence_is_kept_until_its_last_day_is_over_in_the_company_timezone(db, tz, kept):
    domain = f"tz-{secrets.token_hex(4)}.vpbx.test"
    company = create_company(
        db, name=f"TZ {domain}", sip_domain=domain, timezone=tz, admin_name="Admin", admin_extension="100"
    )
    vacation = ["vacation", "2026-11-20", "2026-12-02"]
    try:
        db.execute(
            """INSERT INTO employee_absences (employee_id, kind, start_date, end_date)
                      VALUES (%s, 'vacation', '2026-11-20', '2026-12-02')""",
            (company.admin_id,),
        )
        at = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)

        at_boundary = compiler.compile_company(db, domain, at)["extensions"]["100"]["absences"]
        a_minute_earlier = compiler.compile_company(db, domain, at - timedelta(minutes=1))["extensions"]["100"]

        assert at_boundary == ([vacation] if kept else [])
        # 23:59 on Dec 2 in Vladivostok, 05:59 in Los Angeles: Dec 2 in both.
        assert a_minute_earlier["absences"] == [vacation]
    finally:
        db.execute("DELETE FROM companies WHERE id = %s", (company.company_id,))


@pytest.fixture
def menu(db):
    """An IVR menu of the demo company, deleted afterwards."""
    row = db.execute(
        """INSERT INTO ivr_menus (company_id, name)
           SELECT id, %s FROM companies WHERE sip_domain = %s RETURNING id""",
        (f"compile-{secrets.token_hex(3)}", demo.DEMO_DOMAIN),
    ).fetchone()
    yield row["id"]
    db.execute("DELETE FROM ivr_menus WHERE id = %s", (row["id"],))


def test_every_ivr_key_is_compiled_with_where_it_leads(db, menu):
    anna = db.execute("SELECT id FROM employees WHERE extension = '101' AND sip_login = '101'").fetchone()["id"]
    db.execute("INSERT INTO ivr_keys (menu_id, key, kind, employee_id) VALUES (%s, '*', 'secretary', %s)", (menu, anna))
    db.execute("INSERT INTO ivr_keys (menu_id, key, kind, ivr_menu_id) VALUES (%s, '4', 'ivr', %s)", (menu, menu))

    keys = compiler.compile_company(db, demo.DEMO_DOMAIN)["ivr_keys"]

    assert keys[f"{menu}-star"]["kind"] == "secretary"
    assert keys[f"{menu}-star"]["employee"]["extension"] == "101"
    assert keys[f"{menu}-4"] == {"kind": "ivr", "ivr_menu_id": menu}
