"""schemathesis drives the running sidecar from its own OpenAPI document: no
5xx, and every response's body as the document describes it.

It creates, changes and deletes whatever it finds, so it acts as a tenant of
its own, never as the demo company.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from vpbx import db as vpbx_db
from vpbx.config.companies import create_company

REPO = Path(__file__).resolve().parents[2]
SEED = "20261122"  # fixed: a failure replays exactly


def _snapshot(api) -> dict:
    return {
        r: api("GET", f"/{r}")[1]
        for r in ("employees", "numbers", "schemes", "departments", "schedules", "voicemail-boxes")
    }


def test_fuzzing_the_api_finds_no_server_error(stack, cfg, api, tmp_path):
    with vpbx_db.connect(cfg.database_url) as conn:
        tenant = create_company(
            conn,
            name="Fuzz Ltd",
            sip_domain=f"fuzz-{secrets.token_hex(4)}.vpbx.test",
            timezone="UTC",
            admin_name="Fuzz Admin",
            admin_extension="100",
        )
    demo_before = _snapshot(api)

    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"http://127.0.0.1:{stack.ports.sidecar}/openapi.json",
            "--header",
            f"Authorization: Bearer {tenant.admin_token}",
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "--max-examples",
            "25",
            "--seed",
            SEED,
            "--workers",
            "1",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        env={
            **os.environ,
            "SCHEMATHESIS_HOOKS": "tests.e2e.fuzz_hooks",
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        },
    )

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert _snapshot(api) == demo_before
