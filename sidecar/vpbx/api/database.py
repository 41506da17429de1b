"""One PostgreSQL transaction per API request.

The connection comes from a pool per gunicorn worker (opened lazily in the
worker: a pool must not cross a fork). A request that answers 2xx/3xx commits,
then the routing documents its changes touched are republished to Redis; any
error rolls everything back, so a refused request writes nothing.
"""

from __future__ import annotations

import logging
import os

import psycopg
from flask import Flask, current_app, g
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from .errors import database_unavailable

log = logging.getLogger(__name__)
_pools: dict[tuple[int, str], ConnectionPool] = {}


def _pool() -> ConnectionPool:
    url = current_app.config["VPBX_SETTINGS"].database_url
    key = (os.getpid(), url)
    if key not in _pools:
        _pools[key] = ConnectionPool(
            url,
            min_size=0,
            max_size=8,
            timeout=3,
            open=True,
            kwargs={"row_factory": dict_row, "connect_timeout": 2},
            # Connections idle through a database restart are dead: test before lending.
            check=ConnectionPool.check_connection,
        )
    return _pools[key]


def db():
    """This request's connection, inside its transaction."""
    if "db" not in g:
        g.db = _pool().getconn()
    return g.db


def after_commit(callback) -> None:
    """Run ``callback(conn)`` once this request's transaction has committed."""
    g.setdefault("after_commit", []).append(callback)


def _rollback_quietly(conn) -> None:
    try:
        conn.rollback()
    except psycopg.Error:
        pass  # the connection is gone; the pool discards it


def _run_after_commit(conn) -> None:
    for callback in g.pop("after_commit", []):
        try:
            callback(conn)
        except Exception:  # the change is committed: report, do not fail the request
            log.exception("after-commit step failed")
    _rollback_quietly(conn)  # end the read transaction the callbacks opened


def init_app(app: Flask) -> None:
    @app.after_request
    def commit(response):
        conn = g.pop("db", None)
        if conn is None:
            return response
        try:
            if response.status_code >= 400:
                _rollback_quietly(conn)
                return response
            try:
                conn.commit()
            except psycopg.OperationalError as exc:
                _rollback_quietly(conn)
                return database_unavailable(exc)
            _run_after_commit(conn)
            return response
        finally:
            _pool().putconn(conn)

    @app.teardown_request
    def release(_exc):
        conn = g.pop("db", None)
        if conn is not None:  # an exception skipped after_request
            _rollback_quietly(conn)
            _pool().putconn(conn)
