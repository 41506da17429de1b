"""A worker's view of the routing documents: Redis first, its own copy when Redis cannot answer.

Each read is one round trip: the MGET of the document's version key and the
cache generation marker, pipelined with the shared state of the round robin
and longest idle departments the worker's copy of that document routes to (a
turn taken with HINCRBY, or the members' call times). Parsed documents are
kept per key and version: the document itself is fetched (a second round
trip) only when the worker has no copy of that version, after a change.

When Redis is unreachable, or has lost its data (no generation marker: the
cache keeper is rebuilding it from PostgreSQL), the worker routes from the
newest copy it can find: its own, or the one every worker shares (``Shared``:
in Kamailio, an htable in shared memory). Each worker that fetches a new
version leaves it there, so a change one worker has seen reaches all of them,
and a number one worker has routed routes in every worker.

A version read from Redis is also left for the other workers (``Versions``:
in Kamailio, an htable whose entries live one to two seconds): a call to a
document whose version is there, and whose departments keep no shared state,
costs no round trip at all. Whoever publishes a change empties it at once
on its host (``htable.flush`` over RPC, config/publish.py); Kamailios on
other hosts see the change when their entry expires, within two seconds.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import redis

from ..documents import DOCUMENT_PREFIXES, GENERATION_KEY, decode_document, version_key
from ..routing.department_state import DepartmentState, plans_vary_per_call, state_key, stateful_departments

log = logging.getLogger(__name__)
PRELOAD_LIMIT = 20_000  # documents a worker copies at start; later ones are copied on first use
PRELOAD_BATCH = 500
# After Redis failed to answer, a worker routes from its copies for this long
# before asking again: a Redis that hangs (a frozen host, a failover under
# way) would otherwise cost every call the client's timeouts.
REDIS_PAUSE_S = 2.0


class CacheUnavailable(RuntimeError):
    """Neither Redis nor this worker's copy can say how to route the call."""


class Shared(Protocol):
    """Raw documents (``<version> <json>``) shared by the workers of one host."""

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, raw: bytes) -> None: ...

    def forget(self, key: str) -> None: ...


class Reader(Protocol):
    """What answers a call's one MGET: redis-py's client, or one that reads
    through Kamailio's own Redis client (vpbx_kemi.py). Raises RedisError."""

    def mget(self, keys: list[str]) -> list[bytes | None]: ...


class Versions(Protocol):
    """Document versions recently read from Redis, shared by the workers of one host."""

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, version: bytes) -> None: ...


class NotShared:
    """No sharing: each worker routes from its own copies only."""

    def get(self, key: str) -> bytes | None:
        return None

    def put(self, key: str, raw: bytes) -> None:
        pass

    def forget(self, key: str) -> None:
        pass


class NotKept:
    """No versions kept: every call reads its document's version from Redis."""

    def get(self, key: str) -> bytes | None:
        return None

    def put(self, key: str, version: bytes) -> None:
        pass


@dataclass
class _Copy:
    version: bytes
    document: dict
    stateful: dict[int, str]  # department id -> distribution, for its shared state
    per_call: bool  # plans from it may differ between calls at the same minute


@dataclass
class Read:
    document: dict | None
    extra: bytes | None  # the value of the ``also`` key
    departments: dict[int, DepartmentState]
    # The version read from Redis, and whether plans from it may differ per
    # call: what a plan kept for later calls is keyed by (None: not read).
    version: bytes | None = None
    per_call: bool = True


