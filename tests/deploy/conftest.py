"""The deploy tests' sites: each deployed once per session from a clean state
by the playbook, and stopped at the end."""

from __future__ import annotations

import os

import pytest

from .ansible_run import PlaybookRun, fresh, playbook, tear_down

SINGLE_HOST = "127.0.1.11"


@pytest.fixture(scope="session")
def single_host() -> PlaybookRun:
    fresh([SINGLE_HOST])
    first = playbook("test-single-host", name="single-host-first")
    yield first
    if not os.environ.get("VPBX_KEEP_DEPLOYMENTS"):
        tear_down([SINGLE_HOST])
