"""Request rate limits: per API token and per source address.

Counted in Redis (flask-limiter with its Redis storage), so every gunicorn
worker of every node shares the same counters. A client over a limit gets 429
with Retry-After. When Redis is unreachable the API is not limited rather
than unavailable: the limits protect the API, they must not take it down.
flask-limiter's own 429 goes through the API's error format (errors.py).
"""

from __future__ import annotations

from flask import Flask, request
from flask_limiter import ApplicationLimit, Limiter

from .. import redis_client
from ..config.tokens import token_digest


def _source() -> str:
    # gunicorn binds loopback and no proxy sits in front of it: the peer is the client.
    return request.remote_addr or "unknown"


def _token() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return "token:" + token_digest(token.strip()) if scheme.lower() == "bearer" and token.strip() else ""


def init_app(app: Flask) -> Limiter:
    settings = app.config["VPBX_SETTINGS"]
    storage_uri, storage_options = redis_client.limiter_storage(settings)
    limiter = Limiter(
        _source,
        app=app,
        application_limits=[
            ApplicationLimit(settings.api_rate_per_source, key_function=_source, scope="source"),
            ApplicationLimit(
                settings.api_rate_per_token, key_function=_token, scope="token", exempt_when=lambda: not _token()
            ),
        ],
        storage_uri=storage_uri,
        storage_options=storage_options,
        strategy="moving-window",
        headers_enabled=True,
        swallow_errors=True,
        key_prefix="vpbx:ratelimit",
    )
    return limiter
