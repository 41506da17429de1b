"""Signed JSON requests under a hard deadline, with retries while time remains."""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

import urllib3

from .. import bounded_json
from ..addresses import IPNetwork, host_refusal, internal, literal
from .signing import SIGNATURE_HEADER, signature

USER_AGENT = "vpbx-lookup/1"
# Keep-alive connections to the same few customer servers spare a TCP (and
# TLS) handshake per call: one pool per (scheme, address, port, host name) per
# process, the oldest closed beyond this many.
MAX_POOLS = 64
# A routing answer is a few hundred bytes; a server sending more is not read on.
MAX_ANSWER_BYTES = 64 * 1024
_pools: OrderedDict[tuple, urllib3.HTTPConnectionPool] = OrderedDict()


class LookupFailed(Exception):
    """No usable answer. ``kind``: timeout, connection, http_status,
    invalid_answer, breaker_open, refused (the URL leads to an address
    customers may not reach)."""

    def __init__(self, kind: str, detail: str, exchange: Exchange | None = None):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.exchange = exchange


# How /metrics counts a lookup (vpbx_lookups_total's "outcome"): a usable
# answer, or which way it failed; "skipped" when there was nothing to ask
# (a hidden caller, a webhook deleted meanwhile, Redis down for the CRM's list).
OK, TIMEOUT, ERROR, INVALID, BREAKER_OPEN, SKIPPED = "ok", "timeout", "error", "invalid", "breaker_open", "skipped"
LOOKUP_RESULTS = (OK, TIMEOUT, ERROR, INVALID, BREAKER_OPEN, SKIPPED)


def result_of(kind: str) -> str:
    """The metrics' outcome of a failure ``kind`` (LookupFailed.kind)."""
    return {"timeout": TIMEOUT, "invalid_answer": INVALID, "breaker_open": BREAKER_OPEN}.get(kind, ERROR)


@dataclass(frozen=True)
class Answer:
    """A lookup's result: what routing expands (an answer, or why there is
    none), and how the metrics count it (LOOKUP_RESULTS)."""

    outcome: object
    result: str = OK


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


def _connection(url: str, allowed: Iterable[IPNetwork]) -> tuple[urllib3.HTTPConnectionPool, str, str]:
    """(pool, request target, Host header) for ``url``, or LookupFailed("refused").

    The host name is resolved once, here, and every address it has must be
    one customers may reach (addresses.internal); the pool then connects to
    that address itself, so a second resolution (DNS rebinding) cannot lead
    anywhere else. TLS still verifies the certificate against the host name.
    """
    try:
        parsed = urllib3.util.parse_url(url)
    except urllib3.exceptions.LocationParseError:
        raise LookupFailed("refused", "not a URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise LookupFailed("refused", "only http:// and https:// URLs are asked")
    host, https = parsed.host.strip("[]"), parsed.scheme == "https"
    port = parsed.port or (443 if https else 80)
    # The same words whether anything listens there or not: no port scanning through us.
    reason = host_refusal(host, allowed)
    if reason:
        raise LookupFailed("refused", f"{host} {reason}")
    address = literal(host)
    if address is None:
        try:
            found = {str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
        except (socket.gaierror, UnicodeError) as exc:
            raise LookupFailed("connection", f"{host} does not resolve ({exc})") from None
        candidates = sorted((ipaddress.ip_address(a.split("%")[0]) for a in found), key=str)
        for candidate in candidates:
            reason = internal(candidate, allowed)
            if reason:
                raise LookupFailed("refused", f"{host} resolves to one that {reason}")
    else:
        candidates = [address]
    key = (parsed.scheme, str(candidates[0]), port, host)
    pool = _pools.get(key)
    if pool is None:
        if https:
            pool = urllib3.HTTPSConnectionPool(
                str(candidates[0]),
                port,
                maxsize=4,
                retries=False,
                cert_reqs="CERT_REQUIRED",
                server_hostname=host,
                assert_hostname=host,
            )
        else:
            pool = urllib3.HTTPConnectionPool(str(candidates[0]), port, maxsize=4, retries=False)
        _pools[key] = pool
        while len(_pools) > MAX_POOLS:
            _pools.popitem(last=False)[1].close()
    _pools.move_to_end(key)
    host_header = host if parsed.port is None else f"{parsed.host}:{parsed.port}"
    return pool, parsed.request_uri, host_header


def request_json(
    method: str,
    url: str,
    payload: dict | None,
    secret: str,
    deadline: float,
    *,
    retries: int = 0,
    allowed: Iterable[IPNetwork] = (),
    clock=time.monotonic,
    wall=time.time,
    wants_answer: bool = True,
    first_attempt: int = 1,
) -> tuple[object, Exchange]:
    """The JSON answer to a signed request, or LookupFailed.

    ``deadline`` is on ``clock`` (monotonic): the whole exchange, retries
    included, ends by then. A connection error or a 5xx is retried while
    attempts and time remain; a 4xx or an invalid body is not. ``allowed``:
    internal networks the operator lets customers' URLs reach. Without
    ``wants_answer`` (a notice, not a question) any 2xx will do: its body is
    not read as JSON and None is the answer. ``first_attempt``: the number
    the body's "attempt" starts from (a caller that retries later itself).
    """
    body = json.dumps(payload, separators=(",", ":")).encode() if payload is not None else b""
    started = clock()
    exchange = Exchange(url, body, {})
    pool, target, host_header = _connection(url, allowed)
    failure = LookupFailed("timeout", "no time left to ask", exchange)
    for attempt in range(first_attempt, first_attempt + retries + 1):
        left = deadline - clock()
        if left <= 0.005:
            break
        body = json.dumps({**payload, "attempt": attempt}, separators=(",", ":")).encode() if payload else b""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: signature(secret, int(wall()), body),
        }
        exchange = Exchange(url, body, headers, attempts=attempt)
        try:
            # urllib3's total timeout bounds connect plus read together.
            response = pool.urlopen(
                method,
                target,
                body=body or None,
                headers={**headers, "Host": host_header},
                timeout=urllib3.Timeout(total=left),
                preload_content=False,
                redirect=False,
                retries=False,
                assert_same_host=False,
            )
            data = response.read(MAX_ANSWER_BYTES + 1)
            if len(data) > MAX_ANSWER_BYTES:
                response.close()  # the rest is never read: this connection cannot be reused
            else:
                response.release_conn()
        except (urllib3.exceptions.TimeoutError, urllib3.exceptions.ReadTimeoutError) as exc:
            failure = LookupFailed("timeout", f"no answer within the budget ({exc.__class__.__name__})", exchange)
            continue
        except urllib3.exceptions.HTTPError as exc:
            failure = LookupFailed("connection", f"{exc.__class__.__name__}: {str(exc)[:200]}", exchange)
            continue
        exchange = Exchange(url, body, headers, response.status, data[:4096], attempt, int((clock() - started) * 1000))
        if clock() > deadline:
            raise LookupFailed("timeout", "the answer came after the budget", exchange)
        if response.status >= 500:
            failure = LookupFailed("http_status", f"HTTP {response.status}", exchange)
            continue
        if response.status >= 300:
            raise LookupFailed("http_status", f"HTTP {response.status}", exchange)
        if not wants_answer:
            return None, exchange
        if len(data) > MAX_ANSWER_BYTES:
            raise LookupFailed("invalid_answer", f"the body is larger than {MAX_ANSWER_BYTES} bytes", exchange)
        try:
            return bounded_json.loads(data), exchange
        except ValueError:
            raise LookupFailed("invalid_answer", "the body is not JSON", exchange) from None
    raise failure
