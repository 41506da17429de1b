"""The media app asks the compiled documents where a caller goes next; through
a Redis outage it keeps asking the copy it read last, as Kamailio's workers do."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from vpbx.documents import company_key, document_writes
from vpbx.media.routing_documents import DocumentUnavailable, RoutingDocuments

DOMAIN = "media-documents.vpbx.test"


def company(version: int, rings: str) -> dict:
    return {"version": version, "company": {"domain": DOMAIN}, "ivr_keys": {"1-1": {"kind": rings}}}


async def _read_then_outage(redis_url: str) -> tuple[list, dict, Exception | None]:
    client = aioredis.Redis.from_url(redis_url)
    dead = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    try:
        documents = RoutingDocuments(client)
        await client.mset(document_writes(company_key(DOMAIN), company(1, "employee")))
        first = await documents.company(DOMAIN)
        await client.mset(document_writes(company_key(DOMAIN), company(2, "department")))
        changed = await documents.company(DOMAIN)
        await client.delete(company_key(DOMAIN))
        gone = await documents.company(DOMAIN)
        await client.mset(document_writes(company_key(DOMAIN), company(3, "voicemail")))
        await documents.company(DOMAIN)
        documents.redis = dead  # Redis goes away
        during = await documents.company(DOMAIN)
        try:
            await documents.directory(DOMAIN)  # never read before: no copy
            unavailable = None
        except DocumentUnavailable as exc:
            unavailable = exc
        return [first, changed, gone], during, unavailable
    finally:
        await client.delete(company_key(DOMAIN))
        await client.aclose()
        await dead.aclose()


def test_a_new_version_is_read_a_deleted_company_is_forgotten_and_an_outage_uses_the_last_copy(cfg):
    (first, changed, gone), during, unavailable = asyncio.run(_read_then_outage(cfg.redis_url))
    assert first["ivr_keys"]["1-1"]["kind"] == "employee"
    assert changed["ivr_keys"]["1-1"]["kind"] == "department"
    assert gone is None
    assert during["ivr_keys"]["1-1"]["kind"] == "voicemail"
    assert isinstance(unavailable, DocumentUnavailable)
