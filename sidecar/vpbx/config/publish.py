"""Republish the routing documents a committed change touched.

Called after the change commits, so Redis never holds a document for data
that was rolled back. A document whose number or company no longer exists is
deleted.
"""

from __future__ import annotations

from collections.abc import Iterable

import redis

from ..db import Connection
from ..documents import document_writes, number_key, version_key
from .compile import compile_company_documents, compile_number


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
