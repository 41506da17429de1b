"""Which rtpengines of a cluster take new calls: those whose media app is heard."""

from __future__ import annotations

from vpbx.kamailio_adapter.media_hosts import SILENCE_S, MediaHosts

A, B = "10.0.0.1", "10.0.0.2"


def test_no_verdict_on_a_host_not_yet_heard_until_the_silence_has_passed_since_the_start():
    watch = MediaHosts((A, B), started_at=100.0)

    assert watch.changes({A: 100.5, B: None}, now=101.0) == [(A, True)]
    assert watch.changes({A: 101.5, B: None}, now=100.0 + SILENCE_S + 0.5) == [(B, False)]


def test_a_silent_media_app_takes_its_rtpengine_out_once_and_back_once_heard():
    watch = MediaHosts((A, B), started_at=0.0)
    assert watch.changes({A: 10.0, B: 10.0}, now=10.0) == [(A, True), (B, True)]

    assert watch.changes({A: 11.0, B: 10.0}, now=10.0 + SILENCE_S) == []  # three seconds is not yet silence
    assert watch.changes({A: 14.0, B: 10.0}, now=14.0) == [(B, False)]
    assert watch.changes({A: 15.0, B: 10.0}, now=15.0) == []  # told once
    assert watch.changes({A: 16.0, B: 16.0}, now=16.0) == [(B, True)]


def test_a_cluster_is_read_from_the_rendered_vpbx_toml(tmp_path):
    import dataclasses

    from vpbx import settings
    from vpbx.settings import Endpoint
    from vpbx.stack import site
    from vpbx.stack.profile import profile

    single = dataclasses.replace(profile("test"), run_dir=tmp_path)
    site.render(single)
    assert settings.load(single.config_path).cluster is None

    text = single.config_path.read_text()
    text += '\n[cluster]\nkamailio = ["10.0.0.1:5060", "10.0.0.2:5060"]\nmedia_hosts = ["10.0.0.1", "10.0.0.2"]\n'
    single.config_path.write_text(text)
    cluster = settings.load(single.config_path).cluster
    assert cluster is not None
    assert cluster.kamailio == (Endpoint("10.0.0.1", 5060), Endpoint("10.0.0.2", 5060))
    assert cluster.media_hosts == (A, B)
