"""How long the sidecar takes to answer, by endpoint, method and status
(``vpbx_api_request_seconds``).

The endpoint is the URL rule a request matched (``/api/v1/employees/<int:employee_id>``),
never the path itself: the labels stay bounded whatever clients send. gunicorn
runs several worker processes; prometheus_client's multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR``, set by gunicorn_config.py) shares their samples
through files, and /metrics reads them all. Without it (one process: the tests'
Flask client) the histogram is read from this process.
"""

from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Histogram, multiprocess

# A registry of its own: never the library's global one, whose process and
# platform collectors would repeat on every scrape as unlabelled noise.
_OWN = CollectorRegistry(auto_describe=True)
REQUEST_SECONDS = Histogram(
    "vpbx_api_request_seconds",
    "How long the sidecar took to answer, by endpoint (the URL rule), method and status",
    ["endpoint", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=_OWN,
)
UNMATCHED = "unmatched"  # no rule matched (a 404, a probe): one label for all of them


def init_app(app: Flask) -> None:
    @app.before_request
    def _started() -> None:
        g.vpbx_request_started = time.perf_counter()

    @app.after_request
    def _observed(response: Response) -> Response:
        started = g.pop("vpbx_request_started", None)
        if started is not None:
            endpoint = request.url_rule.rule if request.url_rule is not None else UNMATCHED
            REQUEST_SECONDS.labels(endpoint, request.method, str(response.status_code)).observe(
                time.perf_counter() - started
            )
        return response


def register_into(registry: CollectorRegistry) -> None:
    """Add the sidecar's own samples (every worker's) to a scrape's registry."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_SECONDS)
