"""Which of a call queue's agents a waiting caller, or a callback request in
its turn, rings next (R18): shared by media/nodes/queue.py and
media/callbacks.py, so both follow the same rules.

An agent is free when logged in, not paused, and claimed by no caller on any
node (media/waiting_line.py). A caller rings only while fewer callers are
ahead of them than agents are free; among the free agents, those with the
lowest penalty, in the order of the queue's strategy. An agent who did not
answer is not rung again for this caller until every free agent has had a
turn, and then only after RETRY_S.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from .store import Queue, Store
from .waiting_line import WaitingLine, lowest_penalty

# How often a waiting caller looks at their place and the free agents.
LOOK_EVERY_S = 1.0
# Once every agent was rung for a caller and none answered, the round starts
# again after this pause (Asterisk's "retry"): no agent is rung back to back.
RETRY_S = 5.0
# How often a waiting caller's media app reads which agents are logged in and not paused.
AGENTS_READ_EVERY_S = 5.0


@dataclass
class AgentTurns:
    queue: Queue
    store: Store
    line: WaitingLine
    declined: set[int] = field(default_factory=set)  # rung for this caller, did not answer
    retry_at: float = 0.0
    read_at: float = field(default_factory=time.monotonic)  # the queue's agents, as loaded

    async def claim(self, call_id: str, place: int, *, every: bool) -> list[int]:
        """The agents claimed for the caller at ``place`` (0: first): every free
        one of the lowest penalty with ``every`` (ring all), else the next one;
        none while the callers ahead take every free agent."""
        if time.monotonic() >= self.read_at + AGENTS_READ_EVERY_S:
            agents, penalty = await self.store.queue_agents(self.queue.id)  # logged in or out, paused meanwhile
            self.queue = replace(self.queue, agents=agents, penalty=penalty)
            self.read_at = time.monotonic()
        free = await self.line.free(list(self.queue.agents))
        if place >= len(free):
            return []
        if not [a for a in free if a not in self.declined] and time.monotonic() >= self.retry_at:
            self.declined.clear()  # everyone had a turn: round again, after a pause
        candidates = lowest_penalty([a for a in free if a not in self.declined], self.queue.penalty)
        ordered = await self.line.in_order(self.queue.strategy, candidates)
        return await self.line.claim_for(call_id, ordered, every=every)

    def not_answered(self, agents: list[int]) -> None:
        self.declined.update(agents)
        self.retry_at = time.monotonic() + RETRY_S
