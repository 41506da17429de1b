"""Services restarted while calls keep coming (SIPp's 10 calls/s): no call the
design says survives fails, and no call loses its history line."""

from __future__ import annotations

import time

from vpbx import db as vpbx_db
from vpbx.stack.process import wait_for

from .sipp import Sipp, free_udp_port

CALLS = 80  # 8 s at SIPp's 10 calls/s
OUTAGE_S = 3.0  # how long the service stays down: the fault itself, not a wait for an outcome


def test_a_postgresql_restart_under_load_fails_no_call_and_loses_no_history_line(
    stack, cfg, sip_target, demo, register, postgres, no_registrations
):
    phone_port = free_udp_port()
    assert register("101", phone_port)[0] == 200
    phone = Sipp(
        "uas_answer.xml", port=phone_port, calls=CALLS, timeout_s=60, keys={"rtp_port": free_udp_port()}
    ).start()
    carrier = Sipp(
        "uac_call.xml",
        port=stack.ports.demo_trunk,
        remote=sip_target,
        service=demo["number"],
        calls=CALLS,
        duration_ms=300,
        timeout_s=60,
        keys={"rtp_port": free_udp_port()},
    ).start()
    ours = f"%-{carrier.pid}-{carrier.call_id_token}@%"

    def lines() -> int:  # a connection of its own each time: the restart closes any kept one
        with vpbx_db.connect(cfg.database_url, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) AS n FROM calls WHERE call_id LIKE %s", (ours,)).fetchone()
            return row["n"] if row else 0

    wait_for(lambda: lines() >= 10, 15, "the first calls' history lines")  # the load is on
    assert postgres.stop()
    time.sleep(OUTAGE_S)
    postgres.start()

    carried, answered = carrier.wait(), phone.wait()
    assert carried.returncode == 0, carried.explain()
    assert answered.returncode == 0, answered.explain()
    wait_for(lambda: lines() == CALLS, 30, f"all {CALLS} history lines")
