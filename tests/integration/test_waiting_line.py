"""A call queue's waiting line and agents in the test stack's real Redis: one
line for every media app, first come first served, ghosts dropped, agents
claimed by one caller at a time and rested after a call."""

from __future__ import annotations

import asyncio
import secrets

import redis.asyncio as aioredis

from vpbx.media import waiting_line
from vpbx.media.waiting_line import WaitingLine


def _run(cfg, scenario):
    async def main():
        client = aioredis.Redis.from_url(cfg.redis_url)
        queue_id = 900_000 + secrets.randbelow(100_000)  # no queue of the test company has it
        try:
            await scenario(WaitingLine(client, queue_id), WaitingLine(client, queue_id), client, queue_id)
        finally:
            keys = [k async for k in client.scan_iter(f"vpbx:queue:{queue_id}:*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()

    asyncio.run(main())


def test_callers_of_two_media_apps_share_one_line_in_the_order_they_came(cfg):
    async def scenario(node_a, node_b, client, queue_id):
        assert await node_a.join("first", 3) == 0
        assert await node_b.join("second", 3) == 1
        assert await node_a.join("third", 3) == 2
        assert await node_b.join("fourth", 3) is None  # full
        assert [await node_b.place(c) for c in ("first", "second", "third")] == [0, 1, 2]
        await node_a.leave("first")
        assert [await node_a.place(c) for c in ("second", "third")] == [0, 1]
        assert await node_a.place("first") is None
        assert await node_a.waiting() == 2

    _run(cfg, scenario)


def test_a_caller_whose_media_app_died_is_dropped_and_nobody_waits_behind_them(cfg):
    async def scenario(node_a, node_b, client, queue_id):
        await node_a.join("ghost", 5)
        await node_b.join("live", 5)
        # The ghost's media app stopped refreshing it: its alive key lapses.
        await client.delete(waiting_line.alive_key(queue_id, "ghost"))
        assert await node_b.place("live") == 0
        assert await node_b.waiting() == 1

    _run(cfg, scenario)


def test_an_agent_is_claimed_by_one_caller_and_rests_after_a_call(cfg):
    async def scenario(node_a, node_b, client, queue_id):
        agents = [secrets.randbelow(10**9) + 10**9 for _ in range(2)]
        try:
            assert await node_a.claim(agents[0], "first")
            assert not await node_b.claim(agents[0], "second")  # another node's caller cannot take them
            assert await node_b.free(agents) == [agents[1]]
            await node_a.release(agents[0], wrap_up_s=1)
            assert await node_b.free(agents) == [agents[1]]  # resting
            await asyncio.sleep(1.2)
            assert await node_b.free(agents) == agents
            await node_a.claim(agents[1], "first")
            await node_a.release(agents[1])  # did not answer: free at once
            assert await node_b.free(agents) == agents
        finally:
            await client.delete(*(waiting_line.claim_key(a) for a in agents))

    _run(cfg, scenario)


def test_round_robin_moves_on_one_agent_per_caller_and_longest_idle_rings_the_longest_free_first(cfg):
    async def scenario(node_a, node_b, client, queue_id):
        agents = [1, 2, 3]
        orders = [await node_a.in_order("round_robin", agents) for _ in range(3)]
        assert orders == [[1, 2, 3], [2, 3, 1], [3, 1, 2]]
        await node_a.took_call(1)
        await asyncio.sleep(0.01)
        await node_b.took_call(3)
        assert await node_b.in_order("longest_idle", agents) == [2, 1, 3]  # 2 never took one
        assert await node_b.in_order("ring_all", agents) == agents

    _run(cfg, scenario)


def test_unanswered_calls_are_counted_in_a_row_until_one_is_answered(cfg):
    async def scenario(node_a, node_b, client, queue_id):
        assert [await node_a.missed(7), await node_b.missed(7)] == [1, 2]  # counted across nodes
        await node_a.answered(7)
        assert await node_b.missed(7) == 1

    _run(cfg, scenario)


def test_in_order_keeps_the_queues_order_fewest_calls_counts_todays_and_random_rings_each_one(cfg):
    async def scenario(node_a, node_b, client, queue_id):
        agents = [5, 3, 9]
        assert [await node_a.in_order("in_order", agents) for _ in range(2)] == [agents, agents]
        await node_a.took_call(5)
        await node_b.took_call(5)
        await node_b.took_call(3)
        assert await node_a.in_order("fewest_calls", agents) == [9, 3, 5]
        orders = {tuple(await node_b.in_order("random", agents)) for _ in range(60)}
        assert all(sorted(order) == sorted(agents) for order in orders)
        assert len({order[0] for order in orders}) == 3  # anyone can be first: 3 * (2/3)**60 it fails by chance

    _run(cfg, scenario)


def test_an_agent_with_a_higher_penalty_is_rung_only_when_no_one_with_a_lower_one_can_be():
    penalty = {1: 2, 2: 0, 3: 0, 4: 1}
    assert waiting_line.lowest_penalty([1, 2, 3, 4], penalty) == [2, 3]
    assert waiting_line.lowest_penalty([1, 4], penalty) == [4]
    assert waiting_line.lowest_penalty([1, 7], penalty) == [7]  # not listed: 0
    assert waiting_line.lowest_penalty([], penalty) == []


def test_the_estimated_wait_moves_a_quarter_of_the_way_toward_each_answered_wait(cfg):
    async def scenario(node_a, node_b, client, queue_id):
        assert await node_a.estimated_wait() is None
        await node_a.answered_after(40.0)
        await node_b.answered_after(80.0)  # another node's caller
        assert await node_a.estimated_wait() == 50.0

    _run(cfg, scenario)
