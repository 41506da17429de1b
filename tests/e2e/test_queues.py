"""Call queues (R18) on real calls: callers wait in one line with music, in
the order they came, and are put through to the agent in turn; the agent
rests for the wrap-up time between calls; history names the agent."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from vpbx.media import waiting_line
from vpbx.media.prompts import PromptLibrary
from vpbx.stack.process import wait_for

from ..scrape import metrics_text
from . import sip_log
from .calls import history_line, parallel, rtpengine_forgot
from .media_caller import (
    TO_THE_MEDIA_APP,
    WAIT_FOR_HANGUP,
    ended,
    hang_up_after,
    media_call,
    message_of,
    phone_media_call,
    tone_heard,
    upload_tone,
)
from .rtp import RtpEndpoint
from .sipp import Sipp, free_udp_port
from .wav import alaw_to_linear, best_match, envelope, spoken_envelope

WRAP_UP_S = 2
RINGBACK_HZ, BEEP_HZ = 425, 1000  # the standard music (media/prompts.py: ringback) and the voicemail beep
TALK_MS = 3000


@pytest.fixture
def agent(api, register):
    """An employee made for the test, registered at a port a test's SIPp takes: (employee, port)."""
    status, employee = api("POST", "/employees", {"name": "Queue agent 381", "extension": "381"})
    assert status == 201, employee
    port = free_udp_port()
    assert register("381", port, password=employee["sip_password"])[0] == 200
    yield employee, port
    api("DELETE", f"/employees/{employee['id']}")


@pytest.fixture
def made_agents(api, register):
    """Employees made for the test, each registered at a port a test's SIPp
    takes: ``made_agents("391", "392")`` -> [(employee, port), ...]; deleted afterwards."""
    made: list[dict] = []

    def _make(*extensions: str) -> list[tuple[dict, int]]:
        agents = []
        for extension in extensions:
            status, employee = api("POST", "/employees", {"name": f"Queue agent {extension}", "extension": extension})
            assert status == 201, employee
            made.append(employee)
            port = free_udp_port()
            assert register(extension, port, password=employee["sip_password"])[0] == 200
            agents.append((employee, port))
        return agents

    yield _make
    for employee in made:
        api("DELETE", f"/employees/{employee['id']}")


@pytest.fixture
def queue(api, demo_steps, agent):
    employee, _ = agent
    status, made = api(
        "POST",
        "/queues",
        {
            "name": "E2E queue",
            "strategy": "round_robin",
            "members": [employee["id"]],
            "agent_ring_time": 10,
            "wrap_up": WRAP_UP_S,
            "max_wait": 60,
        },
    )
    assert status == 201, made
    demo_steps(parallel({"kind": "queue", "queue_id": made["id"]}, timeout=15))
    yield made
    demo_steps(parallel({"kind": "employee", "employee_id": employee["id"]}))  # the scheme lets go of the queue
    api("DELETE", f"/queues/{made['id']}")


def _answering(port: int, rtp_port: int, *, calls: int = 1, ring_ms: int = 300, talk_ms: int, **timeouts: int) -> Sipp:
    """An agent's phone that answers ``calls`` calls with PCMA to ``rtp_port`` and hangs up after ``talk_ms``."""
    return Sipp(
        "uas_answer_pcma_hang_up.xml",
        port=port,
        calls=calls,
        keys={"rtp_port": rtp_port},
        values={"ring_ms": ring_ms, "talk_ms": talk_ms},
        **timeouts,
    )


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_two_callers_reach_the_agent_in_the_order_they_came_with_wrap_up_between(
    stack, api, sip_target, demo, agent, queue, no_registrations
):
    employee, port = agent
    agent_rtp = RtpEndpoint()
    agent_phone = _answering(port, agent_rtp.port, calls=2, talk_ms=TALK_MS, timeout_s=60, recv_timeout_s=40).start()
    try:
        first, first_audio = media_call(stack, sip_target, demo["number"])
        assert first_audio.started(within=15) is not None, "the first caller heard nothing"
        second, second_audio = phone_media_call(sip_target, demo, "102", demo["number"], WAIT_FOR_HANGUP)
        # The second caller waits with the queue's music: the ringback tone, on and off.
        assert second_audio.burst(within=15) is not None, "the waiting caller heard no music"
        first_result, second_result = ended(first, first_audio), ended(second, second_audio)
        answered = agent_phone.wait()
    finally:
        agent_phone.stop()
        agent_rtp.close()

    assert first_result.returncode == 0, first_result.explain()
    assert second_result.returncode == 0, second_result.explain()
    assert answered.returncode == 0, answered.explain()
    assert len([m for m in sip_log.received(answered.messages) if m.startswith("INVITE ")]) == 2

    first_line, second_line = history_line(api, first.call_id()), history_line(api, second.call_id())
    for line in (first_line, second_line):
        assert (line["status"], line["employee_id"]) == ("answered", employee["id"]), line
    # The queue answered each caller, then rang the agent: in the order they came,
    # and only once the agent had rested after the first call.
    first_rang, second_rang = (_agent_rang_at(line, employee["id"]) for line in (first_line, second_line))
    assert first_rang < second_rang
    rest = (second_rang - _at(first_line["ended_at"])).total_seconds()
    assert rest >= WRAP_UP_S - 0.2, rest


