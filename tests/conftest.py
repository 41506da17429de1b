"""Shared fixtures. Integration and e2e tests run against one fresh stack of the
``test`` profile (its own ports and run directory), so a dev stack started with
``make up`` is never touched."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from vpbx import db as vpbx_db
from vpbx import settings as vpbx_settings
from vpbx.stack import manager
from vpbx.stack.profile import profile as load_profile

TESTS = Path(__file__).parent


def pytest_collection_modifyitems(items):
    for item in items:
        kind = Path(item.fspath).relative_to(TESTS).parts[0]
        if kind in ("unit", "integration", "e2e", "security", "deploy"):
            item.add_marker(getattr(pytest.mark, kind))


def _quiet(_line: str) -> None:
    pass


@pytest.fixture(scope="session")
def stack():
    # Another profile's ports (VPBX_TEST_PROFILE=test2) let a second checkout's
    # tests run beside a suite already running.
    profile = load_profile(os.environ.get("VPBX_TEST_PROFILE", "test"))
    manager.down(profile, say=_quiet)
    shutil.rmtree(profile.run_dir, ignore_errors=True)  # a fresh database every run
    manager.up(profile, say=_quiet)
    yield profile
    if not os.environ.get("VPBX_KEEP_TEST_STACK"):
        manager.down(profile, say=_quiet)


@pytest.fixture(scope="session")
def cfg(stack) -> vpbx_settings.Settings:
    return vpbx_settings.load(stack.config_path)


@pytest.fixture
def db(cfg):
    with vpbx_db.connect(cfg.database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def demo(stack) -> dict:
    """The demo company's number and SIP accounts (with their one-time passwords)."""
    return json.loads(manager.credentials_file(stack).read_text())
