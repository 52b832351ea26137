"""Store-and-forward under faults: every event a source handed to the box is in the DB exactly once.

Each test pushes thousands of events through the box's HTTP listener (as a
weigh-in-motion station or ANPR camera would, retrying until the box accepts a
batch) while a fault happens: the agent is killed with SIGKILL and restarted,
the broker restarts, the uplink is cut for 60 s, the hub's ingest is killed and
restarted. Afterwards the database must hold each event id once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from adapters.model import new_event_id
from devkit.fixtures.edge import EdgeProcess, push_auth, push_until_accepted, site_yaml
from devkit.fixtures.ingest import wait_count
from devkit.fixtures.wait import wait_for

pytestmark = pytest.mark.fault

TOTAL = 3000
BATCH = 20
PAUSE_S = 0.08  # ~250 events/s: the run lasts ~12 s, so the fault lands in the middle


class Load:
    """A local source system pushing event batches to the box, retrying each until accepted."""

    def __init__(self, url: str) -> None:
        self.url = f"{url}/push/cityhub-events?system=edge"
        self.ids: list[str] = []
        self.accepted = 0
        self.retries = 0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _batch(self) -> tuple[list[str], bytes]:
        now = datetime.now(UTC).isoformat()
        ids = [str(new_event_id()) for _ in range(BATCH)]
        events = [
            {
                "id": i,
                "occurred_at": now,
                "source_system": "edge",
                "kind": "load",
                "department": "police",
                "site": "xinhua-5th",
                "attributes": {"n": k},
            }
            for k, i in enumerate(ids)
        ]
        return ids, json.dumps({"events": events}).encode()

    def _run(self) -> None:
        try:
            with httpx.Client(timeout=5, auth=push_auth()) as http:
                while self.accepted < TOTAL:
                    ids, body = self._batch()
                    self.ids += ids  # handed over: the source keeps retrying until accepted
                    self.retries += push_until_accepted(http, self.url, body)
                    self.accepted += BATCH
                    time.sleep(PAUSE_S)  # the point: pacing the load
        except BaseException as exc:  # surfaced by join()
            self.error = exc

    def start(self) -> Load:
        self.thread.start()
        return self

    def wait_accepted(self, n: int, timeout: float = 60) -> None:
        wait_for(lambda: self.accepted >= n, timeout,
                 lambda: f"{n} events accepted (only {self.accepted})", step=0.05)

    def join(self, timeout: float = 180) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"load stuck after {self.accepted} events"
        assert self.error is None, self.error


def run_with_fault(
    tmp_path: Path,
    broker,
    dsn: str,
    ingest_workers,
    edge_agents,
    fault: Callable[[EdgeProcess, object], None],
    **site: Any,
) -> Load:
    workers = ingest_workers(dsn, broker.url)
    workers.start()
    agent = edge_agents(
        site_yaml(tmp_path / "site.yaml", broker.url, adapters=["cityhub-events"], **site)
    )
    load = Load(agent.url).start()
    load.wait_accepted(TOTAL // 3)
    fault(agent, workers)
    load.join()
    wait_count(
        dsn,
        "SELECT count(DISTINCT id) FROM events WHERE kind = 'load'",
        TOTAL,
        timeout=120,
        workers=workers,
    )
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT id::text FROM events WHERE kind = 'load'").fetchall()
    stored = [r[0] for r in rows]
    assert len(stored) == len(set(stored)), "an event was stored twice"
    assert set(stored) == set(load.ids) and len(stored) == TOTAL
    return load


def test_agent_killed_with_sigkill_and_restarted(
    tmp_path, private_broker, migrated_dsn, ingest_workers, edge_agents
) -> None:
    def fault(agent: EdgeProcess, _workers: object) -> None:
        agent.kill()
        time.sleep(2)  # the point: the box stays down a while
        agent.start()

    load = run_with_fault(
        tmp_path, private_broker, migrated_dsn, ingest_workers, edge_agents, fault
    )
    assert load.retries > 0  # the source really had to retry while the box was down


def test_broker_restarted(
    tmp_path, private_broker, migrated_dsn, ingest_workers, edge_agents
) -> None:
    run_with_fault(
        tmp_path,
        private_broker,
        migrated_dsn,
        ingest_workers,
        edge_agents,
        lambda _a, _w: private_broker.restart(),
    )


def test_uplink_cut_for_60_s(
    tmp_path, private_broker, migrated_dsn, ingest_workers, edge_agents
) -> None:
    seen: dict[str, Any] = {}

    def fault(agent: EdgeProcess, _workers: object) -> None:
        private_broker.stop()
        time.sleep(60)  # the point: a 60 s outage of the uplink
        # Everything accepted meanwhile waited in the box's outbox.
        seen["outbox"] = httpx.get(f"{agent.url}/health").json()["outbox"]
        private_broker.start()

    run_with_fault(tmp_path, private_broker, migrated_dsn, ingest_workers, edge_agents, fault)
    assert seen["outbox"]["depth"] > 0 and seen["outbox"]["evidence"] == seen["outbox"]["depth"]


def test_hub_ingest_killed_and_restarted(
    tmp_path, private_broker, migrated_dsn, ingest_workers, edge_agents
) -> None:
    def fault(_agent: EdgeProcess, workers) -> None:
        workers.kill(0)
        time.sleep(3)  # the point: ingest stays down a while
        workers.start(0)

    run_with_fault(tmp_path, private_broker, migrated_dsn, ingest_workers, edge_agents, fault)
