"""Call events Redis could not take, kept on local disk until it can.

A call's history line must outlive a Redis outage (billing disputes, missed-
call callbacks), so an event the stream refused is appended here, in the order
it was emitted, and handed to the stream again once Redis answers. While
anything waits here, newer events queue behind it: the keeper sees a call's
"answered" before its "ended". Replaying an event twice is harmless (the
history store is idempotent), so a crash halfway through a replay only
repeats some.

One writer per file: each process that emits events has its own spool.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

# About a million typical events: hours of a busy node's calls.
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
# Batches handed to ``send`` at once while replaying.
REPLAY_CHUNK = 100


class Spool:
    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES):
        self.path = path
        self.max_bytes = max_bytes

    def pending(self) -> bool:
        try:
            return self.path.stat().st_size > 0
        except FileNotFoundError:
            return False

    def add(self, batch: list[str]) -> int:
        """Keep a batch of events (JSON texts); returns how many could not be kept."""
        if not batch:
            return 0
        line = json.dumps(batch, separators=(",", ":")) + "\n"
        try:
            size = self.path.stat().st_size if self.path.exists() else 0
            if size + len(line) > self.max_bytes:
                log.error("history spool %s is full (%d bytes): %d call events dropped", self.path, size, len(batch))
                return len(batch)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            log.error("history spool %s cannot be written (%s): %d call events dropped", self.path, exc, len(batch))
            return len(batch)
        return 0

    def read(self) -> list[list[str]]:
        """The kept batches, oldest first."""
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        batches = []
        for number, line in enumerate(lines, 1):
            try:
                batches.append(json.loads(line))
            except ValueError:  # a line cut short by a crash mid-write
                log.error("history spool %s line %d is not JSON: skipped", self.path, number)
                batches.append([])
        return batches

    def forget(self, count: int) -> None:
        """Drop the ``count`` oldest batches (delivered); batches added since
        ``read`` stay."""
        try:
            lines = self.path.read_text().splitlines(keepends=True)
        except FileNotFoundError:
            return
        if count >= len(lines):
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(lines[count:]))
        tmp.replace(self.path)

    def drain(self, send: Callable[[list[list[str]]], None]) -> int:
        """Hand every kept batch to ``send`` (a chunk of batches at a time, oldest
        first) and forget those it took. If ``send`` raises, what it did not take
        stays for the next drain and the exception propagates. Returns the number
        of events handed over."""
        batches = self.read()
        sent = 0
        for start, chunk in _chunks(batches):
            try:
                send(chunk)
            except Exception:
                self.forget(start)
                raise
            sent += sum(len(batch) for batch in chunk)
        self.forget(len(batches))
        return sent

    async def drain_async(self, send: Callable[[list[list[str]]], Awaitable[None]]) -> int:
        """``drain`` for a process whose Redis client is asyncio's."""
        batches = self.read()
        sent = 0
        for start, chunk in _chunks(batches):
            try:
                await send(chunk)
            except Exception:
                self.forget(start)
                raise
            sent += sum(len(batch) for batch in chunk)
        self.forget(len(batches))
        return sent


def _chunks(batches: list[list[str]]) -> Iterator[tuple[int, list[list[str]]]]:
    """(index of the first batch, its chunk's non-empty batches), oldest first."""
    for start in range(0, len(batches), REPLAY_CHUNK):
        chunk = [batch for batch in batches[start : start + REPLAY_CHUNK] if batch]
        if chunk:
            yield start, chunk
