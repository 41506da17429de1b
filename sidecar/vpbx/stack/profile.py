"""Named stack profiles: which ports and which run directory a stack uses.

``dev`` is what ``make up`` starts; ``test`` is what the test suite starts, on
other ports and in another run directory, so the two never touch each other;
``test2`` is the same on its own ports, for a second checkout's tests while a
suite runs (VPBX_TEST_PROFILE, tests/conftest.py); ``bench`` is what the
benchmarks in bench/ start, apart from all of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
TEST_PROFILES = frozenset({"test", "test2"})


@dataclass(frozen=True)
class Ports:
    sip: int
    sip_tls: int  # SIP over TLS (phones that want SRTP)
    rtpengine_ng: int
    rtp_min: int
    rtp_max: int
    postgres: int
    redis: int
    sidecar: int
    demo_trunk: int  # source port of the demo carrier (a local SIPp playing the trunk)
    media_sip: int  # the media app's SIP listener (IVR, voicemail)
    media_dtmf: int  # where rtpengine sends the digits it detects (--dtmf-log-dest)
    media_rtp_min: int  # the media app's own RTP sockets (what it records)
    media_rtp_max: int
    smtp: int  # where voicemail email is sent (the test suite runs its own SMTP server here)
    kamailio_metrics: int  # Kamailio's own statistics for Prometheus (xhttp_prom)
    rtpengine_http: int  # rtpengine's own statistics for Prometheus (its HTTP listener)


@dataclass(frozen=True)
class Profile:
    name: str
    ports: Ports
    address: str
    run_dir: Path
    # Kamailio's async task workers for calls a webhook or the CRM routes: a
    # stalled lookup holds one for its whole budget (at most 2 s), so a
    # Kamailio absorbs workers / budget stalled lookups per second (8 / 2 s = 4)
    # before such calls queue; the calls no lookup decides never wait for them.
    # Each is a Kamailio process with its own Python (about 36 MB resident).
    lookup_workers: int = 8

    @property
    def for_tests(self) -> bool:
        """The test suite's stack: its stand-ins and pinned clock are allowed."""
        return self.name in TEST_PROFILES

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "log"

    @property
    def config_path(self) -> Path:
        return self.run_dir / "vpbx.toml"


# RTP ranges sit below Linux's ephemeral ports (32768-60999), where any
# client socket could take a port rtpengine or the media app wants. Each is
# 2,000 ports: rtpengine spends four on a call (two legs, RTP and RTCP), so 500
# calls at once; the media app one per recording. The voicemail capacity goal
# is 300 recordings at once (bench/media_capacity.py).
_PORTS = {
    "dev": Ports(
        sip=5060,
        sip_tls=5061,
        rtpengine_ng=2223,
        rtp_min=10000,
        rtp_max=11999,
        postgres=5433,
        redis=6380,
        sidecar=8080,
        demo_trunk=5099,
        media_sip=5070,
        media_dtmf=2224,
        media_rtp_min=12000,
        media_rtp_max=13999,
        smtp=2525,
        kamailio_metrics=8062,
        rtpengine_http=8063,
    ),
    "test": Ports(
        sip=5960,
        sip_tls=5961,
        rtpengine_ng=2923,
        rtp_min=14000,
        rtp_max=15999,
        postgres=5933,
        redis=6980,
        sidecar=8980,
        demo_trunk=5999,
        media_sip=5970,
        media_dtmf=2924,
        media_rtp_min=16000,
        media_rtp_max=17999,
        smtp=2925,
        kamailio_metrics=8962,
        rtpengine_http=8963,
    ),
    "test2": Ports(
        sip=6560,
        sip_tls=6561,
        rtpengine_ng=3123,
        rtp_min=22000,
        rtp_max=23999,
        postgres=6133,
        redis=7180,
        sidecar=9180,
        demo_trunk=6599,
        media_sip=6570,
        media_dtmf=3124,
        media_rtp_min=24000,
        media_rtp_max=25999,
        smtp=3125,
        kamailio_metrics=9162,
        rtpengine_http=9163,
    ),
    "bench": Ports(
        sip=6160,
        sip_tls=6161,
        rtpengine_ng=3023,
        rtp_min=18000,
        rtp_max=19999,
        postgres=6033,
        redis=7080,
        sidecar=9080,
        demo_trunk=6199,
        media_sip=6170,
        media_dtmf=3024,
        media_rtp_min=20000,
        media_rtp_max=21999,
        smtp=3025,
        kamailio_metrics=9062,
        rtpengine_http=9063,
    ),
}


def profile(name: str) -> Profile:
    try:
        ports = _PORTS[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; known: {', '.join(_PORTS)}") from None
    # Softphones on other hosts need a routable address; loopback is the safe default.
    address = os.environ.get("VPBX_LISTEN_ADDRESS", "127.0.0.1")
    # The PostgreSQL cluster lives in the run directory and runs as user
    # postgres, which must be able to reach it: VPBX_RUN_ROOT moves it when the
    # checkout sits below a directory that user cannot enter.
    run_dir = Path(os.environ.get("VPBX_RUN_ROOT", REPO_ROOT / ".run")) / name
    lookup_workers = int(os.environ.get("VPBX_LOOKUP_WORKERS", "8"))
    return Profile(name=name, ports=ports, address=address, run_dir=run_dir.resolve(), lookup_workers=lookup_workers)
