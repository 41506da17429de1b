"""The compiled routing documents the media app asks what comes next: the
keys of an IVR menu, the steps of a scheme it answered for, and where a caller
nobody answered goes (vpbx.routing.plan's held steps).

Read once per call that reaches a menu or an announced scheme (a few per
second where Kamailio routes hundreds). A copy of each document read is kept,
parsed once per version, and used while Redis cannot answer: the media app
routes through a Redis outage as Kamailio's workers do.
"""

from __future__ import annotations

import logging

import redis
import redis.asyncio as aioredis

from ..documents import company_key, decode_document, directory_key

log = logging.getLogger(__name__)


class DocumentUnavailable(RuntimeError):
    """Redis cannot answer and the media app has no copy of the document."""


class RoutingDocuments:
    def __init__(self, client: aioredis.Redis):
        self.redis = client
        self.copies: dict[str, tuple[bytes, dict]] = {}

    async def company(self, sip_domain: str) -> dict | None:
        """The company's document: its extensions and where its IVR keys lead."""
        return await self._read(company_key(sip_domain))

    async def directory(self, sip_domain: str) -> dict | None:
        """The company's directory: its schemes, departments, employees."""
        return await self._read(directory_key(sip_domain))

    async def _read(self, key: str) -> dict | None:
        try:
            raw = await self.redis.get(key)
        except redis.RedisError as exc:
            copy = self.copies.get(key)
            if copy is None:
                raise DocumentUnavailable(f"Redis cannot give {key} ({exc}) and there is no copy of it") from exc
            log.warning("Redis cannot give %s (%s): routing from the copy of version %s", key, exc, copy[0].decode())
            return copy[1]
        if raw is None:  # the company is gone
            self.copies.pop(key, None)
            return None
        version = raw.partition(b" ")[0]
        copy = self.copies.get(key)
        if copy is None or copy[0] != version:
            copy = self.copies[key] = decode_document(raw)
        return copy[1]