class Documents:
    def __init__(
        self,
        client: redis.Redis,
        shared: Shared | None = None,
        reader: Reader | None = None,
        versions: Versions | None = None,
    ):
        self.redis = client
        self.shared = shared if shared is not None else NotShared()
        self.versions = versions if versions is not None else NotKept()
        # The plain MGET of the hot path; everything else goes through ``client``.
        self.reader: Any = reader if reader is not None else client
        self.copies: dict[str, _Copy] = {}
        self.paused_until = 0.0  # time.monotonic()
        self.clock = time.monotonic

    def preload(self) -> int:
        """Copy existing documents, so a Redis outage right after start still routes."""
        keys: list[bytes] = []
        try:
            for prefix in DOCUMENT_PREFIXES:
                for key in self.redis.scan_iter(match=prefix + "*", count=PRELOAD_BATCH):
                    keys.append(key)
                    if len(keys) >= PRELOAD_LIMIT:
                        break
            for start in range(0, len(keys), PRELOAD_BATCH):
                batch = keys[start : start + PRELOAD_BATCH]
                raws: Any = self.redis.mget(batch)  # redis-py types sync replies as "Awaitable | Any"
                for key, raw in zip(batch, raws, strict=True):
                    if raw is not None:
                        self._keep(key.decode(), raw)
        except redis.RedisError as exc:
            log.warning("routing documents not preloaded: %s", exc)
        return len(self.copies)

    def get(self, key: str, also: str | None = None, with_state: bool = True) -> Read:
        """The document at ``key`` (None if it does not exist), the value at ``also``
        and (``with_state``) its departments' shared state. Raises CacheUnavailable."""
        copy = self.copies.get(key)
        stateful = copy.stateful if copy and with_state else {}
        if copy is not None and not stateful and self.versions.get(key) == copy.version:
            return Read(copy.document, self._also(also), {}, copy.version, copy.per_call)
        if self.clock() < self.paused_until:
            return Read(self._copy_or_fail(key, "Redis did not answer a moment ago"), None, {})
        keys = [version_key(key), GENERATION_KEY] + ([also] if also else [])
        try:
            if stateful:
                pipe = self.redis.pipeline(transaction=False)
                pipe.mget(keys)
                self._queue_state(pipe, stateful)
                (version, generation, *extra), *state = pipe.execute()
            else:  # a plain MGET costs a fraction of a one-command pipeline in redis-py
                plain = self.reader.mget(keys)
                (version, generation, *extra), state = plain, []
            extra_value = extra[0] if extra else None
            departments = self._state(stateful, state)
            if version is None:
                if generation is None:
                    return Read(
                        self._copy_or_fail(key, "Redis lost its documents; they are being rebuilt"),
                        extra_value,
                        departments,
                    )
                self._forget(key)
                return Read(None, extra_value, {})
            if copy is None or copy.version != version:
                raw: Any = self.redis.get(key)  # changed since this worker's copy: fetch it, once per version
                if raw is None:
                    self._forget(key)
                    return Read(None, extra_value, {})
                self._keep(key, raw)
                self.shared.put(key, raw)
            # A publish between the MGET and here leaves this version kept
            # until its entry expires: the bound the module docstring names.
            self.versions.put(key, version)
        except redis.RedisError as exc:
            self.paused_until = self.clock() + REDIS_PAUSE_S
            return Read(self._copy_or_fail(key, f"Redis unreachable: {exc}"), None, {})
        copy = self.copies[key]
        if not with_state:
            return Read(copy.document, extra_value, {}, copy.version, copy.per_call)
        missing = {i: d for i, d in copy.stateful.items() if i not in departments}
        if missing:  # first call, or a changed document: once per version
            departments.update(self._read_state(missing))
        return Read(copy.document, extra_value, departments, copy.version, copy.per_call)

    def _also(self, also: str | None) -> bytes | None:
        """The value at ``also`` alone (the test suite's pinned clock), or None."""
        if also is None:
            return None
        try:
            return self.reader.mget([also])[0]
        except redis.RedisError:
            return None

    @staticmethod
    def _queue_state(pipe, stateful: dict[int, str]) -> None:
        for department_id, distribution in stateful.items():
            if distribution == "round_robin":
                pipe.hincrby(state_key(department_id), "turn", 1)
            else:
                pipe.hgetall(state_key(department_id))

    @staticmethod
    def _state(stateful: dict[int, str], replies: list) -> dict[int, DepartmentState]:
        return {
            department_id: DepartmentState(turn=reply) if isinstance(reply, int) else DepartmentState.from_hash(reply)
            for department_id, reply in zip(stateful, replies, strict=True)
        }

    def _read_state(self, stateful: dict[int, str]) -> dict[int, DepartmentState]:
        try:
            pipe = self.redis.pipeline(transaction=False)
            self._queue_state(pipe, stateful)
            return self._state(stateful, pipe.execute())
        except redis.RedisError as exc:
            log.warning("department state unavailable: %s", exc)
            return {}

    def state_on_demand(self, key: str) -> StateOnDemand:
        """The shared state of the departments of the document at ``key``, read as routing asks."""
        copy = self.copies.get(key)
        return StateOnDemand(self, copy.stateful if copy else {})

    def _keep(self, key: str, raw: bytes) -> dict:
        version = raw.partition(b" ")[0]
        copy = self.copies.get(key)
        if copy is None or copy.version != version:
            version, document = decode_document(raw)
            copy = _Copy(version, document, stateful_departments(document), plans_vary_per_call(document))
            self.copies[key] = copy
            # A document lives until its next version and holds no reference
            # cycle (decoded JSON): out of the cyclic collector's way, or every
            # full collection walks every employee of every company this
            # worker has seen (bench/README.md, plan cost by company size).
            gc.freeze()
        return copy.document

    def _forget(self, key: str) -> None:
        if self.copies.pop(key, None) is not None:
            self.shared.forget(key)

    def _copy_or_fail(self, key: str, why: str) -> dict:
        """The newest copy of the document this worker can find without Redis."""
        copy = self.copies.get(key)
        shared = self.shared.get(key)
        if shared is not None and (copy is None or int(shared.partition(b" ")[0]) > int(copy.version)):
            self._keep(key, shared)  # versions are the compile time in ns: the larger is the newer
            copy = self.copies[key]
        if copy is None:
            raise CacheUnavailable(why)
        return copy.document


class StateOnDemand(Mapping):
    """Department state read from Redis the first time routing asks for a department.

    For a company's directory, which names every department: a lookup's answer
    rings one or two of them, and reading all would take a round robin turn
    from departments the call never rings.
    """

    def __init__(self, documents: Documents, stateful: dict[int, str]):
        self.documents = documents
        self.stateful = stateful
        self.read: dict[int, DepartmentState] = {}

    def __getitem__(self, department_id: int) -> DepartmentState:
        if department_id not in self.read:
            if department_id not in self.stateful:
                raise KeyError(department_id)
            found = self.documents._read_state({department_id: self.stateful[department_id]})
            self.read[department_id] = found.get(department_id, DepartmentState())
        return self.read[department_id]

    def __iter__(self):
        return iter(self.read)

    def __len__(self) -> int:
        return len(self.read)
