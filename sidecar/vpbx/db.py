"""PostgreSQL access and schema migrations (yoyo over the plain SQL files in sql/)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeAlias

import psycopg
from psycopg.rows import dict_row
from yoyo import get_backend, read_migrations

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


# Every connection of vpbx reads rows as dicts (dict_row).
Row: TypeAlias = dict[str, Any]
Connection: TypeAlias = psycopg.Connection[Row]


class MissingRow(LookupError):
    """A row a query had to return is not there: deleted meanwhile by another transaction."""


def one(row: Row | None, what: str) -> Row:
    """``row``, which the query cannot fail to find but for a concurrent delete."""
    if row is None:
        raise MissingRow(f"{what} is gone")
    return row


def returning(cursor: psycopg.Cursor[Row]) -> Row:
    """The row an INSERT/UPDATE … RETURNING wrote."""
    return one(cursor.fetchone(), "the row just written")


def connect(url: str, **kwargs: Any) -> Connection:
    return psycopg.connect(url, row_factory=dict_row, connect_timeout=5, **kwargs)


def _yoyo_url(url: str) -> str:
    # yoyo picks its driver from the scheme; psycopg 3 is "postgresql+psycopg".
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def migrate(url: str) -> list[str]:
    """Apply pending migrations under yoyo's lock; returns the ids applied."""
    backend = get_backend(_yoyo_url(url))
    migrations = read_migrations(str(SQL_DIR))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return [m.id for m in pending]


def pending_migrations(url: str) -> list[str]:
    backend = get_backend(_yoyo_url(url))
    return [m.id for m in backend.to_apply(read_migrations(str(SQL_DIR)))]
