"""COPY rows into a table once: fast path, redelivery path, poison isolation.

1. COPY straight into the table (the common case: nothing seen before).
2. On a duplicate key, COPY into a temporary staging table and
   ``INSERT ... SELECT ... ON CONFLICT DO NOTHING RETURNING`` the new keys.
3. On a row the database rejects (bad encoding, no partition, a check), split
   the rows in halves and retry each; a single rejected row is returned with
   the database's reason so that the caller dead-letters it.

A target that declares its column types (``types``) is copied in PostgreSQL's
binary format (about twice as fast as text for timestamps and numbers: nothing
is formatted as text and parsed back).

Each attempt runs in a savepoint, so a failed one leaves the caller's
transaction usable. Connection-level errors are not caught: the caller retries
the whole batch, which idempotency makes safe.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import errors, sql

Row = tuple[Any, ...]
#: Runs inside the same savepoint with the rows actually inserted (e.g. dependent tables).
AfterInsert = Callable[[list[Row]], Awaitable[None]]

#: Errors that mean "this data cannot be stored", as opposed to "the database is unreachable".
REJECTED = (errors.DataError, errors.IntegrityError, errors.ProgramLimitExceeded)


@dataclass
class CopyOutcome:
    inserted: list[Row] = field(default_factory=list)
    duplicates: int = 0
    rejected: list[tuple[Row, str]] = field(default_factory=list)

    def add(self, other: CopyOutcome) -> None:
        self.inserted += other.inserted
        self.duplicates += other.duplicates
        self.rejected += other.rejected


def reason_of(exc: Exception) -> str:
    diag = getattr(exc, "diag", None)
    message = (diag.message_primary if diag is not None else None) or str(exc)
    return f"{type(exc).__name__}: {message}"[:500]


class CopyTarget:
    """A table, its columns, and the columns that identify a row (the conflict key)."""

    def __init__(
        self,
        table: str,
        columns: Sequence[str],
        key: Sequence[str],
        unique: Sequence[str],
        types: Sequence[str] | None = None,
    ) -> None:
        self.table = table
        self.columns = list(columns)
        self.key = list(key)
        #: PostgreSQL types of ``columns``: when given, COPY uses the binary format.
        self.types = list(types) if types is not None else None
        if self.types is not None and len(self.types) != len(self.columns):
            raise ValueError("types must name one PostgreSQL type per column")
        self._key_index = [self.columns.index(k) for k in key]
        stage = f"store_stage_{table}"
        cols = sql.SQL(", ").join(map(sql.Identifier, self.columns))
        fmt = sql.SQL(" (FORMAT BINARY)" if self.types is not None else "")
        self._copy = sql.SQL("COPY {} ({}) FROM STDIN{}").format(sql.Identifier(table), cols, fmt)
        self._copy_stage = sql.SQL("COPY {} ({}) FROM STDIN{}").format(
            sql.Identifier(stage), cols, fmt
        )
        self._make_stage = sql.SQL(
            "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        ).format(sql.Identifier(stage), sql.Identifier(table))
        self._clear_stage = sql.SQL("TRUNCATE {}").format(sql.Identifier(stage))
        # The anti-join skips rows already stored before ON CONFLICT sees them: TimescaleDB
        # 2.17's ON CONFLICT DO NOTHING stops inserting the remaining rows at the first
        # conflict in a compressed chunk (timescale/timescaledb#7672, fixed in 2.18).
        same = sql.SQL(" AND ").join(
            sql.SQL("t.{c} = s.{c}").format(c=sql.Identifier(c)) for c in unique
        )
        self._merge = sql.SQL(
            "INSERT INTO {table} ({cols}) SELECT {scols} FROM {stage} s "
            "WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {same}) "
            "ON CONFLICT DO NOTHING RETURNING {key}"
        ).format(
            table=sql.Identifier(table),
            cols=cols,
            scols=sql.SQL(", ").join(sql.Identifier("s", c) for c in self.columns),
            stage=sql.Identifier(stage),
            same=same,
            key=sql.SQL(", ").join(map(sql.Identifier, self.key)),
        )

    async def copy(self, conn: psycopg.AsyncConnection[Any], rows: list[Row]) -> None:
        """Plain COPY of prepared rows, no duplicate handling (bulk imports, benchmarks)."""
        await self._copy_rows(conn, self._copy, rows)

    def key_of(self, row: Row) -> tuple[Any, ...]:
        return tuple(row[i] for i in self._key_index)

    async def insert(
        self, conn: psycopg.AsyncConnection[Any], rows: list[Row], after: AfterInsert | None = None
    ) -> CopyOutcome:
        """Insert ``rows``, each key at most once (the first of equal keys in ``rows`` wins).

        Duplicates, in the table or among ``rows``, are looked for only when the fast COPY
        hit a unique violation: the common batch pays no hashing of keys in Python.
        """
        if not rows:
            return CopyOutcome()
        try:
            async with conn.transaction():
                await self._copy_rows(conn, self._copy, rows)
                if after:
                    await after(rows)
            return CopyOutcome(inserted=list(rows))
        except errors.UniqueViolation:
            pass
        except REJECTED as exc:
            return await self._bisect(conn, rows, after, exc)
        try:
            async with conn.transaction():
                inserted = await self._merge_rows(conn, self._first_of_each_key(rows))
                if after and inserted:
                    await after(inserted)
            return CopyOutcome(inserted=inserted, duplicates=len(rows) - len(inserted))
        except REJECTED as exc:
            return await self._bisect(conn, rows, after, exc)

    def _first_of_each_key(self, rows: list[Row]) -> list[Row]:
        firsts: dict[tuple[Any, ...], Row] = {}
        for row in rows:
            firsts.setdefault(self.key_of(row), row)
        return list(firsts.values()) if len(firsts) != len(rows) else rows

    async def _bisect(
        self,
        conn: psycopg.AsyncConnection[Any],
        rows: list[Row],
        after: AfterInsert | None,
        exc: Exception,
    ) -> CopyOutcome:
        if len(rows) == 1:
            return CopyOutcome(rejected=[(rows[0], reason_of(exc))])
        mid = len(rows) // 2
        outcome = await self.insert(conn, rows[:mid], after)
        outcome.add(await self.insert(conn, rows[mid:], after))
        return outcome

    async def _copy_rows(
        self, conn: psycopg.AsyncConnection[Any], statement: sql.Composed, rows: list[Row]
    ) -> None:
        async with conn.cursor() as cur, cur.copy(statement) as copy:
            if self.types is not None:
                copy.set_types(self.types)
            write = copy.write_row
            for row in rows:
                await write(row)

    async def _merge_rows(self, conn: psycopg.AsyncConnection[Any], rows: list[Row]) -> list[Row]:
        await conn.execute(self._make_stage)
        await conn.execute(self._clear_stage)
        await self._copy_rows(conn, self._copy_stage, rows)
        cur = await conn.execute(self._merge)
        new_keys = {tuple(r) for r in await cur.fetchall()}
        return [row for row in rows if self.key_of(row) in new_keys]
