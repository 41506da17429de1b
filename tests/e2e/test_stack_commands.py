"""The stack commands an operator uses: status, kamcli, idempotent up, clean down."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from vpbx.stack import manager
from vpbx.stack.process import group_members

from ..scrape import metrics_text

VPBX = [sys.executable, "-m", "vpbx.cli"]


def _vpbx(stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*VPBX, *args, "--profile", stack.name], capture_output=True, text=True, timeout=120)


def _pids(profile) -> dict[str, int | None]:
    return {state.name: state.pid for state in manager.status(profile)}


def test_status_lists_every_service_up(stack):
    result = _vpbx(stack, "stack", "status")

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [
        "postgresql",
        "redis",
        "cache-keeper",
        "history-keeper",
        "rtpengine",
        "media-app",
        "kamailio",
        "sidecar",
    ]
    assert all(line.split()[1] == "up" for line in lines)


def _status_requests(text: str) -> float:
    """How many GET /status the sidecar's workers answered 200, all together."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "vpbx_api_request_seconds_count"
        and sample.labels == {"endpoint": "/status", "method": "GET", "status": "200"}
    )


def test_sidecar_answers_status_and_metrics_over_http(stack):
    base = f"http://127.0.0.1:{stack.ports.sidecar}"
    before = _status_requests(metrics_text(stack))
    for _ in range(4):  # over its two gunicorn workers
        with urllib.request.urlopen(f"{base}/status", timeout=5) as response:
            body = json.load(response)
        assert body["status"] == "ok"

    text = metrics_text(stack)
    assert 'vpbx_component_up{component="rtpengine"} 1.0' in text
    # Every worker's requests are counted, whichever answered the scrape.
    assert _status_requests(text) - before == 4


def test_kamcli_reaches_kamailio_over_json_rpc(stack):
    result = subprocess.run(
        ["kamcli", "-c", str(stack.run_dir / "kamcli.ini"), "rpc", "core.version"],
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert "kamailio 5.6" in result.stdout, result.stdout + result.stderr


def test_up_again_leaves_the_same_processes_running(stack):
    before = _pids(stack)

    result = _vpbx(stack, "stack", "up")

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("already running") == 8
    assert _pids(stack) == before


def test_down_stops_exactly_what_up_started_and_up_brings_it_back(stack):
    before = _pids(stack)

    result = _vpbx(stack, "stack", "down")

    assert result.returncode == 0, result.stdout + result.stderr
    assert all(pid is None for pid in _pids(stack).values())
    # Every process of every service is gone, workers included.
    assert all(group_members(pid) == [] for name, pid in before.items() if name != "postgresql")
    assert _vpbx(stack, "stack", "status").returncode == 1

    assert _vpbx(stack, "stack", "up").returncode == 0
    assert all(pid is not None for pid in _pids(stack).values())


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_kamailio_and_rtpengine_serve_their_own_statistics_to_prometheus(stack):
    status, text = _get(f"http://127.0.0.1:{stack.ports.kamailio_metrics}/metrics")
    assert status == 200
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {
        "kamailio_core_rcv_requests",
        "kamailio_tmx_active_transactions",
        "kamailio_usrloc_registered_users",
    } <= names
    status, text = _get(f"http://127.0.0.1:{stack.ports.rtpengine_http}/metrics")
    assert status == 200
    assert "rtpengine_sessions" in {family.name for family in text_string_to_metric_families(text)}
    # The metrics socket answers GET /metrics only, and the SIP port no HTTP at all.
    assert _get(f"http://127.0.0.1:{stack.ports.kamailio_metrics}/")[0] == 404
    assert _get(f"http://127.0.0.1:{stack.ports.sip}/metrics")[0] == 404


def test_vpbx_demo_call_places_a_first_call_with_no_softphone(stack):
    result = _vpbx(stack, "demo", "call", "--seconds", "1")

    assert result.returncode == 0, result.stdout + result.stderr
    said = result.stdout.splitlines()
    assert said[0].startswith("101 (Anna Sales) registered from ")
    assert said[1].startswith("the demo carrier calls +74951112233 from port ")
    assert said[-1].startswith("history: answered by employee 101 Anna Sales, rang "), said
