"""A running sidecar's /metrics, read as Prometheus reads it: with the metrics token."""

from __future__ import annotations

import urllib.request

from vpbx import settings as vpbx_settings


def metrics_text(stack) -> str:
    token = vpbx_settings.load(stack.config_path).metrics_token
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.ports.sidecar}/metrics", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()
