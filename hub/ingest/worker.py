"""One ingest worker: MQTT in, batches into the store, acknowledgements only after commit.

Two threads. The asyncio loop of the main thread owns the MQTT connection and
only receives, batches and acknowledges: it never waits on the database. A
store thread with its own loop adapts each batch (CPU) and writes it through
``hub.store.writer.BatchWriter`` in one transaction. A batch's messages are
acknowledged once ``write`` returned, so a crash loses nothing (the broker
redelivers to the persistent session) and the store's dedupe by id makes the
redelivery harmless. While the database is down the batch is retried with
back-off and nothing is acknowledged; ``receive_maximum`` then stops the broker
from sending more, and it queues messages until the worker resumes by itself.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import psycopg

from core.mqtt import Message, MqttClient
from core.topics import subscription
from hub.ingest import metrics as m
from hub.ingest.config import IngestConfig
from hub.ingest.pipeline import Letter, Outcome, adapt_message
from hub.store.settings import StoreConfig
from hub.store.writer import BatchResult, BatchWriter, DeadLetter

log = logging.getLogger(__name__)
T = TypeVar("T")
_KINDS = {"events", "readings", "native", "health", "status", "config", "discovery"}


#: Errors that say nothing about the batch (database down, restarting, read-only after a
#: failover, deadlock): the batch is retried as it is, however long it takes.
TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError, psycopg.InternalError)


class Abandoned(RuntimeError):
    """The worker is stopping while its batch cannot be committed: it stays unacknowledged."""


@dataclass(frozen=True)
class Received:
    message: Message
    wall: datetime
    mono: float


class _StoreThread:
    """A thread with its own event loop holding the database connection."""

    def __init__(self, dsn: str, store: StoreConfig, cfg: IngestConfig) -> None:
        self.dsn = dsn
        self.cfg = cfg
        self.writer = BatchWriter(store)
        self.tz = ZoneInfo(cfg.local_timezone)
        self.conn: psycopg.AsyncConnection[Any] | None = None
        self.loop = asyncio.new_event_loop()
        self.stopping = False
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="ingest-store", daemon=True
        )
        self.thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def adapt(self, batch: list[Received]) -> list[tuple[Received, Outcome]]:
        """CPU part, run in its own thread so that it overlaps the previous batch's write."""
        return [
            (
                r,
                adapt_message(
                    r.message.topic, r.message.payload, r.wall, self.tz, r.message.retain
                ),
            )
            for r in batch
        ]

    async def write(self, parts: list[tuple[Received, Outcome]]) -> BatchResult:
        """Commit a batch, retrying while the database is unreachable (nothing is acked meanwhile).

        If the store keeps refusing the batch for another reason (a bug, a row it cannot
        take), the batch is written message by message and a message the store still
        refuses is dead-lettered whole with the error: one poison message never stalls
        ingest, and the others are stored.
        """
        delay, refusals = 0.1, 0
        while True:
            try:
                result = await self._write_once([o for _, o in parts])
                break
            except TRANSIENT as exc:
                m.DB_UP.set(0)
                log.warning(
                    "store unavailable (%s); retrying the batch in %.1fs, not acknowledging",
                    str(exc).splitlines()[0][:200],
                    delay,
                )
            except Exception:
                refusals += 1
                log.exception("batch write failed (%d); retrying, not acknowledging", refusals)
                if refusals >= 3:
                    try:
                        result = await self._write_one_by_one(parts)
                        break
                    except TRANSIENT:
                        pass
                    except Exception:  # even its dead letter was refused: keep retrying
                        log.exception("store refuses a message and its dead letter")
            m.DB_ERRORS.inc()
            await self._close_conn()
            if self.stopping:
                raise Abandoned("stopping with an uncommitted batch (it will be redelivered)")
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.cfg.retry_max_delay_s)
        m.DB_UP.set(1)
        events = [e for _, o in parts for e in o.events]
        if events:
            newest = max(e.occurred_at for e in events).timestamp()
            m.EVENT_AGE.set(max(0.0, time.time() - newest))
        return result

    async def _write_once(self, outcomes: list[Outcome]) -> BatchResult:
        if self.conn is None or self.conn.closed:
            self.conn = await psycopg.AsyncConnection.connect(
                self.dsn, autocommit=True, connect_timeout=5
            )
        return await self.writer.write(
            self.conn,
            events=[e for o in outcomes for e in o.events],
            readings=[r for o in outcomes for r in o.readings],
            dead_letters=[
                DeadLetter(x.topic, x.reason, x.payload) for o in outcomes for x in o.letters
            ],
            topic="ingest",
            media=[b for o in outcomes for b in o.media],
            discoveries=[d for o in outcomes for d in o.discoveries],
        )

    async def _write_one_by_one(self, parts: list[tuple[Received, Outcome]]) -> BatchResult:
        total = BatchResult()
        for received, outcome in parts:
            try:
                r = await self._write_once([outcome])
            except TRANSIENT:
                raise
            except Exception as exc:
                msg = received.message
                log.error("store refused a message on %s: %s", msg.topic[:200], type(exc).__name__)
                letter = Letter(
                    msg.topic, f"store refused the message: {str(exc)[:300]}", msg.payload
                )
                r = await self._write_once([Outcome(letters=[letter])])
            for f in (
                "events_inserted",
                "events_duplicate",
                "readings_inserted",
                "readings_duplicate",
                "dead_lettered",
            ):
                setattr(total, f, getattr(total, f) + getattr(r, f))
        return total

    async def _close_conn(self) -> None:
        if self.conn is not None:
            try:
                await self.conn.close()
            except Exception:  # noqa: BLE001 - a broken connection may fail to close
                pass
            self.conn = None

    def close(self) -> None:
        self.stopping = True
        self.submit(self._close_conn()).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


