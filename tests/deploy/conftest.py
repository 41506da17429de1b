"""The deploy tests' sites: each deployed from a clean state by the playbook
for its test module, and stopped when the module is done (so two sites never
run at once on the machine)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .ansible_run import PlaybookRun, earlier_run, fresh, playbook, tear_down

SINGLE_HOST = "127.0.1.11"
NODE_1, NODE_2 = "127.0.1.21", "127.0.1.22"
WITNESS = "127.0.1.23"  # the third sentinel only


def _deployed(inventory: str, hosts: list[str]) -> Iterator[PlaybookRun]:
    # VPBX_KEEP_DEPLOYMENTS=1 leaves a site running after its module, and the
    # next run with it set tests that site again instead of deploying anew.
    kept = earlier_run(f"{inventory}-first", hosts) if os.environ.get("VPBX_KEEP_DEPLOYMENTS") else None
    if kept is None:
        fresh(hosts)
    yield kept or playbook(inventory, name=f"{inventory}-first")
    if not os.environ.get("VPBX_KEEP_DEPLOYMENTS"):
        tear_down(hosts)


@pytest.fixture(scope="module")
def single_host() -> Iterator[PlaybookRun]:
    yield from _deployed("test-single-host", [SINGLE_HOST])


@pytest.fixture(scope="module")
def cluster() -> Iterator[PlaybookRun]:
    yield from _deployed("test-cluster", [NODE_1, NODE_2, WITNESS])
