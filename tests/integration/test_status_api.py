"""The sidecar's /status and /metrics against the real services, one of them down."""

import time
from dataclasses import replace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from vpbx import redis_client
from vpbx.api import create_app
from vpbx.heartbeats import HISTORY_KEEPER, Heartbeat, alive_key
from vpbx.history import events
from vpbx.stack.process import wait_for
from vpbx.stack.services import HistoryKeeper, MediaApp, Redis

EVERY_COMPONENT = {
    "postgresql",
    "redis",
    "kamailio",
    "rtpengine",
    "media_app",
    "history_keeper",
    "cache_keeper",
}


@pytest.fixture
def client_for(cfg):
    def _client(settings=cfg):
        return create_app({"VPBX_SETTINGS": settings, "TESTING": True}).test_client()

    return _client


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket closes


def test_status_reports_every_component_up_with_latency(client_for):
    response = client_for().get("/status")

    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert set(body["components"]) == EVERY_COMPONENT
    for component in body["components"].values():
        assert component["up"] is True
        assert component["latency_ms"] >= 0
    assert body["components"]["cache_keeper"]["current"] is True
    assert body["components"]["media_app"]["calls"] >= 0


def test_status_is_503_and_names_the_component_that_is_down(client_for, cfg):
    broken = replace(cfg, redis_url=f"redis://127.0.0.1:{_closed_port()}/0")

    response = client_for(broken).get("/status")

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "degraded"
    assert body["components"]["redis"]["up"] is False
    assert "Connection" in body["components"]["redis"]["detail"]
    assert all(body["components"][c]["up"] for c in ("postgresql", "kamailio", "rtpengine", "media_app"))
    # The keepers are asked through Redis: unknown, so not up.
    assert not body["components"]["history_keeper"]["up"]


def test_status_is_503_naming_the_media_app_while_it_is_stopped(client_for, stack):
    media_app = MediaApp(stack)
    assert media_app.stop()
    try:
        response = client_for().get("/status")
    finally:
        media_app.start()

    assert response.status_code == 503
    components = response.get_json()["components"]
    assert [name for name, c in components.items() if not c["up"]] == ["media_app"]
    assert "no answer to OPTIONS" in components["media_app"]["detail"]
    wait_for(lambda: client_for().get("/status").status_code == 200, 10, "status to recover")


def test_the_history_keepers_lag_is_the_events_waiting_and_the_oldest_ones_age(client_for, stack, cfg):
    keeper = HistoryKeeper(stack)
    client = redis_client.connect(cfg)
    wait_for(lambda: client.xlen(events.STREAM) == 0, 10, "the keeper to have written every event")
    assert keeper.stop()
    added: list = []
    try:
        # Stopped, it is down once its heartbeat expires: forget the last one.
        client.delete(alive_key(HISTORY_KEEPER, cfg.sip.host))
        body = client_for().get("/status").get_json()
        assert body["components"]["history_keeper"]["up"] is False
        assert "no heartbeat" in body["components"]["history_keeper"]["detail"]

        # Alive but behind (as when PostgreSQL is slow): three events wait.
        Heartbeat(client, HISTORY_KEEPER, cfg.sip.host).beat()
        before = time.time()
        added = [client.xadd(events.STREAM, {"event": "{}"}) for _ in range(3)]
        response = client_for().get("/status")
        after = time.time()
    finally:
        if added:
            client.xdel(events.STREAM, *added)
        keeper.start()

    history = response.get_json()["components"]["history_keeper"]
    assert history["up"] is True
    assert history["lag_events"] == 3
    assert 0 <= history["lag_seconds"] <= after - before + 0.01
    wait_for(lambda: client_for().get("/status").status_code == 200, 10, "status to recover")


def test_status_sees_a_real_redis_outage_and_recovery(client_for, stack):
    redis_service = Redis(stack)
    assert redis_service.stop()
    try:
        body = client_for().get("/status").get_json()
        assert body["components"]["redis"]["up"] is False
    finally:
        redis_service.start()
    wait_for(lambda: client_for().get("/status").status_code == 200, 10, "status to recover")


def test_metrics_are_prometheus_text_with_component_gauges(client_for, cfg):
    broken = replace(cfg, database_url=f"postgresql://vpbx@127.0.0.1:{_closed_port()}/vpbx")

    response = client_for(broken).get("/metrics", headers={"Authorization": f"Bearer {cfg.metrics_token}"})

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert 'vpbx_component_up{component="postgresql"} 0.0' in text
    assert 'vpbx_component_up{component="kamailio"} 1.0' in text
    assert 'vpbx_component_up{component="media_app"} 1.0' in text
    assert "vpbx_history_lag_events 0.0" in text
    assert "vpbx_history_lag_seconds 0.0" in text
    assert "vpbx_kamailio_registered_users " in text
    assert "vpbx_rtpengine_sessions " in text


def test_metrics_answer_only_the_holder_of_the_metrics_token(client_for, cfg):
    # Its series name every company's numbers and trunks: no token, no metrics.
    for headers in ({}, {"Authorization": "Bearer not-the-token"}, {"Authorization": cfg.metrics_token}):
        response = client_for().get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="vpbx metrics"'
        assert "[metrics] token" in response.get_json()["error"]["message"]
        assert "vpbx_calls" not in response.get_data(as_text=True)
    assert client_for().get("/metrics", headers={"Authorization": f"Bearer {cfg.metrics_token}"}).status_code == 200


def test_without_a_metrics_token_the_metrics_answer_this_host_only(client_for, cfg):
    untokened = replace(cfg, metrics_token=None)

    assert client_for(untokened).get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    refused = client_for(untokened).get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert refused.status_code == 403
    assert "answers this host only" in refused.get_json()["error"]["message"]


def test_metrics_time_the_api_by_endpoint_method_and_status(client_for, cfg, demo):
    client = client_for()
    token = {"Authorization": f"Bearer {cfg.metrics_token}"}

    def requests(endpoint: str, status: str) -> float:
        text = client.get("/metrics", headers=token).get_data(as_text=True)
        wanted = {"endpoint": endpoint, "method": "GET", "status": status}
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "vpbx_api_request_seconds_count" and sample.labels == wanted
        )

    before = (requests("/api/v1/employees/<int:employee_id>", "401"), requests("unmatched", "404"))
    for employee_id in (1, 2, 3):  # three paths, one endpoint
        assert client.get(f"/api/v1/employees/{employee_id}").status_code == 401
    assert client.get("/no/such/path").status_code == 404

    after = (requests("/api/v1/employees/<int:employee_id>", "401"), requests("unmatched", "404"))
    assert (after[0] - before[0], after[1] - before[1]) == (3, 1)
