"""Departments hunt through their members by their distribution rule (R4), with
the turn and the members' call times shared by every Kamailio worker in Redis."""

from __future__ import annotations

import re

import pytest

from . import sip_log
from .calls import carrier_call
from .sipp import Sipp, free_udp_port

AGENTS = ("301", "302", "303")


@pytest.fixture
def agents(api, sip_target):
    """Three employees created through the API, each registered at a port of its own."""
    created = []
    for extension in AGENTS:
        status, agent = api("POST", "/employees", {"name": f"Agent {extension}", "extension": extension})
        assert status == 201, agent
        port = free_udp_port()
        registration = Sipp(
            "register.xml",
            port=free_udp_port(),
            remote=sip_target,
            service=extension,
            auth=(extension, agent["sip_password"]),
            keys={"domain": "demo.vpbx.test", "contact_port": port},
        ).run()
        assert sip_log.status(sip_log.received(registration.messages)[-1]) == 200, registration.explain()
        created.append((agent, port))
    yield created
    for agent, _ in created:
        api("DELETE", f"/employees/{agent['id']}")


@pytest.fixture
def department(api, agents):
    """The demo number's scheme rings a department of the three agents: set its distribution."""
    scheme = next(s for s in api("GET", "/schemes")[1] if s["name"] == "Ring everyone")
    made = []

    def _make(distribution: str):
        status, dept = api(
            "POST",
            "/departments",
            {
                "name": f"Hunt {distribution}",
                "distribution": distribution,
                "ring_time": 10,
                "members": [agent["id"] for agent, _ in agents],
            },
        )
        assert status == 201, dept
        made.append(dept)
        status, body = api(
            "PUT",
            f"/schemes/{scheme['id']}",
            {
                "name": scheme["name"],
                "steps": [
                    {
                        "mode": "parallel",
                        "timeout": 30,
                        "destinations": [{"kind": "department", "department_id": dept["id"]}],
                    }
                ],
            },
        )
        assert status == 200, body
        return dept

    yield _make
    api("PUT", f"/schemes/{scheme['id']}", {k: v for k, v in scheme.items() if k != "id"})
    for dept in made:
        api("DELETE", f"/departments/{dept['id']}")


def _answering(agent_port: int, calls: int) -> Sipp:
    return Sipp(
        "uas_answer.xml", port=agent_port, calls=calls, keys={"rtp_port": free_udp_port()}, timeout_s=90
    ).start()


def _call_numbers(result) -> list[int]:
    """Which of a carrier's calls (SIPp call numbers) this phone was rung for, in order."""
    invites = [m for m in sip_log.received(result.messages) if m.startswith("INVITE ")]
    return [int(re.match(r"(\d+)-", sip_log.header(m, "Call-ID")).group(1)) for m in invites]


def _carrier(stack, sip_target, demo, *, calls: int = 1, duration_ms: int = 100) -> Sipp:
    # Each call must be answered well before the 10 s ring time, so a call that
    # first rang the wrong member (and waited out its ring time) fails here.
    return carrier_call(
        stack,
        sip_target,
        demo["number"],
        calls=calls,
        concurrent=1,
        duration_ms=duration_ms,
        timeout_s=90,
        recv_timeout_s=8,
    )


def test_round_robin_spreads_thirty_calls_ten_ten_ten_in_turn(
    stack, sip_target, demo, agents, department, no_registrations
):
    department("round_robin")
    phones = [_answering(port, calls=10) for _, port in agents]

    carrier = _carrier(stack, sip_target, demo, calls=30).run()
    results = [phone.wait() for phone in phones]

    assert carrier.returncode == 0, carrier.explain()
    for result in results:
        assert result.returncode == 0, result.explain()
    # Call n starts with member (n - 1) mod 3, and that member answers.
    assert [_call_numbers(r) for r in results] == [list(range(k + 1, 31, 3)) for k in range(3)]


def test_longest_idle_rings_the_member_free_longest_first(
    stack, sip_target, demo, agents, department, no_registrations
):
    department("longest_idle")
    a, b, c = (port for _, port in agents)
    phones = {"A": _answering(a, calls=1), "B": _answering(b, calls=2), "C": _answering(c, calls=1)}
    calls = []

    # 1: nobody has taken a call yet, so the first member, A, answers and stays on the line.
    calls.append(_carrier(stack, sip_target, demo, duration_ms=3000).start())
    # 2: A is on a call: B, never called, answers, and hangs up before A does. (The
    # carrier's port is busy with call 1, so Anna's desk phone dials the number.)
    anna = next(a for a in demo["accounts"] if a["login"] == "101")
    calls.append(
        Sipp(
            "phone_call.xml",
            port=free_udp_port(),
            remote=sip_target,
            service=demo["number"],
            auth=("101", anna["password"]),
            duration_ms=100,
            recv_timeout_s=8,
            keys={"caller": "101", "domain": "demo.vpbx.test", "rtp_port": free_udp_port()},
        ).start()
    )
    for call in calls:
        result = call.wait()
        assert result.returncode == 0, result.explain()
    # 3: C has never taken a call. 4: B hung up before A, so B again (round robin would ring A).
    for _ in range(2):
        calls.append(_carrier(stack, sip_target, demo))
        result = calls[-1].run()
        assert result.returncode == 0, result.explain()

    rung = {}
    for name, phone in phones.items():
        result = phone.wait()
        assert result.returncode == 0, result.explain()
        rung[name] = [
            sip_log.header(m, "Call-ID") for m in sip_log.received(result.messages) if m.startswith("INVITE ")
        ]
    first, second, third, fourth = (call.call_id() for call in calls)
    assert rung == {"A": [first], "B": [second, fourth], "C": [third]}


def test_explain_shows_whom_the_next_call_rings_first_and_deleting_drops_the_shared_state(
    stack, sip_target, demo, api, agents, department, cfg, no_registrations
):
    import redis

    dept = department("round_robin")
    explain = lambda: api("GET", f"/numbers/{demo['number']}/route")[1]  # noqa: E731
    assert [s["targets"][0]["label"] for s in explain()["steps"]] == [
        "employee 301 Agent 301",
        "employee 302 Agent 302",
        "employee 303 Agent 303",
    ]
    phone = _answering(agents[0][1], calls=1)
    assert _carrier(stack, sip_target, demo).run().returncode == 0
    assert phone.wait().returncode == 0
    # Explaining does not take a turn: asked twice, it names the same next member.
    for _ in range(2):
        assert explain()["steps"][0]["targets"][0]["label"] == "employee 302 Agent 302"

    cache = redis.Redis.from_url(cfg.redis_url)
    assert cache.hget(f"vpbx:department:{dept['id']}", "turn") == b"1"
    scheme = next(s for s in api("GET", "/schemes")[1] if s["name"] == "Ring everyone")
    status, body = api(
        "PUT",
        f"/schemes/{scheme['id']}",
        {
            "name": scheme["name"],
            "steps": [
                {
                    "mode": "parallel",
                    "timeout": 30,
                    "destinations": [{"kind": "employee", "employee_id": agents[0][0]["id"]}],
                }
            ],
        },
    )
    assert status == 200, body
    assert api("DELETE", f"/departments/{dept['id']}")[0] == 204
    assert not cache.exists(f"vpbx:department:{dept['id']}")
