"""A worker's view of the routing documents: Redis first, its own copy when Redis cannot answer.

Each read is one round trip (MGET of the document and the cache generation
marker). Parsed documents are kept per key and version, so an unchanged
document is never parsed twice. When Redis is unreachable, or has lost its
data (no generation marker: the cache keeper is rebuilding it from
PostgreSQL), the worker routes from its copy.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis

from ..config.compile import COMPANY_KEY_PREFIX, GENERATION_KEY, KEY_PREFIX, decode_document

log = logging.getLogger(__name__)
PRELOAD_LIMIT = 20_000  # documents a worker copies at start; later ones are copied on first use
PRELOAD_BATCH = 500


class CacheUnavailable(RuntimeError):
    """Neither Redis nor this worker's copy can say how to route the call."""


@dataclass
class _Copy:
    version: bytes
    document: dict


class Documents:
    def __init__(self, client: redis.Redis):
        self.redis = client
        self.copies: dict[str, _Copy] = {}

    def preload(self) -> int:
        """Copy existing documents, so a Redis outage right after start still routes."""
        keys: list[bytes] = []
        try:
            for prefix in (KEY_PREFIX, COMPANY_KEY_PREFIX):
                for key in self.redis.scan_iter(match=prefix + "*", count=PRELOAD_BATCH):
                    keys.append(key)
                    if len(keys) >= PRELOAD_LIMIT:
                        break
            for start in range(0, len(keys), PRELOAD_BATCH):
                batch = keys[start:start + PRELOAD_BATCH]
                for key, raw in zip(batch, self.redis.mget(batch)):
                    if raw is not None:
                        self._keep(key.decode(), raw)
        except redis.RedisError as exc:
            log.warning("routing documents not preloaded: %s", exc)
        return len(self.copies)

    def get(self, key: str, also: str | None = None) -> tuple[dict | None, bytes | None]:
        """The document at ``key`` (None if it does not exist) and the value at ``also``,
        read in the same round trip. Raises CacheUnavailable."""
        keys = [key, GENERATION_KEY] + ([also] if also else [])
        try:
            raw, generation, *extra = self.redis.mget(keys)
        except redis.RedisError as exc:
            return self._copy_or_fail(key, f"Redis unreachable: {exc}"), None
        extra_value = extra[0] if extra else None
        if raw is not None:
            return self._keep(key, raw), extra_value
        if generation is None:
            return self._copy_or_fail(key, "Redis lost its documents; they are being rebuilt"), extra_value
        self.copies.pop(key, None)
        return None, extra_value

    def _keep(self, key: str, raw: bytes) -> dict:
        version = raw.partition(b" ")[0]
        copy = self.copies.get(key)
        if copy is None or copy.version != version:
            copy = _Copy(*decode_document(raw))
            self.copies[key] = copy
        return copy.document

    def _copy_or_fail(self, key: str, why: str) -> dict:
        copy = self.copies.get(key)
        if copy is None:
            raise CacheUnavailable(why)
        return copy.document
