"""``cityhub ingest replay``: dead letters adapted again once their cause is mended.

A source sent what its adapter could not read (the adapter has since been fixed), a
device's clock was wrong, an edge box came back with a backlog older than the store's
window: its messages wait in ``dead_letters``. Every letter is a message as it was received
(a refused record of a pack is kept as a pack of one, ``Adapter.as_message``; a record the
store refused as a cityhub message on its own topic, ``hub.store.rows.letter_of``), so a
replay runs it through ``adapt_message`` with its topic and the time it was first received
(SenML relative times resolve as they did) and the adapters installed now.

Per batch, in one transaction: the letters are locked (``SKIP LOCKED``: two replays never
take the same letter, and ingest goes on writing new ones); what adapts now is written by
the batch writer and its letter deleted; a letter refused again as a whole keeps its id
and gets today's reason; what is refused in part becomes letters of its own. Events keep
their ids and the store drops duplicates, so a replay run twice stores nothing twice. With
``dry_run`` the transaction is rolled back: the figures say what the store would take.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

import psycopg

from hub.ingest.pipeline import Outcome, adapt_message
from hub.store.dead_letters import Selection
from hub.store.writer import BatchWriter, DeadLetter

log = logging.getLogger(__name__)

#: Letters per transaction.
BATCH = 500


@dataclass
class Tally:
    """What a replay did (or, dry, would do)."""

    selected: int = 0
    #: letters adapted and written, their letters deleted (what the store refused of them
    #: is in ``new_letters``)
    replayed: int = 0
    still_refused: int = 0  #: refused again as a whole: kept, with today's reason
    split: int = 0  #: taken in part: the rest became letters of their own
    events_stored: int = 0
    readings_stored: int = 0
    duplicates: int = 0  #: already in the store (a replay run twice)
    new_letters: int = 0
    reasons: Counter[str] = field(default_factory=Counter)  #: of what is still refused

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if k != "reasons"}
        out["top_reasons"] = [{"reason": r, "n": n} for r, n in self.reasons.most_common(5)]
        return out


@dataclass(frozen=True)
class _Letter:
    id: int
    topic: str
    payload: bytes
    received_at: datetime
    department: str | None
    reason: str


def _refused_whole(letter: _Letter, out: Outcome) -> bool:
    """Nothing adapted and the one letter is the message itself: the same letter again."""
    return (not (out.events or out.readings or out.media or out.discoveries)
            and len(out.letters) == 1 and out.letters[0].payload == letter.payload)


async def _batch(
    conn: psycopg.AsyncConnection[Any], writer: BatchWriter, sel: Selection, after: int,
    last: int, tz: tzinfo, tally: Tally, dry_run: bool,
) -> int | None:
    """Replay the next batch after id ``after``; the last id taken, or None when done."""
    where, params = sel.where()
    async with conn.transaction(force_rollback=dry_run):
        cur = await conn.execute(
            "SELECT id, topic, payload, received_at, department_id, reason FROM dead_letters"
            " WHERE id > %(after)s AND id <= %(last)s" + where +
            " ORDER BY id LIMIT %(n)s FOR UPDATE SKIP LOCKED",
            {**params, "after": after, "last": last, "n": BATCH},
        )
        letters = [_Letter(r[0], r[1], bytes(r[2]), r[3], r[4], r[5])
                   for r in await cur.fetchall()]
        if not letters:
            return None
        taken: list[tuple[_Letter, Outcome]] = []
        reasons: list[tuple[str, int]] = []  # refused again: today's reason, where it changed
        for letter in letters:
            out = adapt_message(letter.topic, letter.payload, letter.received_at, tz)
            if _refused_whole(letter, out):
                tally.still_refused += 1
                tally.reasons[out.letters[0].reason] += 1
                if out.letters[0].reason != letter.reason:
                    reasons.append((out.letters[0].reason[:2000], letter.id))
            else:
                taken.append((letter, out))
        if reasons:
            async with conn.cursor() as cur:
                await cur.executemany("UPDATE dead_letters SET reason = %s WHERE id = %s",
                                      reasons)
        await _write(conn, writer, taken, tally)
    if dry_run:
        writer.forget()  # its caches may name rows the rollback took back
    return letters[-1].id


async def _write(conn: psycopg.AsyncConnection[Any], writer: BatchWriter,
                 taken: list[tuple[_Letter, Outcome]], tally: Tally) -> None:
    if not taken:
        return
    outs = [o for _, o in taken]
    letters = [DeadLetter(x.topic, x.reason, x.payload, received_at=letter.received_at,
                          department=letter.department)
               for letter, o in taken for x in o.letters]
    result = await writer.write(
        conn, events=[e for o in outs for e in o.events],
        readings=[r for o in outs for r in o.readings], dead_letters=letters,
        topic="replay", media=[m for o in outs for m in o.media],
        discoveries=[d for o in outs for d in o.discoveries],
    )
    await conn.execute("DELETE FROM dead_letters WHERE id = ANY(%s)",
                       ([letter.id for letter, _ in taken],))
    tally.replayed += sum(1 for _, o in taken if not o.letters)
    tally.split += sum(1 for _, o in taken if o.letters)
    tally.events_stored += result.events_inserted
    tally.readings_stored += result.readings_inserted
    tally.duplicates += result.events_duplicate + result.readings_duplicate
    tally.new_letters += result.dead_lettered
    tally.reasons.update(x.reason for x in letters)
    tally.reasons.update(result.rejections)


async def replay(
    dsn: str, sel: Selection, tz: tzinfo, writer: BatchWriter, dry_run: bool = False,
    progress: Callable[[Tally], None] | None = None,
) -> Tally:
    """Replay the selected letters that exist now (letters written meanwhile, this run's own
    among them, wait for the next run)."""
    tally = Tally()
    where, params = sel.where()
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT count(*), coalesce(max(id), 0) FROM dead_letters WHERE true" + where, params)
        row = await cur.fetchone()
        assert row is not None
        tally.selected, last = row
        after: int | None = 0
        while after is not None:
            after = await _batch(conn, writer, sel, after, last, tz, tally, dry_run)
            if progress is not None and after is not None:
                progress(tally)
    return tally


def run(dsn: str, sel: Selection, tz: tzinfo, writer: BatchWriter, dry_run: bool,
        progress: Callable[[Tally], None] | None = None) -> Tally:
    return asyncio.run(replay(dsn, sel, tz, writer, dry_run, progress))
