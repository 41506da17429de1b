"""The history keeper: reads call events from the Redis stream and writes them
to PostgreSQL, acknowledging each batch only once it has committed.

A consumer group lets several keepers (one per node) share the stream; events
a keeper read but never acknowledged (it died) are read again first on restart.
While PostgreSQL is down nothing is acknowledged, and the stream buffers.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import psycopg
import redis

from ..db import Connection
from . import events
from .store import apply
from .totals import Totals

log = logging.getLogger(__name__)
GROUP = "history-keeper"
BATCH = 200
BLOCK_MS = 1000
RETRY_SECONDS = 1.0


def ensure_group(client: redis.Redis) -> None:
    try:
        # From the stream's start: events emitted before the first keeper ran count too.
        client.xgroup_create(events.STREAM, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _decode(raw) -> dict | None:
    try:
        event = json.loads(raw)
        return event if isinstance(event, dict) else None
    except ValueError:
        return None


def write_batch(conn: Connection, batch: list[tuple[bytes, dict]]) -> None:
    """Apply stream entries in one transaction; an event that cannot apply
    (malformed) is logged and skipped inside its own savepoint instead of
    blocking the rest."""
    with conn.transaction():
        moved = Totals()
        for entry_id, fields in batch:
            for raw in events.from_entry(fields):
                event = _decode(raw)
                if event is None:
                    log.error("an event of entry %s is not JSON: dropped", entry_id)
                    continue
                try:
                    with conn.transaction():
                        this_event = Totals()
                        apply(conn, event, this_event)
                    moved.add(this_event)  # only once its writes stand
                except (
                    KeyError,
                    TypeError,
                    ValueError,
                    psycopg.errors.DataError,
                    psycopg.errors.IntegrityError,
                ) as exc:
                    log.error("an event of entry %s cannot be recorded (%s): dropped: %s", entry_id, exc, event)
        moved.write(conn)


def keep(
    client: redis.Redis,
    connect: Callable[[], Connection],
    consumer: str,
    should_stop: Callable[[], bool] = lambda: False,
    heartbeat: Callable[[], None] = lambda: None,
) -> None:
    conn: Connection | None = None
    backlog = True  # first what this consumer read before and never acknowledged
    # Made sure of at the start and after any Redis error (a restarted Redis
    # may have lost the group), not before every read: one command less per batch.
    group_ready = False
    while not should_stop():
        try:
            heartbeat()  # each pass, so a keeper stuck elsewhere stops beating
            if not group_ready:
                ensure_group(client)
                group_ready = True
            reply: Any = client.xreadgroup(  # redis-py types sync replies as "Awaitable | Any"
                GROUP,
                consumer,
                {events.STREAM: "0" if backlog else ">"},
                count=BATCH,
                block=None if backlog else BLOCK_MS,
            )
            batch = reply[0][1] if reply else []
            if backlog and not batch:
                backlog = False
                continue
            if not batch:
                continue
            if conn is None or conn.closed:
                conn = connect()
            write_batch(conn, batch)
            # Written: acknowledged, and gone from the stream (one group reads it),
            # which holds only what waits for PostgreSQL, not every call since
            # the last trim (STREAM_MAX_LEN entries would be hundreds of MB).
            done = [entry_id for entry_id, _ in batch]
            pipe = client.pipeline(transaction=False)
            pipe.xack(events.STREAM, GROUP, *done)
            pipe.xdel(events.STREAM, *done)
            pipe.execute()
        except (redis.RedisError, psycopg.Error) as exc:
            group_ready = group_ready and not isinstance(exc, redis.RedisError)
            log.error("history not written now, retrying: %s", exc)
            if conn is not None and not conn.closed:
                conn.close()
            conn = None
            backlog = True
            time.sleep(RETRY_SECONDS)
