"""One value from the database: an aggregate, a function, the clock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg


def scalar(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...] = ()) -> Any:
    """The first column of the one row that a SELECT of an aggregate or a function answers."""
    return _first(conn.execute(query, params).fetchone(), query)


async def ascalar(conn: psycopg.AsyncConnection[Any], query: str,
                  params: tuple[Any, ...] = ()) -> Any:
    """``scalar`` on an async connection."""
    return _first(await (await conn.execute(query, params)).fetchone(), query)


def _first(row: Any, query: str) -> Any:
    if row is None:
        raise RuntimeError(f"no row from {query!r}")
    return row[0] if isinstance(row, tuple) else next(iter(row.values()))


def clock(conn: psycopg.Connection[Any]) -> datetime:
    """The database's time now (``clock_timestamp()``, not the transaction's start)."""
    value: datetime = scalar(conn, "SELECT clock_timestamp()")
    return value