def _agent_rang_at(line: dict, employee_id: int) -> datetime:
    [leg] = [leg for leg in line["legs"] if leg["employee_id"] == employee_id and leg["answered"]]
    return _at(leg["rang_at"])


def test_an_agent_who_declines_is_skipped_and_the_wait_ends_in_the_queues_voicemail(
    stack, api, sip_target, demo, agent, demo_steps, voicemail_box, db, no_registrations
):
    employee, port = agent
    box = voicemail_box(name="E2E queue fallback", silence_s=2)
    status, made = api(
        "POST",
        "/queues",
        {
            "name": "E2E short queue",
            "members": [employee["id"]],
            "agent_ring_time": 5,
            "max_wait": 15,
            "fallback_voicemail_box_id": box["id"],
            "pause_after_misses": 1,
        },
    )
    assert status == 201, made
    try:
        demo_steps(parallel({"kind": "queue", "queue_id": made["id"]}, timeout=15))
        declining = Sipp(
            "uas_reject.xml", port=port, calls=1, values={"code": 486, "phrase": "Busy Here"}, timeout_s=30
        ).start()
        caller, audio = media_call(stack, sip_target, demo["number"])
        declined = declining.wait()
        # The ringback tone while waiting, then, at the longest wait, the box's greeting and its beep.
        assert tone_heard(audio, RINGBACK_HZ, run=30, within=10), "no music while waiting"
        assert tone_heard(audio, BEEP_HZ, run=15, within=30), "no voicemail beep at the longest wait"
        audio.speak(1.5)
        audio.press("#")
        result = ended(caller, audio)
        [paused] = api("GET", f"/queues/{made['id']}")[1]["agents"]
    finally:
        demo_steps(parallel({"kind": "employee", "employee_id": employee["id"]}))
        api("DELETE", f"/queues/{made['id']}")
    assert declined.returncode == 0, declined.explain()
    assert result.returncode == 0, result.explain()
    # Paused after the one miss the queue allows: not rung again while the caller waited.
    assert paused["pause_reason"] == "missed 1 call in a row"
    assert message_of(db, caller.call_id())["voicemail_box_id"] == box["id"]
    line = history_line(api, caller.call_id())
    assert line["voicemail"] is True
    assert any(leg["employee_id"] == employee["id"] and not leg["answered"] for leg in line["legs"])


