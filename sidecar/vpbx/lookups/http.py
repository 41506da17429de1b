"""Signed JSON requests under a hard deadline, with retries while time remains."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import urllib3

from .signing import SIGNATURE_HEADER, signature

USER_AGENT = "vpbx-lookup/1"
# One pool per process: keep-alive connections to the same few customer
# servers spare a TCP (and TLS) handshake per call.
_POOL = urllib3.PoolManager(num_pools=64, maxsize=4, retries=False)


class LookupFailed(Exception):
    """No usable answer. ``kind``: timeout, connection, http_status, invalid_answer, breaker_open."""

    def __init__(self, kind: str, detail: str, exchange: Exchange | None = None):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.exchange = exchange


@dataclass(frozen=True)
class Exchange:
    """What was sent and what came back: kept for dry runs and failure reports."""

    url: str
    body: bytes
    headers: dict
    status: int | None = None
    answer: bytes = b""
    attempts: int = 0
    elapsed_ms: int = 0


def request_json(method: str, url: str, payload: dict | None, secret: str, deadline: float, *,
                 retries: int = 0, clock=time.monotonic, wall=time.time) -> tuple[object, Exchange]:
    """The JSON answer to a signed request, or LookupFailed.

    ``deadline`` is on ``clock`` (monotonic): the whole exchange, retries
    included, ends by then. A connection error or a 5xx is retried while
    attempts and time remain; a 4xx or an invalid body is not.
    """
    body = json.dumps(payload, separators=(",", ":")).encode() if payload is not None else b""
    started = clock()
    exchange = Exchange(url, body, {})
    failure = LookupFailed("timeout", "no time left to ask", exchange)
    for attempt in range(1, retries + 2):
        left = deadline - clock()
        if left <= 0.005:
            break
        body = json.dumps({**payload, "attempt": attempt}, separators=(",", ":")).encode() if payload else b""
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   SIGNATURE_HEADER: signature(secret, int(wall()), body)}
        exchange = Exchange(url, body, headers, attempts=attempt)
        try:
            # urllib3's total timeout bounds connect plus read together.
            response = _POOL.request(method, url, body=body or None, headers=headers,
                                     timeout=urllib3.Timeout(total=left), preload_content=True, redirect=False)
        except (urllib3.exceptions.TimeoutError, urllib3.exceptions.ReadTimeoutError) as exc:
            failure = LookupFailed("timeout", f"no answer within the budget ({exc.__class__.__name__})", exchange)
            continue
        except urllib3.exceptions.HTTPError as exc:
            failure = LookupFailed("connection", f"{exc.__class__.__name__}: {str(exc)[:200]}", exchange)
            continue
        exchange = Exchange(url, body, headers, response.status, response.data[:4096], attempt,
                            int((clock() - started) * 1000))
        if clock() > deadline:
            raise LookupFailed("timeout", "the answer came after the budget", exchange)
        if response.status >= 500:
            failure = LookupFailed("http_status", f"HTTP {response.status}", exchange)
            continue
        if response.status >= 300:
            raise LookupFailed("http_status", f"HTTP {response.status}", exchange)
        try:
            return json.loads(response.data), exchange
        except ValueError:
            raise LookupFailed("invalid_answer", "the body is not JSON", exchange) from None
    raise failure
