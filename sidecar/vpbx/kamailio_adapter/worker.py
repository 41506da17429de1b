"""State of one Kamailio worker process: its settings and its Redis connection.

app_python3 forks workers after mod_init, so connections are opened in
child_init (``Worker.connect``), never at import: a socket shared across forks
would interleave replies between processes.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import redis

from .. import settings as vpbx_settings
from ..config.compile import number_key
from ..routing import Call, Plan, build_plan
from ..routing.numbers import to_e164


class Worker:
    def __init__(self, config: vpbx_settings.Settings):
        self.settings = config
        self.redis: redis.Redis | None = None

    @classmethod
    def from_environment(cls) -> Worker:
        return cls(vpbx_settings.load())

    def connect(self) -> None:
        self.redis = redis.Redis.from_url(
            self.settings.redis_url, socket_timeout=0.5, socket_connect_timeout=0.5
        )

    def number_document(self, e164: str) -> dict | None:
        raw = self.redis.get(number_key(e164))
        return json.loads(raw) if raw else None

    def plan_for_number(self, dialled: str, caller: str, call_id: str, source: str,
                        region: str = "RU", now: datetime | None = None) -> Plan | None:
        """The plan for a call to a company number; None when the number is not ours.

        Raises redis.RedisError when the routing cache cannot be read.
        """
        e164 = to_e164(dialled, region)
        if e164 is None:
            return None
        document = self.number_document(e164)
        if document is None:
            return None
        call = Call(call_id=call_id, called=e164, caller=caller, source=source,
                    at=now or datetime.now(timezone.utc))
        return build_plan(document, call)
