"""API benchmark: what authentication, visibility and the audit add to a query.

``python -m bench.api [--events N] [--runs R] [--dsn URL]`` prints one JSON object.
The same events page (limit 100, last 24 h) is timed three ways in one run:
``store_query`` (hub.store.queries.query_events on an owner connection, the
baseline), ``api_own`` (GET /api/v1/events in-process: token check, user lookup,
grant load, filtered query, audit append) and ``api_granted`` (the same for a
department holding 20 scoped grants). Also the audit append rate, one entry per
transaction (baseline) and group-committed by 16 waiting callers
(hub.audit.batcher), and the Argon2id login time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from adapters.model import Event
from devkit.embedded import EmbeddedPostgres
from hub.audit import chain
from hub.store.filters import EventQuery
from hub.store.queries import query_events
from hub.store.visibility import Scope, Visibility
from hub.store.writer import BatchWriter

DEPTS = ["police", "traffic", "citymgmt", "overload", "bus"]


def _ms(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {
        "p50_ms": round(statistics.median(s) * 1000, 2),
        "p95_ms": round(s[int(0.95 * (len(s) - 1))] * 1000, 2),
    }


def _time(fn: Any, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _batched_rate(batcher: Any, threads: int, seconds: float) -> float:
    """Entries/s when ``threads`` callers each wait for their entry (group commit)."""
    import threading

    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def worker(i: int) -> None:
        while time.perf_counter() < stop:
            entry = {"actor": "bench", "action": "bench.batched", "detail": {"i": i}}
            batcher.submit(entry).result()
            counts[i] += 1

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    t = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.perf_counter() - t)


def run(dsn: str, state: Path, n_events: int, runs: int) -> dict[str, Any]:
    from devkit.fixtures.hubapi import build_hub  # the same wiring the tests use

    hub = build_hub(dsn, state)
    now = datetime.now(UTC)
    sites = [f"{d}-s{i}" for d in DEPTS for i in range(4)]
    with hub.owner() as conn:
        for s in sites:
            conn.execute(
                "INSERT INTO sites (id, name, department_id) VALUES (%s, %s, %s)",
                (s, s, s.split("-")[0]),
            )
        for i in range(20):  # 20 scoped grants into traffic
            grantor = DEPTS[(i % 4) + (1 if (i % 4) >= 1 else 0)] if i % 4 else "police"
            conn.execute(
                "INSERT INTO access_grants (grantor_department, grantee_department, resources,"
                " sites, kinds, purpose, expires_at, created_by) VALUES (%s, 'traffic',"
                " '{events}', %s, %s, 'bench', %s, 'bench')",
                (
                    grantor,
                    [f"{grantor}-s{i % 4}"],
                    ["alarm"] if i % 2 else None,
                    now + timedelta(days=1),
                ),
            )
    events = [
        Event(
            occurred_at=now - timedelta(seconds=i * 86400 / n_events),
            kind="alarm" if i % 3 else "plate_read",
            source_system="traffic",
            department=sites[i % 20].split("-")[0],
            site=sites[i % 20],
        )
        for i in range(n_events)
    ]

    async def load() -> None:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            writer = BatchWriter()
            for k in range(0, len(events), 5000):
                await writer.write(conn, events=events[k : k + 5000])

    asyncio.run(load())
    params = {
        "start": (now - timedelta(hours=24)).isoformat(),
        "end": now.isoformat(),
        "limit": 100,
    }
    q = EventQuery(start=now - timedelta(hours=24), end=now, limit=100)
    own = Visibility.of(Scope.of(departments=["police"]))

    async def store_runs() -> list[float]:
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            out = []
            for _ in range(runs):
                t = time.perf_counter()
                await query_events(conn, q, own)
                out.append(time.perf_counter() - t)
            return out

    with hub.client:
        police, traffic = hub.headers("police"), hub.headers("traffic")
        for h in (police, traffic):  # warm up
            assert hub.client.get("/api/v1/events", params=params, headers=h).status_code == 200
        store = asyncio.run(store_runs())
        api_own = _time(
            lambda: hub.client.get("/api/v1/events", params=params, headers=police), runs
        )
        api_granted = _time(
            lambda: hub.client.get("/api/v1/events", params=params, headers=traffic), runs
        )
        login = _time(lambda: hub.login("bus-chief"), max(3, runs // 10))
    with hub.owner() as conn:
        t = time.perf_counter()
        n = 0
        while time.perf_counter() - t < 2.0:
            with conn.transaction():
                chain.append(conn, actor="bench", action="bench.append", detail={"i": n})
            n += 1
        append_rate = n / (time.perf_counter() - t)
    batched_rate = _batched_rate(hub.runtime.audit, threads=16, seconds=2.0)
    hub.runtime.close()
    return {
        "benchmark": "api",
        "events": n_events,
        "runs": runs,
        "store_query": _ms(store),
        "api_own": _ms(api_own),
        "api_granted_20": _ms(api_granted),
        "api_overhead_p50_ms": round(
            (statistics.median(api_own) - statistics.median(store)) * 1000, 2
        ),
        "audit_appends_per_s": round(append_rate, 1),
        "audit_batched_16_threads_per_s": round(batched_rate, 1),
        "login": _ms(login),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--dsn", help="an empty database as its owner (default: a private cluster)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    if args.dsn:
        print(json.dumps(run(args.dsn, tmp, args.events, args.runs)))
        return
    with EmbeddedPostgres(tmp / "pg") as pg:
        dsn = pg.create_database(f"bench_{uuid.uuid4().hex[:8]}")
        print(json.dumps(run(dsn, tmp / "state", args.events, args.runs)))


if __name__ == "__main__":
    main()
