"""PostgreSQL down: calls keep routing from the Redis cache, the API says 503 clearly."""

from __future__ import annotations

import re

from vpbx.stack.process import wait_for

from .calls import answered_call
from .logs import LogTail
from .sipp import free_udp_port


def test_calls_route_and_the_api_answers_503_while_postgresql_is_down(
    stack, api, sip_target, demo, postgres, register, no_registrations
):
    phone_port = free_udp_port()
    assert register("101", phone_port)[0] == 200
    logs = LogTail(stack.log_dir, names=("kamailio",))
    assert postgres.stop()

    answered_call(stack, sip_target, demo["number"], phone_port)

    status, body = api("GET", "/company")
    assert status == 503
    assert body["error"]["message"].startswith("The configuration database is unavailable")

    postgres.start()
    # The connection pool retries with a backoff: recovery takes seconds, not a restart.
    status, body = wait_for(
        lambda: (r := api("GET", "/company"))[0] == 200 and r, 30, "the API to reach PostgreSQL again"
    )
    assert body["sip_domain"] == "demo.vpbx.test"
    # Kamailio's own database connections recover too, each on its next query
    # (its lost connection a WARNING, no query failed): a few registrations
    # reach every SIP worker (four of them).
    assert [register("101", phone_port)[0] for _ in range(8)] == [200] * 8
    assert [line for line in logs.matching(re.compile("db_postgres")) if "WARNING" not in line] == []
