"""gunicorn's settings for the sidecar (``gunicorn -c python:vpbx.api.gunicorn_config``).

Its workers share their request metrics through files (prometheus_client's
multiprocess mode) in a directory of the node's run directory: named here,
before prometheus_client is imported by anyone, since the library reads it at
import; emptied when gunicorn starts, so no sample of an earlier run survives.
"""

from __future__ import annotations

import os
import shutil

from vpbx import call_log
from vpbx import settings as vpbx_settings

_SETTINGS = vpbx_settings.load()
# The app's own lines (call decisions among them); gunicorn keeps its access log.
call_log.configure("sidecar", _SETTINGS.log_format)
METRICS_DIR = _SETTINGS.run_dir / "sidecar" / "prometheus"
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(METRICS_DIR)

from prometheus_client import multiprocess  # noqa: E402  (after the directory is named)


def on_starting(server) -> None:
    shutil.rmtree(METRICS_DIR, ignore_errors=True)
    METRICS_DIR.mkdir(parents=True)


def child_exit(server, worker) -> None:
    multiprocess.mark_process_dead(worker.pid)
