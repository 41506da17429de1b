"""Named stack profiles: which ports and which run directory a stack uses.

``dev`` is what ``make up`` starts; ``test`` is what the test suite starts, on
other ports and in another run directory, so the two never touch each other;
``bench`` is what the benchmarks in bench/ start, apart from both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Ports:
    sip: int
    rtpengine_ng: int
    rtp_min: int
    rtp_max: int
    postgres: int
    redis: int
    sidecar: int
    demo_trunk: int  # source port of the demo carrier (a local SIPp playing the trunk)


@dataclass(frozen=True)
class Profile:
    name: str
    ports: Ports
    address: str
    run_dir: Path

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "log"

    @property
    def config_path(self) -> Path:
        return self.run_dir / "vpbx.toml"


_PORTS = {
    "dev": Ports(
        sip=5060, rtpengine_ng=2223, rtp_min=30000, rtp_max=30999,
        postgres=5433, redis=6380, sidecar=8080, demo_trunk=5099,
    ),
    "test": Ports(
        sip=5960, rtpengine_ng=2923, rtp_min=31000, rtp_max=31999,
        postgres=5933, redis=6980, sidecar=8980, demo_trunk=5999,
    ),
    "bench": Ports(
        sip=6160, rtpengine_ng=3023, rtp_min=32000, rtp_max=32999,
        postgres=6033, redis=7080, sidecar=9080, demo_trunk=6199,
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
    return Profile(name=name, ports=ports, address=address, run_dir=run_dir.resolve())
