import pytest

from vpbx import settings


def test_missing_config_variable_says_what_to_set(monkeypatch):
    monkeypatch.delenv(settings.CONFIG_ENV, raising=False)

    with pytest.raises(settings.SettingsError, match="VPBX_CONFIG is not set"):
        settings.load()


def test_missing_file_names_it(tmp_path):
    with pytest.raises(settings.SettingsError, match="no such file"):
        settings.load(tmp_path / "absent.toml")


def test_incomplete_file_names_the_missing_key(tmp_path):
    path = tmp_path / "vpbx.toml"
    path.write_text('database_url = "postgresql://x"\n')

    with pytest.raises(settings.SettingsError, match="redis_url"):
        settings.load(path)