def test_three_callers_and_two_agents_the_third_waits_for_the_first_agent_free(
    stack, api, sip_target, demo, demo_steps, made_agents, no_registrations
):
    agents = made_agents("391", "392")
    status, made = api(
        "POST",
        "/queues",
        {
            "name": "E2E two agents",
            "strategy": "round_robin",
            "members": [e["id"] for e, _ in agents],
            "agent_ring_time": 10,
            "wrap_up": WRAP_UP_S,
        },
    )
    assert status == 201, made
    rtps = [RtpEndpoint() for _ in agents]
    # Each agent may take two calls: which one takes the third caller is the first one free.
    phones = [
        _answering(port, rtp.port, calls=2, talk_ms=TALK_MS, timeout_s=60, recv_timeout_s=25).start()
        for (_, port), rtp in zip(agents, rtps, strict=True)
    ]
    try:
        demo_steps(parallel({"kind": "queue", "queue_id": made["id"]}, timeout=15))
        callers = [media_call(stack, sip_target, demo["number"])]
        assert callers[0][1].started(within=15) is not None
        for login in ("102", "101"):
            callers.append(phone_media_call(sip_target, demo, login, demo["number"], WAIT_FOR_HANGUP))
            assert callers[-1][1].started(within=15) is not None
        results = [ended(sipp, audio) for sipp, audio in callers]
        # Read before the agents go: a deleted employee leaves history lines without them.
        lines = [history_line(api, sipp.call_id()) for sipp, _ in callers]
        stats = _settled_stats(api, made["id"], offered=3)
        metrics = _queue_metrics(stack, made["id"])
    finally:
        for phone in phones:
            phone.stop()
        for rtp in rtps:
            rtp.close()
        demo_steps(parallel({"kind": "employee", "employee_id": agents[0][0]["id"]}))
        api("DELETE", f"/queues/{made['id']}")
    for result in results:
        assert result.returncode == 0, result.explain()

    answered_by = [line["employee_id"] for line in lines]
    assert all(line["status"] == "answered" for line in lines), lines
    # The first two callers reach the two agents at once; the third, the agent free first, once rested.
    assert set(answered_by[:2]) == {e["id"] for e, _ in agents}
    rang = [_agent_rang_at(line, agent) for line, agent in zip(lines, answered_by, strict=True)]
    assert max(rang[:2]) < rang[2]
    first_free = min(_at(line["ended_at"]) for line in lines[:2])
    assert (rang[2] - first_free).total_seconds() >= WRAP_UP_S - 0.2
    assert (rang[1] - rang[0]).total_seconds() < 3, "the second caller waited for an agent while one was free"

    # History shows each wait; the third caller's spans the first call and the wrap-up.
    waits = [line["queue"]["wait_seconds"] for line in lines]
    assert all(line["queue"]["queue_id"] == made["id"] and line["queue"]["outcome"] == "answered" for line in lines)
    assert waits[2] >= TALK_MS / 1000 + WRAP_UP_S - 0.5, waits
    # The statistics say the same.
    period, live = stats["period"], stats["live"]
    assert (period["offered"], period["answered"], period["abandoned"]) == (3, 3, 0), period
    assert period["longest_wait_seconds"] == pytest.approx(max(waits), abs=0.01)
    assert period["average_wait_seconds"] == pytest.approx(sum(waits) / 3, abs=0.01)
    assert period["answered_within_service_level"] == sum(1 for w in waits if w <= 20)
    assert sorted((a["employee_id"], a["answered"]) for a in period["agents"]) == sorted(
        (agent, answered_by.count(agent)) for agent in set(answered_by)
    )
    assert period["average_talk_seconds"] == pytest.approx(TALK_MS / 1000, abs=1.0)
    assert (live["callers_waiting"], live["agents_logged_in"], live["agents_paused"]) == (0, 2, 0), live
    # And so does /metrics.
    assert metrics[("vpbx_queue_calls_total", "answered")] == 3, metrics
    assert metrics[("vpbx_queue_wait_seconds_total", "answered")] == pytest.approx(sum(waits), abs=0.01)
    assert metrics[("vpbx_queue_callers_waiting", None)] == 0
    assert metrics[("vpbx_queue_agents", "logged_in")] == 2


