"""The sidecar's /status and /metrics against the real services, one of them down."""

from dataclasses import replace

import pytest

from vpbx.api import create_app
from vpbx.stack.process import wait_for
from vpbx.stack.services import Redis


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
    assert set(body["components"]) == {"postgresql", "redis", "kamailio", "rtpengine"}
    for component in body["components"].values():
        assert component["up"] is True
        assert component["latency_ms"] >= 0


def test_status_is_503_and_names_the_component_that_is_down(client_for, cfg):
    broken = replace(cfg, redis_url=f"redis://127.0.0.1:{_closed_port()}/0")

    response = client_for(broken).get("/status")

    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "degraded"
    assert body["components"]["redis"]["up"] is False
    assert "Connection" in body["components"]["redis"]["detail"]
    assert all(body["components"][c]["up"] for c in ("postgresql", "kamailio", "rtpengine"))


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

    response = client_for(broken).get("/metrics")

    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert 'vpbx_component_up{component="postgresql"} 0.0' in text
    assert 'vpbx_component_up{component="kamailio"} 1.0' in text
    assert "vpbx_kamailio_registered_users " in text
    assert "vpbx_rtpengine_sessions " in text
