"""Faults during ingest: afterwards the database holds exactly the published events.

Each test publishes thousands of events (packed 50 per message) from a
persistent-session publisher while a worker process ingests them, and breaks
something mid-run: kill -9 of the worker, a broker restart, PostgreSQL down 30 s.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from datetime import UTC, datetime

import psycopg
import pytest

from adapters.base import Origin
from adapters.native import CityhubEventsAdapter
from core.model import SourceSystem
from core.mqtt import MqttClient
from devkit.embedded import EmbeddedBroker, EmbeddedPostgres
from devkit.fixtures.ingest import wait_count
from devkit.fixtures.wait import wait_for
from hub.store import migrate

pytestmark = pytest.mark.fault
TOPIC = "city/police/xinhua-5th/edge/events"


def make_packs(n_packs: int, per_pack: int = 50) -> tuple[list[bytes], set[str]]:
    adapter = CityhubEventsAdapter()
    origin = Origin("police", "xinhua-5th", SourceSystem.edge, datetime.now(UTC))
    rng = random.Random(4)
    packs = [
        adapter.simulate(rng, origin, datetime.now(UTC), count=per_pack) for _ in range(n_packs)
    ]
    ids = {e["id"] for p in packs for e in json.loads(p)["events"]}
    return packs, ids


class Publisher(threading.Thread):
    """Publishes packs at a steady pace; survives broker restarts (paho resends unacked)."""

    def __init__(self, url: str, packs: list[bytes], per_second: float) -> None:
        super().__init__(daemon=True)
        self.url, self.packs, self.per_second = url, packs, per_second
        self.sent = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # surfaced by finish()
            self.error = exc

    async def _main(self) -> None:
        c = MqttClient(
            self.url,
            "fault-publisher",
            clean_start=False,
            session_expiry_s=600,
            reconnect_delays=(0.1, 0.5),
        )
        await c.connect()
        futs = []
        start = time.monotonic()
        for i, p in enumerate(self.packs):
            delay = start + i / self.per_second - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # the point: pacing the load
            # deliver(): retried while the ingest's shared subscription is not back yet
            # (Mosquitto 2.0 does not restore shared subscriptions after a restart).
            futs.append(asyncio.ensure_future(c.deliver(TOPIC, p, retry_s=0.2)))
            self.sent = i + 1
        await asyncio.wait_for(asyncio.gather(*futs), 120)
        await c.close()

    def finish(self) -> None:
        self.join(150)
        assert not self.is_alive(), "publisher did not finish"
        if self.error:
            raise self.error


def assert_exactly(dsn: str, ids: set[str], workers) -> None:
    wait_count(dsn, "SELECT count(*) FROM events", len(ids), timeout=120, workers=workers)
    with psycopg.connect(dsn) as conn:
        stored = [str(r[0]) for r in conn.execute("SELECT id FROM events")]
    assert len(stored) == len(set(stored)), "an event was stored twice"
    assert set(stored) == ids, f"lost {len(ids - set(stored))}, unexpected {len(set(stored) - ids)}"


def test_worker_killed_mid_run_loses_and_duplicates_nothing(
    migrated_dsn: str, private_broker: EmbeddedBroker, ingest_workers
) -> None:
    workers = ingest_workers(migrated_dsn, private_broker.url)
    workers.start(0)
    packs, ids = make_packs(300)
    pub = Publisher(private_broker.url, packs, per_second=100)
    pub.start()
    wait_for(lambda: pub.sent >= 100, 30, "100 packs sent", step=0.02)
    workers.kill(0)  # kill -9: its unacknowledged messages stay in its broker session
    time.sleep(0.5)  # the point: the worker stays down while the load goes on
    workers.start(0)  # same client id: the session resumes and the broker redelivers
    pub.finish()
    assert_exactly(migrated_dsn, ids, workers)


def test_broker_restart_mid_run(
    migrated_dsn: str, private_broker: EmbeddedBroker, ingest_workers
) -> None:
    workers = ingest_workers(migrated_dsn, private_broker.url)
    workers.start(0)
    packs, ids = make_packs(300)
    pub = Publisher(private_broker.url, packs, per_second=100)
    pub.start()
    wait_for(lambda: pub.sent >= 100, 30, "100 packs sent", step=0.02)
    private_broker.restart()
    pub.finish()
    assert_exactly(migrated_dsn, ids, workers)
    assert workers.alive(0)


def test_database_down_for_30_seconds(
    private_pg: EmbeddedPostgres, private_broker: EmbeddedBroker, ingest_workers
) -> None:
    migrate.upgrade(private_pg.dsn)
    workers = ingest_workers(private_pg.dsn, private_broker.url, retry_max_delay_s=1.0)
    workers.start(0)
    packs, ids = make_packs(200)
    pub = Publisher(private_broker.url, packs, per_second=100)
    pub.start()
    wait_for(lambda: pub.sent >= 50, 30, "50 packs sent", step=0.02)
    private_pg.stop()
    pub.finish()  # the broker takes everything while the database is down
    time.sleep(30)  # the point: the database stays down for 30 s
    assert workers.alive(0), workers.log(0)
    private_pg.start()
    assert_exactly(private_pg.dsn, ids, workers)
    assert "not acknowledging" in workers.log(0)
