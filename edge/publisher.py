"""Moves outbox rows to the broker: a live lane and a rate-limited backlog lane.

At every (re)connect the rows already in the outbox become the *backlog*
(seq <= watermark); rows written afterwards are *live*. Live rows are sent at
once (first in every round, with a reserved share of the in-flight window);
the backlog drains oldest-first under a token bucket (``drain_rate`` events/s),
so a day of stored events does not delay what happens now. Rows are packed
``batch_max`` per message by topic (``{"events": [...]}`` /
``{"readings": [...]}``) and deleted only once that message's PUBACK arrives.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from itertools import groupby

from core.mqtt import NoMatchingSubscribers
from edge.config import UplinkConfig
from edge.outbox import Outbox, Row
from edge.uplink import Uplink, refused

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 1024 * 1024


def pack(rows: list[Row]) -> bytes:
    """The wire form of rows that share topic and envelope."""
    env = rows[0].envelope
    if not env:
        return rows[0].body
    return b'{"' + env.encode() + b'":[' + b",".join(r.body for r in rows) + b"]}"


def batches(rows: Iterable[Row], batch_max: int) -> list[list[Row]]:
    """Consecutive rows grouped by (topic, envelope), each group split to size limits."""
    out: list[list[Row]] = []
    for _key, group in groupby(rows, key=lambda r: (r.topic, r.envelope)):
        current: list[Row] = []
        size = 0
        for r in group:
            if current and (
                not r.envelope or len(current) >= batch_max or size + r.size > MAX_MESSAGE_BYTES
            ):
                out.append(current)
                current, size = [], 0
            current.append(r)
            size += r.size
        if current:
            out.append(current)
    return out


class Publisher:
    def __init__(self, outbox: Outbox, uplink: Uplink, config: UplinkConfig) -> None:
        self.outbox = outbox
        self.uplink = uplink
        self.config = config
        self.drain_rate = config.drain_rate
        self.watermark = 0  #: rows with seq <= watermark are backlog
        self.sent = {"live": 0, "backlog": 0}
        self.acked = {"live": 0, "backlog": 0}
        self.refused = 0
        self._inflight: dict[int, str] = {}  # seq -> lane
        self._cursor = {"live": 0, "backlog": 0}
        self._acked_rows: list[Row] = []
        self._wake = asyncio.Event()
        self._tokens = 0.0
        self._refill_at = time.monotonic()
        self._sent_at: dict[asyncio.Future[None], tuple[float, list[Row], str]] = {}
        self._paused_until = 0.0
        self._connects_seen = 0

    def notify(self) -> None:
        """New rows were written (call on the loop; from other threads use call_soon_threadsafe)."""
        self._wake.set()

    @property
    def backlog_pending(self) -> bool:
        return self._cursor["backlog"] < self.watermark

    async def run(self) -> None:
        while True:
            if not self.uplink.connected.is_set():
                await self.uplink.connected.wait()
            if self.uplink.connects != self._connects_seen:  # a new connection, however brief
                self._connects_seen = self.uplink.connects
                self._on_connect()
            await self._flush_acks()
            self._expire()
            pause = self._paused_until - time.monotonic()
            if pause > 0:  # the broker refused a message (ACL): retry later, never drop it
                await asyncio.sleep(min(pause, 1.0))
                continue
            sent = self._send("live", None, self._window("live"), limit=None)
            if self.backlog_pending:
                self._refill()
                budget = int(self._tokens)
                if budget > 0:
                    n = self._send("backlog", self.watermark, self._window("backlog"), limit=budget)
                    self._tokens -= n
                    sent += n
            if not sent or not self.uplink.connected.is_set():
                self._wake.clear()
                timeout = 0.5 if not self.backlog_pending else max(0.005, 1.0 / self.drain_rate)
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout)
                except TimeoutError:
                    pass

    def _on_connect(self) -> None:
        """Everything stored so far is backlog now; both lanes restart from their floor."""
        self.watermark = self.outbox.max_seq()
        self._cursor = {"live": self.watermark, "backlog": 0}
        self._tokens = 0.0
        self._refill_at = time.monotonic()
        now = time.monotonic()
        for fut, (_t, rows, lane) in list(self._sent_at.items()):
            self._sent_at[fut] = (now, rows, lane)  # ack timeouts count from the reconnect

    def _refill(self) -> None:
        now = time.monotonic()
        cap = max(float(self.config.batch_max), self.drain_rate * 0.25)
        self._tokens = min(cap, self._tokens + (now - self._refill_at) * self.drain_rate)
        self._refill_at = now

    def _window(self, lane: str) -> int:
        """Messages this lane may put in flight now (the backlog leaves a quarter to live)."""
        total = self.config.inflight_max
        used = len(self._sent_at)
        free = total - used
        if lane == "backlog":
            backlog_used = sum(1 for _t, _r, ln in self._sent_at.values() if ln == "backlog")
            free = min(free, max(1, total - max(1, total // 4)) - backlog_used)
        return max(0, free)

    def _send(self, lane: str, upto: int | None, window: int, limit: int | None) -> int:
        """Send up to ``window`` messages from ``lane``; returns the number of rows sent."""
        if window <= 0 or not self.uplink.connected.is_set():
            return 0
        want = (
            self.config.batch_max * window
            if limit is None
            else min(limit, self.config.batch_max * window)
        )
        if want <= 0:
            return 0
        rows = self.outbox.fetch(self._cursor[lane], upto, want + len(self._inflight))
        rows = [r for r in rows if r.seq not in self._inflight][:want]
        if not rows:
            return 0
        count = 0
        for batch in batches(rows, self.config.batch_max)[:window]:
            fut = self.uplink.publish(batch[0].topic, pack(batch))
            for r in batch:
                self._inflight[r.seq] = lane
            self._sent_at[fut] = (time.monotonic(), batch, lane)
            fut.add_done_callback(self._done)
            self._cursor[lane] = batch[-1].seq
            count += len(batch)
        self.sent[lane] += count
        return count

    def _done(self, fut: asyncio.Future[None]) -> None:
        entry = self._sent_at.pop(fut, None)
        if entry is None:
            return
        _t, rows, lane = entry
        exc = fut.exception() if not fut.cancelled() else ConnectionError("cancelled")
        if exc is None:
            self._acked_rows += rows
            self.acked[lane] += len(rows)
        else:
            # Not acknowledged: forget that it was sent, so it goes out again.
            if refused(exc):
                self.refused += len(rows)
                self._paused_until = time.monotonic() + 10.0
                log.error("broker refused %d rows on %s: %s", len(rows), rows[0].topic, exc)
            elif isinstance(exc, NoMatchingSubscribers):  # hub ingest not subscribed (yet)
                self._paused_until = time.monotonic() + 1.0
            self._release(rows)
        self._wake.set()

    def _release(self, rows: list[Row]) -> None:
        for r in rows:
            self._inflight.pop(r.seq, None)
        first = rows[0].seq
        lane = "backlog" if first <= self.watermark else "live"
        floor = 0 if lane == "backlog" else self.watermark
        self._cursor[lane] = max(floor, min(self._cursor[lane], first - 1))

    async def _flush_acks(self) -> None:
        if not self._acked_rows:
            return
        rows, self._acked_rows = self._acked_rows, []
        await asyncio.to_thread(self.outbox.delete, rows)
        for r in rows:
            self._inflight.pop(r.seq, None)

    def _expire(self) -> None:
        """Messages without a PUBACK for ack_timeout_s (while connected) are sent again."""
        deadline = time.monotonic() - self.config.ack_timeout_s
        for fut, (t, rows, _lane) in list(self._sent_at.items()):
            if t < deadline:
                log.warning(
                    "no PUBACK for %d rows after %.0fs: sending again",
                    len(rows),
                    self.config.ack_timeout_s,
                )
                self._sent_at.pop(fut, None)
                self._release(rows)

    def stats(self) -> dict[str, object]:
        return {
            "inflight_messages": len(self._sent_at),
            "backlog_remaining": max(0, self.watermark - self._cursor["backlog"]),
            "sent": dict(self.sent),
            "acked": dict(self.acked),
            "refused": self.refused,
            "drain_rate": self.drain_rate,
        }
