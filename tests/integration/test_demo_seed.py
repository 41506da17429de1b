import json

from vpbx.config import demo
from vpbx.config.credentials import ha1
from vpbx.stack.manager import credentials_file


def _employees(db):
    return db.execute(
        "SELECT e.id, e.extension, e.sip_ha1 FROM employees e JOIN companies c ON c.id = e.company_id "
        "WHERE c.sip_domain = %s ORDER BY e.extension",
        (demo.DEMO_DOMAIN,),
    ).fetchall()


def _counts(db):
    return {
        table: db.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"]
        for table in ("companies", "employees", "schemes", "scheme_steps", "step_destinations", "numbers", "trunks")
    }


def test_seeding_again_changes_nothing(stack, db):
    before_rows, before_counts = _employees(db), _counts(db)
    before_file = credentials_file(stack).read_text()

    demo.seed(db, credentials_file(stack), stack.ports.demo_trunk)

    assert _employees(db) == before_rows
    assert _counts(db) == before_counts
    assert json.loads(credentials_file(stack).read_text()) == json.loads(before_file)


def test_stored_digest_matches_the_password_handed_out(stack, db):
    accounts = json.loads(credentials_file(stack).read_text())["accounts"]
    stored = {r["extension"]: r["sip_ha1"] for r in _employees(db)}

    assert {a["extension"] for a in accounts} == {"101", "102"}
    for account in accounts:
        assert stored[account["extension"]] == ha1(account["login"], demo.DEMO_DOMAIN, account["password"])


def test_a_lost_or_stale_credentials_file_resets_the_demo_passwords(stack, db, tmp_path):
    before = {r["extension"]: r["sip_ha1"] for r in _employees(db)}
    saved = db.execute("SELECT id, sip_ha1, sip_ha1b FROM employees").fetchall()
    elsewhere = tmp_path / "demo-credentials.json"
    stale = tmp_path / "stale-credentials.json"
    stale.write_text(credentials_file(stack).read_text())

    accounts = demo.seed(db, elsewhere, stack.ports.demo_trunk)
    try:
        after = {r["extension"]: r["sip_ha1"] for r in _employees(db)}
        assert all(after[x] != before[x] for x in before)
        for account in accounts:
            assert after[account.extension] == ha1(account.login, demo.DEMO_DOMAIN, account.password)
        # A file whose passwords no longer match the database is not believed either.
        reseeded = demo.seed(db, stale, stack.ports.demo_trunk)
        stored = {r["extension"]: r["sip_ha1"] for r in _employees(db)}
        for account in reseeded:
            assert stored[account.extension] == ha1(account.login, demo.DEMO_DOMAIN, account.password)
    finally:
        # Put the session's passwords back for the other tests.
        for row in saved:
            db.execute(
                "UPDATE employees SET sip_ha1 = %s, sip_ha1b = %s WHERE id = %s",
                (row["sip_ha1"], row["sip_ha1b"], row["id"]),
            )
