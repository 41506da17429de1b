from vpbx import db as vpbx_db


def test_all_migrations_are_applied_and_reapplying_is_a_no_op(cfg):
    assert vpbx_db.pending_migrations(cfg.database_url) == []
    assert vpbx_db.migrate(cfg.database_url) == []


def test_kamailio_finds_the_table_versions_it_checks(db):
    versions = {
        r["table_name"]: r["table_version"] for r in db.execute("SELECT table_name, table_version FROM version")
    }

    assert versions["location"] == 9
    assert versions["kamailio_subscriber"] == 7
    assert versions["kamailio_address"] == 6


def test_credentials_view_exposes_digests_only(db):
    columns = [
        r["column_name"]
        for r in db.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'kamailio_subscriber' "
            "ORDER BY ordinal_position"
        )
    ]

    assert columns == ["id", "username", "domain", "ha1", "ha1b"]
