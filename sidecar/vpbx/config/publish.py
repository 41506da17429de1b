"""Republish the routing documents a committed change touched.

Called after the change commits, so Redis never holds a document for data
that was rolled back. A document whose number or company no longer exists is
deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import redis

from ..db import Connection
from ..documents import document_writes, number_key, version_key
from ..kamailio_rpc import KamailioRpc, RpcError
from .compile import compile_company_documents, compile_number

log = logging.getLogger(__name__)
# kamailio.cfg's htable of the document versions its workers read in the last second or two.
KEPT_VERSIONS = "routing_versions"


def numbers_of(conn: Connection, company_id: int) -> set[str]:
    return {r["e164"] for r in conn.execute("SELECT e164 FROM numbers WHERE company_id = %s", (company_id,))}


def publish(conn: Connection, cache: redis.Redis, *, numbers: Iterable[str] = (), domains: Iterable[str] = ()) -> None:
    writes: dict[str, str] = {}
    deletes: list[str] = []
    compiled = {number_key(n): compile_number(conn, n) for n in set(numbers)}
    for d in set(domains):
        compiled.update(compile_company_documents(conn, d))
    for key, document in compiled.items():
        if document is None:
            deletes += [key, version_key(key)]
        else:
            writes.update(document_writes(key, document))
    with cache.pipeline(transaction=True) as pipe:
        if writes:
            pipe.mset(writes)
        if deletes:
            pipe.delete(*deletes)
        pipe.execute()


def publish_company(conn: Connection, cache: redis.Redis, company_id: int) -> None:
    """Republish every document of a company: its numbers' and its own.

    Schemes refer to employees, schedules and other schemes (backups), so a
    change to any of them may alter any number of the company: companies have
    few numbers, and recompiling them all is simpler than tracing the graph.
    """
    domain = conn.execute("SELECT sip_domain FROM companies WHERE id = %s", (company_id,)).fetchone()
    publish(conn, cache, numbers=numbers_of(conn, company_id), domains=[domain["sip_domain"]] if domain else [])


def forget_kept_versions(kamailio: KamailioRpc) -> None:
    """Make the host's Kamailio read every document's version from Redis
    again, so the change just published reaches its next call.

    Without it the change would reach calls within two seconds, when the
    versions the workers keep expire (kamailio_adapter/documents.py): that is
    also the bound when this Kamailio cannot be told (stopped, or busy past
    the timeout), so a failure here is only logged.
    """
    try:
        kamailio.call("htable.flush", KEPT_VERSIONS)
    except (RpcError, OSError) as exc:
        log.warning("Kamailio not told of the change (it reaches calls within 2 s): %s", exc)
