"""Which rtpengines of a cluster take new calls: those whose host's media app
is alive.

A call that reaches a media app (voicemail, a menu, a queue) is served by the
media app beside the rtpengine holding the call: rtpengine plays the prompt
files from its own host's disk and reports the caller's keys to its own
host's media app. So a host whose media app has gone silent (vpbx.media.
heartbeat) gets no new call in its rtpengine, and gets them again once its
media app is heard. Calls already there stay (rtpengine_allow_op).

Kamailio's rtimer process asks every second (vpbx_kemi.py,
ksr_media_hosts); this module only decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# A media app tells each node every second; three missed in a row is silence.
SILENCE_S = 3.0


@dataclass
class MediaHosts:
    hosts: tuple[str, ...]
    started_at: float  # a node that just started has heard no one yet: no verdict before SILENCE_S
    silence_s: float = SILENCE_S
    # What each host's rtpengine was last told: taking new calls or not (None: nothing yet).
    taking: dict[str, bool | None] = field(default_factory=dict)

    def changes(self, heard: Mapping[str, float | None], now: float) -> list[tuple[str, bool]]:
        """(host, takes new calls) for each host whose state is not what its
        rtpengine was last told; ``heard``: when each media app was last heard."""
        changed = []
        for host in self.hosts:
            last = heard.get(host)
            if last is None and now - self.started_at < self.silence_s:
                continue
            alive = last is not None and now - last <= self.silence_s
            if self.taking.get(host) != alive:
                self.taking[host] = alive
                changed.append((host, alive))
        return changed
