"""API benchmark: what authentication, visibility and the audit add to a query.

``python -m bench.api [--events N] [--runs R] [--dsn URL]`` prints one JSON object.
Every response's status is checked: an answer other than 200 makes the run invalid.
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
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from adapters.model import Event
from bench.report import finish
from core.model import SourceSystem
from devkit.embedded import EmbeddedPostgres
from devkit.fixtures.hubapi import PASSWORD, build_hub  # the same wiring the tests use
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


def run(
    dsn: str,
    state: Path,
    n_events: int,
    runs: int,
    before_api: Callable[[], None] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The figures and the problems found; ``before_api`` runs once the data is loaded."""
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
            source_system=SourceSystem.traffic,
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

    statuses: Counter[str] = Counter()

    def get(headers: dict[str, str]) -> None:
        r = hub.client.get("/api/v1/events", params=params, headers=headers)
        statuses[f"GET /api/v1/events {r.status_code}"] += 1

    def login_once() -> None:
        form = {"username": "bus-chief", "password": PASSWORD}
        r = hub.client.post("/api/v1/auth/token", data=form)
        statuses[f"POST /api/v1/auth/token {r.status_code}"] += 1

    with hub.client:
        police, traffic = hub.headers("police"), hub.headers("traffic")
        store = asyncio.run(store_runs())
        if before_api is not None:
            before_api()
        for h in (police, traffic):  # warm up; a hub that fails here is not measured
            get(h)
            if any(not k.endswith(" 200") for k in statuses):
                hub.runtime.close()
                return {"events": n_events, "runs": runs, "statuses": dict(statuses)}, [
                    f"{n} answers {k}" for k, n in statuses.items()
                ]
        api_own = _time(lambda: get(police), runs)
        api_granted = _time(lambda: get(traffic), runs)
        login = _time(login_once, max(3, runs // 10))
    problems = [f"{n} answers {k}" for k, n in statuses.items() if not k.endswith(" 200")]
    if problems:
        hub.runtime.close()
        return {"events": n_events, "runs": runs, "statuses": dict(statuses)}, problems
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
        "statuses": dict(statuses),
    }, []


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--dsn", help="an empty database as its owner (default: a private cluster)")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    if args.dsn:
        return finish("api", *run(args.dsn, tmp, args.events, args.runs))
    with EmbeddedPostgres(tmp / "pg") as pg:
        dsn = pg.create_database(f"bench_{uuid.uuid4().hex[:8]}")
        return finish("api", *run(dsn, tmp / "state", args.events, args.runs))


if __name__ == "__main__":
    sys.exit(main())