def _queue_metrics(stack, queue_id: int) -> dict:
    """The queue's samples on /metrics: {(name, outcome or state): value}."""
    text = metrics_text(stack)
    return {
        (sample.name, sample.labels.get("outcome") or sample.labels.get("state")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.labels.get("queue_id") == str(queue_id)
    }


def _settled_stats(api, queue_id: int, offered: int) -> dict:
    """The queue's statistics once the history keeper wrote every caller's time
    in it, the talk time of the answered ones included."""
    seen: dict = {}

    def settled() -> bool:
        status, body = api("GET", f"/queues/{queue_id}/stats")
        assert status == 200, body
        seen.update(body)
        period = body["period"]
        talked = sum(a["answered"] for a in period["agents"]) == period["answered"]
        return (
            period["offered"] == offered
            and talked
            and (period["average_talk_seconds"] is not None or not period["answered"])
        )

    wait_for(settled, 10, f"{offered} queue calls in the statistics")
    return seen


def test_an_agent_pauses_by_phone_and_a_queue_that_takes_no_one_then_sends_callers_on(
    stack, api, sip_target, demo, agent, demo_steps, voicemail_box, db, no_registrations
):
    employee, _ = agent
    box = voicemail_box(name="E2E paused queue", silence_s=2)
    status, made = api(
        "POST",
        "/queues",
        {
            "name": "E2E paused queue",
            "members": [employee["id"]],
            "join_empty": False,
            "fallback_voicemail_box_id": box["id"],
        },
    )
    assert status == 201, made
    try:
        _dial(sip_target, demo, employee, "*47")
        [state] = api("GET", f"/queues/{made['id']}")[1]["agents"]
        assert (state["logged_in"], state["pause_reason"]) == (True, "paused by phone")

        demo_steps(parallel({"kind": "queue", "queue_id": made["id"]}, timeout=15))
        caller, audio = media_call(stack, sip_target, demo["number"])
        # No agent to take the call: straight to the box, no music first.
        assert tone_heard(audio, BEEP_HZ, run=15, within=20), "the caller was not sent to the voicemail box"
        audio.speak(1.5)
        audio.press("#")
        assert ended(caller, audio).returncode == 0
        assert message_of(db, caller.call_id())["voicemail_box_id"] == box["id"]

        _dial(sip_target, demo, employee, "*48")
        assert api("GET", f"/queues/{made['id']}")[1]["agents"][0]["pause_reason"] is None
        status, body = api(
            "PUT", f"/queues/{made['id']}/agents/{employee['id']}", {"logged_in": False, "pause_reason": None}
        )
        assert (status, body["logged_in"]) == (200, False)
    finally:
        demo_steps(parallel({"kind": "employee", "employee_id": employee["id"]}))
        api("DELETE", f"/queues/{made['id']}")


def _dial(sip_target, demo, employee: dict, code: str) -> None:
    sipp, audio = phone_media_call(
        sip_target, demo, employee["extension"], code, WAIT_FOR_HANGUP, password=employee["sip_password"]
    )
    said = audio.burst(within=20)
    assert ended(sipp, audio).returncode == 0
    assert said is not None, f"nothing said after {code}"


def test_a_caller_who_hangs_up_while_an_agent_rings_leaves_nothing_behind(
    stack, cfg, api, ng, sip_target, demo, demo_steps, register, no_registrations
):
    status, employee = api("POST", "/employees", {"name": "Queue agent 383", "extension": "383"})
    assert status == 201, employee
    port = free_udp_port()
    assert register("383", port, password=employee["sip_password"])[0] == 200
    ringing = Sipp("uas_ring_until_cancelled.xml", port=port, timeout_s=40, recv_timeout_s=30).start()
    status, made = api(
        "POST", "/queues", {"name": "E2E hang-up queue", "members": [employee["id"]], "agent_ring_time": 30}
    )
    assert status == 201, made
    client = redis.Redis.from_url(cfg.redis_url)
    try:
        demo_steps(parallel({"kind": "queue", "queue_id": made["id"]}, timeout=15))
        caller, audio = media_call(stack, sip_target, demo["number"], hang_up_after(4000, TO_THE_MEDIA_APP))
        assert audio.started(within=15) is not None
        assert ended(caller, audio).returncode == 0  # the caller hung up while the agent rang

        def nothing_left() -> bool:
            line = client.zcard(waiting_line.line_key(made["id"]))
            claimed = client.exists(waiting_line.claim_key(employee["id"]))
            return line == 0 and not claimed and rtpengine_forgot(ng, caller.call_id())

        wait_for(nothing_left, 5, "the queue's line, the agent's claim and the media session to be gone")
        cancelled = ringing.wait()  # the agent's phone stopped ringing: it got the CANCEL
        assert cancelled.returncode == 0, cancelled.explain()
        period = _settled_stats(api, made["id"], offered=1)["period"]
        assert (period["abandoned"], period["answered"]) == (1, 0), period
        assert 2 <= period["average_abandoned_wait_seconds"] <= 5, period
        assert history_line(api, caller.call_id())["queue"]["outcome"] == "abandoned"
    finally:
        ringing.stop()
        client.close()
        demo_steps(parallel({"kind": "employee", "employee_id": employee["id"]}))
        api("DELETE", f"/queues/{made['id']}")
        api("DELETE", f"/employees/{employee['id']}")


def test_ring_all_rings_every_free_agent_and_only_the_one_who_answered_rests(
    stack, cfg, api, sip_target, demo, demo_steps, made_agents, no_registrations
):
    agents = made_agents("393", "394")
    (answering, answering_port), (ringing, ringing_port) = agents
    status, made = api(
        "POST",
        "/queues",
        {"name": "E2E ring all", "strategy": "ring_all", "members": [e["id"] for e, _ in agents], "wrap_up": 60},
    )
    assert status == 201, made
    rtp = RtpEndpoint()
    answers = _answering(answering_port, rtp.port, ring_ms=1000, talk_ms=1000, timeout_s=30).start()
    rings = Sipp("uas_ring_until_cancelled.xml", port=ringing_port, timeout_s=30).start()
    client = redis.Redis.from_url(cfg.redis_url)
    try:
        demo_steps(parallel({"kind": "queue", "queue_id": made["id"]}, timeout=15))
        caller, audio = media_call(stack, sip_target, demo["number"])
        result = ended(caller, audio)
        answered, cancelled = answers.wait(), rings.wait()
        line = history_line(api, caller.call_id())
        rests = {e["id"]: client.get(waiting_line.claim_key(e["id"])) for e, _ in agents}
    finally:
        answers.stop()
        rings.stop()
        rtp.close()
        client.delete(*(waiting_line.claim_key(e["id"]) for e, _ in agents))
        client.close()
        demo_steps(parallel({"kind": "employee", "employee_id": answering["id"]}))
        api("DELETE", f"/queues/{made['id']}")
    assert result.returncode == 0, result.explain()
    assert answered.returncode == 0, answered.explain()
    assert cancelled.returncode == 0, cancelled.explain()  # both rang; the other was cancelled
    assert line["employee_id"] == answering["id"]
    assert rests == {answering["id"]: b"wrap-up", ringing["id"]: None}


def test_in_order_rings_the_lower_penalty_first_and_moves_on_when_they_decline(
    stack, api, sip_target, demo, demo_steps, made_agents, no_registrations
):
    agents = made_agents("395", "396")
    (listed_first, first_port), (lower_penalty, lower_port) = agents
    status, made = api(
        "POST",
        "/queues",
        {"name": "E2E in order", "strategy": "in_order", "members": [listed_first["id"], lower_penalty["id"]]},
    )
    assert status == 201, made
    # The first listed agent would ring first, but their penalty puts them behind.
    status, state = api("PUT", f"/queues/{made['id']}/agents/{listed_first['id']}", {"penalty": 1})
    assert (status, state["penalty"]) == (200, 1), state
    rtp = RtpEndpoint()
    declines = Sipp("uas_reject.xml", port=lower_port, values={"code": 486, "phrase": "Busy Here"}, timeout_s=30)
    answers = _answering(first_port, rtp.port, talk_ms=1000, timeout_s=30)
    declines.start()
    answers.start()
    try:
        demo_steps(parallel({"kind": "queue", "queue_id": made["id"]}, timeout=15))
        caller, audio = media_call(stack, sip_target, demo["number"])
        result = ended(caller, audio)
        declined, answered = declines.wait(), answers.wait()
        line = history_line(api, caller.call_id())
    finally:
        declines.stop()
        answers.stop()
        rtp.close()
        demo_steps(parallel({"kind": "employee", "employee_id": listed_first["id"]}))
        api("DELETE", f"/queues/{made['id']}")
    assert result.returncode == 0, result.explain()
    assert declined.returncode == 0, declined.explain()
    assert answered.returncode == 0, answered.explain()
    legs = sorted((leg for leg in line["legs"] if leg["employee_id"]), key=lambda leg: leg["rang_at"])
    assert [leg["employee_id"] for leg in legs] == [lower_penalty["id"], listed_first["id"]], line["legs"]
    assert line["employee_id"] == listed_first["id"]


CLIENT = "+79161234567"  # the carrier caller's number (scenarios/uac_media.xml), as the company reads it


def test_a_caller_who_asks_to_be_called_back_is_called_when_the_agent_is_free_agent_first(
    stack, api, sip_target, demo, agent, demo_steps, outbound_carrier, no_registrations
):
    employee, port = agent
    status, made = api(
        "POST",
        "/queues",
        {
            "name": "E2E callback queue",
            "members": [employee["id"]],
            "agent_ring_time": 10,
            "wrap_up": WRAP_UP_S,
            "offer_callback": True,
        },
    )
    assert status == 201, made
    agent_rtp, client_rtp = RtpEndpoint(), RtpEndpoint()
    # The agent takes the first caller's call, then the callback.
    agent_phone = _answering(port, agent_rtp.port, calls=2, talk_ms=TALK_MS, timeout_s=60, recv_timeout_s=40).start()
    client_phone = Sipp(
        "uas_answer_pcma.xml",
        port=outbound_carrier,
        keys={"rtp_port": client_rtp.port},
        values={"ring_ms": 500},
        timeout_s=60,
        recv_timeout_s=40,
    ).start()
    try:
        demo_steps(parallel({"kind": "queue", "queue_id": made["id"]}, timeout=15))
        first, first_audio = phone_media_call(sip_target, demo, "102", demo["number"], WAIT_FOR_HANGUP)
        assert first_audio.started(within=15) is not None
        second, second_audio = media_call(stack, sip_target, demo["number"])
        # The agent is busy: the second caller hears the keys they may press and
        # presses 2 without waiting for the end; they are told they will be
        # called back, and the queue hangs up (WAIT_FOR_HANGUP fails otherwise).
        assert second_audio.started(within=15) is not None, "the waiting caller heard nothing"
        second_audio.press("2")
        second_result = ended(second, second_audio)
        first_result = ended(first, first_audio)
        answered, client = agent_phone.wait(), client_phone.wait()
        first_line = history_line(api, first.call_id())
        # The callback's outcome reaches history just after its last BYE.
        second_line = wait_for(
            lambda: (line := history_line(api, second.call_id()))["queue"]["callback_outcome"] and line,
            10,
            "the callback's outcome in history",
        )
        callback_id = second_line["queue"]["callback_call_id"]
        stats = _settled_stats(api, made["id"], offered=2)
        callback_line = history_line(api, callback_id)
    finally:
        agent_phone.stop()
        client_phone.stop()
        agent_rtp.close()
        client_rtp.close()
        demo_steps(parallel({"kind": "employee", "employee_id": employee["id"]}))
        api("DELETE", f"/queues/{made['id']}")
    for result in (first_result, second_result, answered, client):
        assert result.returncode == 0, result.explain()

    # The agent rang first, showing the caller's number, then the caller was called.
    invites = [m for m in sip_log.received(answered.messages) if m.startswith("INVITE ")]
    assert len(invites) == 2
    assert f"<sip:{CLIENT}@" in sip_log.header(invites[1], "From")
    to_client = sip_log.first(sip_log.received(client.messages), "INVITE ")
    assert to_client.startswith(f"INVITE sip:{CLIENT}@127.0.0.1:{outbound_carrier} ")

    # History links the caller's line and the call back's line.
    assert first_line["queue"]["outcome"] == "answered"
    assert (second_line["queue"]["outcome"], second_line["queue"]["callback_outcome"]) == ("callback", "answered")
    assert callback_line["queue"]["callback_of"] == second.call_id()
    # The same link as a department's callback makes, on the lines themselves.
    assert (second_line["callback"]["number"], second_line["callback"]["call_id"]) == (CLIENT, callback_id)
    assert callback_line["callback_of"] == second.call_id()
    assert (callback_line["direction"], callback_line["called"], callback_line["status"]) == (
        "outgoing",
        CLIENT,
        "answered",
    )
    assert callback_line["caller_employee_id"] == employee["id"]
    # Called back once the agent had rested after the first call.
    rest = (_at(callback_line["started_at"]) - _at(first_line["ended_at"])).total_seconds()
    assert rest >= WRAP_UP_S - 0.2, rest
    period = stats["period"]
    assert (period["offered"], period["answered"], period["callbacks_asked"], period["callbacks_answered"]) == (
        2,
        1,
        1,
        1,
    ), period
    assert stats["live"]["callers_waiting"] == 0


def test_callback_requests_keep_their_order_through_a_media_app_restart(
    stack, cfg, api, sip_target, demo, agent, demo_steps, outbound_carrier, media_app, no_registrations
):
    employee, port = agent
    status, made = api(
        "POST",
        "/queues",
        {"name": "E2E restart queue", "members": [employee["id"]], "wrap_up": 1, "offer_callback": True},
    )
    assert status == 201, made
    agent_url = f"/queues/{made['id']}/agents/{employee['id']}"
    assert api("PUT", agent_url, {"logged_in": False})[0] == 200  # nobody takes the calls yet
    client = redis.Redis.from_url(cfg.redis_url)
    agent_rtp, client_rtp = RtpEndpoint(), RtpEndpoint()
    agent_phone = client_phone = None
    try:
        demo_steps(parallel({"kind": "queue", "queue_id": made["id"]}, timeout=15))
        asked = []
        for _ in range(2):
            caller, audio = media_call(stack, sip_target, demo["number"])
            assert audio.started(within=15) is not None
            audio.press("2")
            assert ended(caller, audio).returncode == 0
            asked.append(caller.call_id())
        line_before = [m.decode() for m in client.zrange(waiting_line.line_key(made["id"]), 0, -1)]

        media_app.stop()
        media_app.start()
        line_after = [m.decode() for m in client.zrange(waiting_line.line_key(made["id"]), 0, -1)]

        agent_phone = _answering(port, agent_rtp.port, calls=2, talk_ms=1500, timeout_s=60, recv_timeout_s=45).start()
        client_phone = Sipp(
            "uas_answer_pcma.xml",
            port=outbound_carrier,
            calls=2,
            keys={"rtp_port": client_rtp.port},
            values={"ring_ms": 300},
            timeout_s=60,
            recv_timeout_s=45,
        ).start()
        assert api("PUT", agent_url, {"logged_in": True})[0] == 200
        answered, called = agent_phone.wait(), client_phone.wait()
        wait_for(
            lambda: all(history_line(api, c)["queue"]["callback_outcome"] for c in asked),
            10,
            "both callbacks in history",
        )
        lines = [history_line(api, call_id) for call_id in asked]
    finally:
        for phone in (agent_phone, client_phone):
            if phone is not None:
                phone.stop()
        agent_rtp.close()
        client_rtp.close()
        client.close()
        demo_steps(parallel({"kind": "employee", "employee_id": employee["id"]}))
        api("DELETE", f"/queues/{made['id']}")
    assert line_before == line_after == asked  # the line survived the media app, in order
    assert answered.returncode == 0, answered.explain()
    assert called.returncode == 0, called.explain()
    # Called back in the order they asked: the agent's first call is the first caller's callback.
    callbacks = [line["queue"]["callback_call_id"] for line in lines]
    assert [line["queue"]["callback_outcome"] for line in lines] == ["answered", "answered"]
    invites = [m for m in sip_log.received(answered.messages) if m.startswith("INVITE ")]
    to_agent = [sip_log.header(invite, "Call-ID") for invite in invites]
    assert to_agent == [f"employee-{callback}" for callback in callbacks], (to_agent, callbacks)


def test_a_caller_of_a_priority_number_waits_ahead_of_one_who_came_first(
    stack, api, sip_target, demo, agent, demo_steps, new_number, no_registrations
):
    employee, port = agent
    status, made = api("POST", "/queues", {"name": "E2E priority queue", "members": [employee["id"]], "wrap_up": 1})
    assert status == 201, made
    agent_url = f"/queues/{made['id']}/agents/{employee['id']}"
    assert api("PUT", agent_url, {"logged_in": False})[0] == 200  # both callers wait
    scheme = next(s for s in api("GET", "/schemes")[1] if s["name"] == "Ring everyone")
    status, body = api("PATCH", f"/numbers/{new_number}", {"scheme_id": scheme["id"], "queue_priority": 5})
    assert (status, body["queue_priority"]) == (200, 5), body
    rtp = RtpEndpoint()
    agent_phone = None
    try:
        demo_steps(parallel({"kind": "queue", "queue_id": made["id"]}, timeout=15))
        # One SIPp at a time holds the demo trunk's port: the first caller is a company phone.
        first, first_audio = phone_media_call(sip_target, demo, "102", demo["number"], WAIT_FOR_HANGUP)
        assert first_audio.started(within=15) is not None
        vip, vip_audio = media_call(stack, sip_target, new_number)
        if vip_audio.started(within=15) is None:
            vip.stop()
            raise AssertionError("the priority caller never reached the queue: " + ended(vip, vip_audio).explain())
        agent_phone = _answering(port, rtp.port, calls=2, talk_ms=1000, timeout_s=60, recv_timeout_s=30).start()
        assert api("PUT", agent_url, {"logged_in": True})[0] == 200
        results = [ended(first, first_audio), ended(vip, vip_audio)]
        answered = agent_phone.wait()
        lines = [history_line(api, call.call_id()) for call in (first, vip)]
    finally:
        if agent_phone is not None:
            agent_phone.stop()
        rtp.close()
        demo_steps(parallel({"kind": "employee", "employee_id": employee["id"]}))
        api("DELETE", f"/queues/{made['id']}")
    for result in (*results, answered):
        assert result.returncode == 0, result.explain()
    first_rang, vip_rang = (_agent_rang_at(line, employee["id"]) for line in lines)
    assert _at(lines[1]["started_at"]) > _at(lines[0]["started_at"])
    assert vip_rang < first_rang, "the priority caller did not go first"
    assert lines[1]["queue"]["wait_seconds"] < lines[0]["queue"]["wait_seconds"]


def _runs(packets: list[bytes]) -> list[tuple[str, int]]:
    runs: list[tuple[str, int]] = []
    for packet in packets:
        ssrc = hex(RtpEndpoint.ssrc_of(packet))
        if runs and runs[-1][0] == ssrc:
            runs[-1] = (ssrc, runs[-1][1] + 1)
        else:
            runs.append((ssrc, 1))
    return runs


def test_the_agent_hears_a_whisper_before_the_caller(stack, api, sip_target, demo, agent, demo_steps, no_registrations):
    employee, port = agent
    status, made = api("POST", "/queues", {"name": "Sales", "members": [employee["id"]], "whisper": True})
    assert status == 201, made
    agent_rtp = RtpEndpoint()
    agent_phone = _answering(port, agent_rtp.port, talk_ms=6000, timeout_s=40).start()
    before_caller: list[bytes] = []
    caller_heard = False
    try:
        demo_steps(parallel({"kind": "queue", "queue_id": made["id"]}, timeout=15))
        caller, audio = media_call(stack, sip_target, demo["number"])
        assert audio.started(within=15) is not None  # from here on the caller streams to the queue
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not caller_heard:
            for packet, _ in agent_rtp.receive(50, 0.5):
                if RtpEndpoint.ssrc_of(packet) == audio.ssrc:
                    caller_heard = True
                    break
                before_caller.append(packet)
        result, answered = ended(caller, audio), agent_phone.wait()
    finally:
        agent_phone.stop()
        agent_rtp.close()
        demo_steps(parallel({"kind": "employee", "employee_id": employee["id"]}))
        api("DELETE", f"/queues/{made['id']}")
    assert result.returncode == 0, result.explain()
    assert answered.returncode == 0, answered.explain()
    assert caller_heard, ("the agent never heard the caller", hex(audio.ssrc), _runs(before_caller))
    # "A call from queue Sales." came first: about a second and more of another stream.
    assert len(before_caller) >= 40, len(before_caller)
    assert {RtpEndpoint.ssrc_of(p) for p in before_caller} != {audio.ssrc}


ANNOUNCEMENT_HZ = 700


def test_a_waiting_caller_hears_the_companys_own_announcement_between_the_music(
    stack, api, sip_target, demo, demo_steps, made_prompt, tmp_path, no_registrations
):
    prompt = made_prompt("E2E queue announcement")
    upload_tone(stack, demo, prompt["id"], ANNOUNCEMENT_HZ, 1.0, tmp_path)
    status, made = api(
        "POST",
        "/queues",
        {
            "name": "E2E announced queue",
            "max_wait": 15,
            "announce_position_every": 10,
            "announce_position": False,
            "announce_prompt_id": prompt["id"],
        },
    )
    assert status == 201, made
    try:
        demo_steps(parallel({"kind": "queue", "queue_id": made["id"]}, timeout=15))
        caller, audio = media_call(stack, sip_target, demo["number"])
        assert tone_heard(audio, RINGBACK_HZ, run=30, within=10), "no music first"
        started = time.monotonic()
        heard = tone_heard(audio, ANNOUNCEMENT_HZ, run=30, within=15)
        after_s = time.monotonic() - started
        result = ended(caller, audio)  # the longest wait: a goodbye, and the queue hangs up
        in_use = api("DELETE", f"/prompts/{prompt['id']}")
    finally:
        demo_steps(parallel({"kind": "employee", "employee_id": api("GET", "/employees")[1][0]["id"]}))
        api("DELETE", f"/queues/{made['id']}")
    assert result.returncode == 0, result.explain()
    assert heard, "the announcement never came"
    assert after_s < 12, after_s  # at 10 s into the wait, not at its end
    assert in_use[0] == 422 and "queue 'E2E announced queue'" in str(in_use[1]), in_use


def test_a_caller_who_hangs_up_during_an_announcement_leaves_nothing_behind(
    stack, cfg, api, ng, sip_target, demo, demo_steps, no_registrations
):
    status, made = api("POST", "/queues", {"name": "E2E left during a word", "announce_position_every": 10})
    assert status == 201, made
    client = redis.Redis.from_url(cfg.redis_url)
    try:
        demo_steps(parallel({"kind": "queue", "queue_id": made["id"]}, timeout=15))
        # Ten seconds in, the caller's place is being said: they hang up in the middle of it.
        caller, audio = media_call(stack, sip_target, demo["number"], hang_up_after(10700, TO_THE_MEDIA_APP))
        assert audio.started(within=15) is not None
        assert ended(caller, audio).returncode == 0

        def nothing_left() -> bool:
            keys = client.keys(f"vpbx:queue:{made['id']}:*")
            return not keys and rtpengine_forgot(ng, caller.call_id())

        wait_for(nothing_left, 5, "the queue's keys and the media session to be gone")
        period = _settled_stats(api, made["id"], offered=1)["period"]
    finally:
        client.close()
        demo_steps(parallel({"kind": "employee", "employee_id": api("GET", "/employees")[1][0]["id"]}))
        api("DELETE", f"/queues/{made['id']}")
    assert period["abandoned"] == 1, period
    assert 10 <= period["average_abandoned_wait_seconds"] <= 12, period


def _spoken(library: PromptLibrary, place: int) -> list[float]:
    """The envelope of the position prompt for ``place``, from its first word."""
    return spoken_envelope(asyncio.run(library.standard("queue_position", position=place)))


def test_a_waiting_caller_hears_their_place_read_out_as_the_prompt_says_it(
    stack, cfg, api, sip_target, demo, demo_steps, no_registrations
):
    status, made = api("POST", "/queues", {"name": "E2E position", "max_wait": 15, "announce_position_every": 10})
    assert status == 201, made
    try:
        demo_steps(parallel({"kind": "queue", "queue_id": made["id"]}, timeout=15))
        caller, audio = media_call(stack, sip_target, demo["number"])
        heard = audio.packets(50 * 15, within=17)  # the music, the announcement at 10 s, more music
        result = ended(caller, audio)
    finally:
        demo_steps(parallel({"kind": "employee", "employee_id": api("GET", "/employees")[1][0]["id"]}))
        api("DELETE", f"/queues/{made['id']}")
    assert result.returncode == 0, result.explain()
    received = envelope(b"".join(alaw_to_linear(p[12:]) for p in heard))
    library = PromptLibrary(cfg.media.data_dir / "prompts", engine=cfg.media.tts_engine)
    # Place 1 as the media app renders it (the same text, the same file), and
    # place 2 to tell them apart: the caller heard the first, 10 s into the wait.
    place_1, start = best_match(received, _spoken(library, 1), start=400)
    place_2, _ = best_match(received, _spoken(library, 2), start=400)
    assert place_1 > 0.98, (place_1, start)
    assert 9.5 <= start / 50 <= 12, start
    assert place_2 < 0.9, (place_1, place_2)  # measured: 0.99999 against 0.66
