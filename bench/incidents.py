"""Incidents benchmark: from event to incident under load, and the queue and statistics at
100,000 incidents.

``python -m bench.incidents [--rate 2000] [--seconds 15] [--dsn URL]`` prints one JSON object.

1. Events are written the way ingest writes them (``BatchWriter``, COPY, 10 batches a
   second) at ``--rate`` events/s with 50 enabled rules in 5 departments; 10 % of the
   events are of a rule's kind (the rest, plate reads, are what a city mostly sends). The
   hub's incident worker (started by the app, as in production) turns them into incidents
   or merges them. Delay = ``incident_events.attached_at - events.received_at``.
   Baseline in the same run: the same stream with every rule disabled, where the figure is
   the batch write time; the write time with rules on shows what they cost ingest.
2. 100,000 incidents (30 days, five departments, a third dispatched to another
   department) are loaded; ``GET /api/v1/incidents`` (a department's open queue, 50 rows)
   and ``GET /api/v1/incident-stats`` (30 days) are timed through the API in-process.
   Baseline: the same queries (``hub.incidents.queries``) on an owner connection, no API.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from adapters.model import Event, Severity
from bench.report import finish
from core.model import SourceSystem
from devkit.embedded import EmbeddedPostgres
from devkit.fixtures.hubapi import build_hub
from hub.incidents import queries
from hub.incidents.states import OPEN
from hub.store.scalar import scalar
from hub.store.writer import BatchWriter

DEPTS = ["police", "traffic", "citymgmt", "overload", "bus"]
SITES = {d: [f"{d}-s{i}" for i in range(20)] for d in DEPTS}
RULES = 50
MATCHING = 0.10


def _ms(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)
    return {"p50_ms": round(statistics.median(s) * 1000, 2),
            "p95_ms": round(s[int(0.95 * (len(s) - 1))] * 1000, 2), "n": len(s)}


def _events(n: int, rng: random.Random, now: datetime) -> list[Event]:
    out = []
    for _ in range(n):
        if rng.random() < MATCHING:
            r = rng.randrange(RULES)
            dept = DEPTS[r % len(DEPTS)]
            kind = f"k{r}"
        else:
            dept, kind = rng.choice(DEPTS), "plate_read"
        out.append(Event(occurred_at=now, kind=kind, source_system=SourceSystem.traffic,
                         department=dept, site=rng.choice(SITES[dept]), severity=Severity(2)))
    return out


async def _stream(dsn: str, rate: int, seconds: float, seed: int) -> tuple[list[float], int]:
    """Write ``rate`` events/s for ``seconds``; (batch write times, events written)."""
    rng = random.Random(seed)
    per = rate // 10
    writer = BatchWriter()
    times: list[float] = []
    sent = 0
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        start = time.perf_counter()
        k = 0
        while time.perf_counter() - start < seconds:
            batch = _events(per, rng, datetime.now(UTC))
            t = time.perf_counter()
            await writer.write(conn, events=batch)
            await conn.commit()  # as ingest does: each batch is its own transaction
            times.append(time.perf_counter() - t)
            sent += len(batch)
            k += 1
            rest = start + k * 0.1 - time.perf_counter()
            if rest > 0:
                await asyncio.sleep(rest)
        elapsed = time.perf_counter() - start
    return times, int(sent / elapsed)


def _matching(conn: psycopg.Connection[Any], since: datetime) -> int:
    row = conn.execute("SELECT count(*) FROM events WHERE received_at >= %s AND kind <> "
                       "'plate_read'", (since,)).fetchone()
    return int(row[0]) if row else 0


def _seed(hub: Any) -> None:
    with hub.owner() as conn:
        for d, sites in SITES.items():
            for s in sites:
                conn.execute("INSERT INTO sites (id, name, department_id, lat, lon) VALUES"
                             " (%s, %s, %s, 31.2, 121.4)", (s, s, d))
        for r in range(RULES):
            dept = DEPTS[r % len(DEPTS)]
            other = DEPTS[(r + 1) % len(DEPTS)]
            conn.execute(
                "INSERT INTO incident_rules (department_id, name, enabled, event_kinds,"
                " incident_kind, dispatch_to, created_by) VALUES (%s, %s, false, %s, %s, %s,"
                " 'bench')", (dept, f"rule {r}", [f"k{r}"], f"k{r}", [other] if r % 2 else []))


def _load_incidents(conn: psycopg.Connection[Any], n: int) -> None:
    conn.execute(
        "INSERT INTO incidents (department_id, kind, priority, title, state, source, site_id,"
        " created_by, created_at, updated_at, acknowledged_at, resolved_at, closed_at,"
        " acknowledge_due, dispatch_due, resolve_due)"
        " SELECT d, 'k' || (g %% 50), 1 + g %% 4, 'bench ' || g,"
        " (ARRAY['new','acknowledged','dispatched','in_progress','closed','closed','closed',"
        "'closed','cancelled','resolved'])[1 + g %% 10], 'rule', d || '-s' || (g %% 20), 'bench',"
        " t, t, t + interval '90 s', t + interval '2 h', CASE WHEN g %% 10 BETWEEN 4 AND 7"
        " THEN t + interval '3 h' END, t + interval '5 min', t + interval '15 min',"
        " t + interval '1 day'"
        " FROM generate_series(1, %s) g,"
        " LATERAL (SELECT (ARRAY['police','traffic','citymgmt','overload','bus'])[1 + g %% 5] AS d,"
        " now() - (g * interval '30 days') / %s AS t) x", (n, n))
    conn.execute(
        "INSERT INTO incident_assignees (incident_id, department_id, assigned_by)"
        " SELECT id, CASE department_id WHEN 'police' THEN 'traffic' ELSE 'police' END, 'bench'"
        " FROM incidents WHERE number % 3 = 0")
    conn.execute("ANALYZE incidents; ANALYZE incident_assignees")


def run(dsn: str, state: Path, rate: int, seconds: float, timeout: float = 60.0,
        worker: bool = True) -> tuple[dict[str, Any], list[str]]:
    """The figures and the problems found. Matching events not all made incidents within
    ``timeout`` (``worker=False``: a hub without its incident worker) end the run there."""
    problems: list[str] = []
    hub = build_hub(dsn, state, incidents={"tick_s": 1.0, "worker": worker})
    _seed(hub)
    out: dict[str, Any] = {"rate_target": rate, "rules": RULES, "matching_share": MATCHING}
    with closing(hub.runtime), hub.client:
        base_times, base_rate = asyncio.run(_stream(dsn, rate, seconds / 2, 1))
        with hub.owner() as conn:
            conn.execute("UPDATE incident_rules SET enabled = true")
            since = scalar(conn, "SELECT now()")
        time.sleep(1.5)  # the worker reads rules on each pass: let it see them
        with hub.owner() as conn:
            since = scalar(conn, "SELECT now()")
        times, achieved = asyncio.run(_stream(dsn, rate, seconds, 2))
        with hub.owner() as conn:
            expected = _matching(conn, since)
            deadline = time.monotonic() + timeout
            while True:
                got = scalar(conn, "SELECT count(*) FROM incident_events ie JOIN events e ON"
                             " e.id = ie.event_id WHERE e.received_at >= %s", (since,))
                if got >= expected or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            delays = [r[0] for r in conn.execute(
                "SELECT extract(epoch FROM ie.attached_at - e.received_at)::float8 FROM"
                " incident_events ie JOIN events e ON e.id = ie.event_id WHERE"
                " e.received_at >= %s", (since,)).fetchall()]
            incidents = scalar(conn, "SELECT count(*) FROM incidents")
        if got < expected:
            problems.append(f"timeout: only {got} of {expected} matching events became "
                            f"incidents within {timeout:g} s")
        if achieved < 0.95 * rate or base_rate < 0.95 * rate:
            problems.append(f"the stream reached {achieved} (baseline {base_rate}) events/s")
        out["event_to_incident"] = {
            "events_per_s": achieved, "matching_events": expected, "attached": got,
            "incidents": incidents, **(_ms(delays) if delays else {}),
        }
        if problems:
            return out, problems
        out["ingest_batch_write"] = {"rules_off": _ms(base_times), "rules_on": _ms(times),
                                     "rules_off_events_per_s": base_rate}
        with hub.owner() as conn:
            conn.execute("UPDATE incident_rules SET enabled = false")
            conn.execute("TRUNCATE incidents CASCADE")
            _load_incidents(conn, 100_000)
        h = hub.headers("traffic")
        open_states = list(OPEN)
        params = {"state": open_states, "limit": 50}

        def get(path: str, p: dict[str, Any]) -> float:
            t = time.perf_counter()
            r = hub.client.get(path, params=p, headers=h)
            if r.status_code != 200:
                problems.append(f"{path}: {r.status_code}")
            return time.perf_counter() - t

        get("/api/v1/incidents", params)
        queue_api = [get("/api/v1/incidents", params) for _ in range(50)]
        stats_api = [get("/api/v1/incident-stats", {}) for _ in range(20)]
        now = datetime.now(UTC)
        with hub.owner() as conn:
            def direct(fn: Any) -> float:
                t = time.perf_counter()
                with conn.transaction():
                    conn.execute("SELECT set_config('cityhub.department', 'traffic', true)")
                    fn()
                return time.perf_counter() - t
            queue_base = [direct(lambda: queries.queue(
                conn, "traffic", states=open_states, kind=None, site=None, priority=None,
                side="all", before=None, limit=50)) for _ in range(50)]
            stats_base = [direct(lambda: queries.stats(
                conn, "traffic", now - timedelta(days=30), now)) for _ in range(20)]
    out["incidents_in_store"] = 100_000
    out["queue_page"] = {"api": _ms(queue_api), "baseline_direct_query": _ms(queue_base)}
    out["statistics"] = {"api": _ms(stats_api), "baseline_direct_query": _ms(stats_base)}
    out["targets"] = {"event_to_incident_p95_ms": 1000, "queue_and_stats_p95_ms": 300}
    return out, problems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rate", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--dsn", help="an empty database as its owner (default: a private cluster)")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds for every matching event to become an incident")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-incidents-"))
    if args.dsn:
        result, problems = run(args.dsn, tmp, args.rate, args.seconds, args.timeout)
    else:
        with EmbeddedPostgres(tmp / "pg") as pg:
            dsn = pg.create_database(f"bench_{uuid.uuid4().hex[:8]}")
            result, problems = run(dsn, tmp / "state", args.rate, args.seconds, args.timeout)
    sys.exit(finish("incidents", result, problems))


if __name__ == "__main__":
    main()