class IngestWorker:
    """Consumes ``$share/<group>/city/#`` and stores what arrives, until ``stop`` is set."""

    def __init__(
        self,
        cfg: IngestConfig,
        broker_url: str,
        dsn: str,
        store: StoreConfig | None = None,
        index: int = 0,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.cfg = cfg
        self.broker_url = broker_url
        self.dsn = dsn
        self.store = store or StoreConfig()
        self.client_id = f"{cfg.client_id_prefix}-{index}"
        self.username, self.password = username, password
        self._inbox: list[Received] = []
        self._inbox_bytes = 0
        self._wake = asyncio.Event()
        self.stored_events = 0
        self.stored_readings = 0

    def _on_message(self, msg: Message) -> None:
        parts = msg.topic.split("/", 5)
        if msg.qos == 0 and len(self._inbox) >= 2 * self.cfg.receive_maximum:
            m.DROPPED_QOS0.inc()  # receive_maximum bounds QoS 1 only; keep memory bounded
            return
        m.MESSAGES.labels(parts[4] if len(parts) > 4 and parts[4] in _KINDS else "other").inc()
        self._inbox.append(Received(msg, datetime.now(UTC), time.monotonic()))
        self._inbox_bytes += len(msg.payload)
        m.PENDING.inc()
        if (
            len(self._inbox) >= self.cfg.batch_max_messages
            or self._inbox_bytes >= self.cfg.batch_max_bytes
            or len(self._inbox) == 1
        ):
            self._wake.set()

    async def _next_batch(self, stop: asyncio.Event) -> list[Received]:
        while not self._inbox:
            self._wake.clear()
            if stop.is_set():
                return []
            with _suppress_timeout():
                await asyncio.wait_for(self._wake.wait(), 0.5)
        deadline = self._inbox[0].mono + self.cfg.batch_max_delay_ms / 1000
        while (
            len(self._inbox) < self.cfg.batch_max_messages
            and self._inbox_bytes < self.cfg.batch_max_bytes
            and not stop.is_set()
        ):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._wake.clear()
            with _suppress_timeout():
                await asyncio.wait_for(self._wake.wait(), left)
        size = taken = 0
        for r in self._inbox[: self.cfg.batch_max_messages]:
            if taken and size + len(r.message.payload) > self.cfg.batch_max_bytes:
                break
            size += len(r.message.payload)
            taken += 1
        batch = self._inbox[:taken]
        del self._inbox[:taken]
        self._inbox_bytes -= size
        return batch

    async def _connect(self) -> MqttClient:
        """Subscribed to the shared subscription, in a persistent session with manual acks:
        what is not acknowledged (written) the broker redelivers."""
        client = MqttClient(
            self.broker_url,
            self.client_id,
            username=self.username,
            password=self.password,
            clean_start=False,
            session_expiry_s=self.cfg.session_expiry_s,
            receive_maximum=self.cfg.receive_maximum,
            manual_ack=True,
        )
        client.on_message = self._on_message
        client.on_connection = lambda up: m.CONNECTED.set(1 if up else 0)
        await client.connect()
        await client.subscribe(subscription(self.cfg.topic_root, self.cfg.share_group), qos=1)
        log.info(
            "ingest worker %s consuming %s",
            self.client_id,
            subscription(self.cfg.topic_root, self.cfg.share_group),
        )
        return client

    def _acked(self, client: MqttClient, batch: list[Received], result: BatchResult,
               started: float) -> None:
        """Acknowledge a written batch to the broker and count it."""
        now = time.monotonic()
        for r in batch:
            client.ack(r.message)
            m.LAG.observe(now - r.mono)
        m.PENDING.dec(len(batch))
        m.ACKED.inc(len(batch))
        self._count(result, len(batch), now - started)

    async def run(self, stop: asyncio.Event) -> None:
        m.DB_UP.set(1)  # until a write fails: an idle worker is not a database down
        store = _StoreThread(self.dsn, self.store, self.cfg)
        client = await self._connect()

        async def flag_stop() -> None:
            await stop.wait()
            store.stopping = True

        # Two stages: the next batch is adapted while the previous one is being written.
        adapted: asyncio.Queue[tuple[list[Received], list[tuple[Received, Outcome]]] | None] = (
            asyncio.Queue(maxsize=1)
        )
        loop = asyncio.get_running_loop()

        async def adapt_stage() -> None:
            while True:
                batch = await self._next_batch(stop)
                if not batch:
                    await adapted.put(None)
                    return
                t_adapt = time.monotonic()
                out = await loop.run_in_executor(adapt_pool, store.adapt, batch)
                m.ADAPT_SECONDS.observe(time.monotonic() - t_adapt)
                await adapted.put((batch, out))

        adapt_pool = ThreadPoolExecutor(1, thread_name_prefix="ingest-adapt")
        watcher = asyncio.create_task(flag_stop())
        producer = asyncio.create_task(adapt_stage())
        try:
            while (item := await adapted.get()) is not None:
                batch, out = item
                t0 = time.monotonic()
                try:
                    result = await asyncio.wrap_future(store.submit(store.write(out)))
                except Abandoned:
                    log.warning(
                        "stopped with %d messages uncommitted: the broker redelivers them",
                        len(batch),
                    )
                    break
                self._acked(client, batch, result, t0)
        finally:
            watcher.cancel()
            producer.cancel()
            await client.close()
            adapt_pool.shutdown(wait=True, cancel_futures=True)
            await loop.run_in_executor(None, store.close)

    def _count(self, r: BatchResult, messages: int, seconds: float) -> None:
        self.stored_events += r.events_inserted
        self.stored_readings += r.readings_inserted
        m.STORED.labels("event").inc(r.events_inserted)
        m.STORED.labels("reading").inc(r.readings_inserted)
        m.DUPLICATES.labels("event").inc(r.events_duplicate)
        m.DUPLICATES.labels("reading").inc(r.readings_duplicate)
        m.DEAD.inc(r.dead_lettered)
        m.BATCH_MESSAGES.observe(messages)
        m.BATCH_RECORDS.observe(
            r.events_inserted
            + r.events_duplicate
            + r.readings_inserted
            + r.readings_duplicate
            + r.dead_lettered
        )
        m.BATCH_SECONDS.observe(seconds)


class _suppress_timeout:
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> bool:
        return exc_type is TimeoutError
