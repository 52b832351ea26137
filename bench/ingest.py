"""Ingest benchmark: MQTT publish -> ``cityhub ingest`` workers -> committed rows, end to end.

``python -m bench.ingest [--events N] [--readings M] [--pack K] [--workers 1,2]`` prints one
JSON object. For each worker count, a fresh database and a private Mosquitto: N events
(cityhub event packs, K per message) and then M readings (SenML packs) are published,
and the clock stops when the workers have committed them all (their Prometheus counters,
polled: no count(*) load on the database); lost and duplicated rows are then counted in the
database against the published ids. The baseline is a raw COPY of the same rows into
the same tables of another fresh database in the same run (``copy_*_per_s``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import yaml

from adapters.base import Origin
from adapters.native import CityhubEventsAdapter
from bench.report import finish
from core.model import SourceSystem
from core.mqtt import MqttClient
from core.net import free_port, port_open
from devkit.embedded import EmbeddedBroker, EmbeddedPostgres
from hub.ingest.pipeline import adapt_message
from hub.store import migrate
from hub.store.rows import EVENTS, READINGS, event_row
from hub.store.scalar import scalar

EVENTS_TOPIC = "city/police/xinhua-5th/edge/events"
READINGS_TOPIC = "city/citymgmt/xinhua-5th/sensor/readings"
TARGET_EVENTS, TARGET_READINGS = 20_000, 100_000


def make_event_packs(n: int, pack: int) -> tuple[list[bytes], list[str]]:
    adapter = CityhubEventsAdapter()
    now = datetime.now(UTC)
    origin = Origin("police", "xinhua-5th", SourceSystem.edge, now)
    rng = random.Random(1)
    packs = [
        adapter.simulate(rng, origin, now, count=min(pack, n - i))
        for i in range(0, n, pack)
    ]
    ids = [e["id"] for p in packs for e in json.loads(p)["events"]]
    return packs, ids


def make_senml_packs(n: int, pack: int) -> list[bytes]:
    """SenML packs of ``pack`` readings of one sensor each, unique (sensor, metric, time)."""
    rng = random.Random(2)
    t0 = round(time.time() - 3600, 3)
    packs = []
    for k, i in enumerate(range(0, n, pack)):
        count = min(pack, n - i)
        recs: list[dict[str, Any]] = [
            {
                "bn": f"bench-s{k % 200:03d}/",
                "bt": t0 + (k // 200) * 10,
                "bu": "Cel",
                "n": "temp",
                "v": 20.0,
            }
        ]
        recs += [
            {"n": "temp", "t": j * 0.001, "v": round(rng.gauss(21, 2), 2)} for j in range(1, count)
        ]
        packs.append(json.dumps(recs, separators=(",", ":")).encode())
    return packs


async def publish(url: str, topic: str, packs: list[bytes], client_id: str) -> None:
    async with MqttClient(url, client_id, max_inflight=200) as c:
        await asyncio.gather(*(c.deliver(topic, p, retry_s=0.1) for p in packs))


def stored(ports: list[int], kind: str) -> float:
    """Rows the workers committed so far (their Prometheus counters: no load on the database)."""
    total = 0.0
    for port in ports:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith(f'cityhub_ingest_records_stored_total{{type="{kind}"}}'):
                    total += float(line.split()[-1])
    return total


def wait_stored(ports: list[int], kind: str, expected: int, timeout: float) -> float:
    """The monotonic time at which the workers had committed ``expected`` rows of ``kind``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if stored(ports, kind) >= expected:
            return time.monotonic()
        time.sleep(0.05)
    raise TimeoutError(f"fewer than {expected} {kind} rows committed after {timeout:.0f}s")


def start_workers(
    n: int, dsn: str, broker: str, tmp: Path, metrics_port: int, ingest: dict[str, Any]
) -> list[subprocess.Popen[bytes]]:
    config = tmp / "ingest.yaml"
    config.write_text(yaml.safe_dump({"ingest": {**ingest, "metrics_port": metrics_port}}))
    procs = []
    for i in range(n):
        log = tmp / f"ingest-{i}.log"
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from hub.cli import main; main()",
                    "ingest",
                    "--config",
                    str(config),
                    "--dsn",
                    dsn,
                    "--broker",
                    broker,
                    "--index",
                    str(i),
                ],
                stdout=open(log, "wb"),
                stderr=subprocess.STDOUT,  # noqa: SIM115
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        )
    deadline = time.monotonic() + 60
    for i in range(n):
        while "consuming" not in (tmp / f"ingest-{i}.log").read_text():
            if procs[i].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((tmp / f"ingest-{i}.log").read_text()[-2000:])
            time.sleep(0.05)
    return procs


def run_workers(
    n: int,
    pg: EmbeddedPostgres,
    tmp: Path,
    event_packs: list[bytes],
    ids: list[str],
    senml: list[bytes],
    n_readings: int,
    ingest: dict[str, Any],
    timeout: float = 600,
) -> dict[str, Any]:
    dsn = pg.create_database(f"bench_ingest_w{n}")
    migrate.upgrade(dsn)
    wdir = tmp / f"w{n}"
    wdir.mkdir()
    with EmbeddedBroker(wdir / "mqtt") as broker:
        base = free_port()
        while any(port_open(base + i) for i in range(n)):
            base = free_port()
        procs = start_workers(n, dsn, broker.url, wdir, base, ingest)
        ports = [base + i for i in range(n)]
        try:
            t0 = time.monotonic()
            asyncio.run(publish(broker.url, EVENTS_TOPIC, event_packs, "bench-events"))
            t1 = wait_stored(ports, "event", len(ids), timeout)
            t2 = time.monotonic()
            asyncio.run(publish(broker.url, READINGS_TOPIC, senml, "bench-readings"))
            t3 = wait_stored(ports, "reading", n_readings, timeout)
            time.sleep(1.0)  # let any duplicate or straggler show before counting
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(30)
    with psycopg.connect(dsn) as conn:
        stored = {str(r[0]) for r in conn.execute("SELECT id FROM events")}
        n_events_rows = scalar(conn, "SELECT count(*) FROM events")
        n_reading_rows = scalar(conn, "SELECT count(*) FROM readings")
        dead = scalar(conn, "SELECT count(*) FROM dead_letters")
    lost = len(set(ids) - stored) + max(0, n_readings - n_reading_rows)
    duplicated = (n_events_rows - len(stored)) + max(0, n_reading_rows - n_readings)
    return {
        "events_per_s": round(len(ids) / (t1 - t0)),
        "readings_per_s": round(n_readings / (t3 - t2)),
        "lost": lost,
        "duplicated": duplicated,
        "dead_letters": dead,
    }


async def _copy_baseline(dsn: str, event_packs: list[bytes], senml: list[bytes]) -> dict[str, Any]:

    now = datetime.now(UTC)
    events = [e for p in event_packs for e in adapt_message(EVENTS_TOPIC, p, now).events]
    readings = [r for p in senml for r in adapt_message(READINGS_TOPIC, p, now).readings]
    rows = [event_row(e, now) for e in events]
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        sensors = sorted({r.sensor for r in readings})
        await conn.execute(
            "INSERT INTO sensors (id, site_id, department_id) SELECT s, 'xinhua-5th', "
            "'citymgmt' FROM unnest(%s::text[]) s",
            (sensors,),
        )
        await conn.execute("INSERT INTO metrics (name, unit) VALUES ('temp', 'Cel')")
        srows = await (await conn.execute("SELECT id, key FROM sensors")).fetchall()
        mrows = await (await conn.execute("SELECT name, key FROM metrics")).fetchall()
        skey: dict[str, int] = dict(srows)
        mkey: dict[str, int] = dict(mrows)
        rrows = [(r.time, skey[r.sensor], mkey[r.metric], r.value, r.quality) for r in readings]
        t0 = time.monotonic()
        for i in range(0, len(rows), 20_000):
            async with conn.transaction():
                await EVENTS.copy(conn, rows[i : i + 20_000])
        t1 = time.monotonic()
        for i in range(0, len(rrows), 50_000):
            async with conn.transaction():
                await READINGS.copy(conn, rrows[i : i + 50_000])
        t2 = time.monotonic()
    return {
        "copied": (len(rows), len(rrows)),
        "copy_events_per_s": round(len(rows) / (t1 - t0)),
        "copy_readings_per_s": round(len(rrows) / (t2 - t1)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--readings", type=int, default=500_000)
    ap.add_argument("--pack", type=int, default=500, help="events per message")
    ap.add_argument("--senml-pack", type=int, default=2000, help="readings per SenML message")
    ap.add_argument("--workers", default="1,2", help="worker counts to run, comma-separated")
    ap.add_argument(
        "--batch-max-bytes", type=int, help="ingest.batch_max_bytes (default: the config's)"
    )
    ap.add_argument("--timeout", type=float, default=600, help="per phase; exceeded = invalid")
    args = ap.parse_args(argv)
    ingest = {} if args.batch_max_bytes is None else {"batch_max_bytes": args.batch_max_bytes}

    event_packs, ids = make_event_packs(args.events, args.pack)
    senml = make_senml_packs(args.readings, args.senml_pack)
    out: dict[str, Any] = {
        "events": args.events,
        "readings": args.readings,
        "events_per_message": args.pack,
        "readings_per_message": args.senml_pack,
        "ingest_config": ingest,
        "cpus": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmpdir:
        tmp = Path(tmpdir)
        with EmbeddedPostgres(tmp / "pg") as pg:
            for n in (int(x) for x in args.workers.split(",")):
                try:
                    out[f"workers_{n}"] = run_workers(
                        n, pg, tmp, event_packs, ids, senml, args.readings, ingest, args.timeout
                    )
                except TimeoutError as exc:
                    return finish("ingest", out, [f"{n} workers: timeout: {exc}"])
            base = pg.create_database("bench_ingest_copy")
            migrate.upgrade(base)
            out.update(asyncio.run(_copy_baseline(base, event_packs, senml)))
    runs = [v for k, v in out.items() if k.startswith("workers_")]
    out["events_per_s"] = max(r["events_per_s"] for r in runs)
    out["readings_per_s"] = max(r["readings_per_s"] for r in runs)
    out["lost"] = sum(r["lost"] for r in runs)
    out["duplicated"] = sum(r["duplicated"] for r in runs)
    out["events_vs_copy"] = round(out["events_per_s"] / out["copy_events_per_s"], 3)
    out["readings_vs_copy"] = round(out["readings_per_s"] / out["copy_readings_per_s"], 3)
    out["targets"] = {"events_per_s": TARGET_EVENTS, "readings_per_s": TARGET_READINGS}
    out["meets_targets"] = (
        out["events_per_s"] >= TARGET_EVENTS
        and out["readings_per_s"] >= TARGET_READINGS
        and out["lost"] == 0
        and out["duplicated"] == 0
    )
    problems = [f"{k}: {r['lost']} lost, {r['duplicated']} duplicated, {r['dead_letters']} "
                "dead letters" for k, r in out.items() if k.startswith("workers_")
                and (r["lost"] or r["duplicated"] or r["dead_letters"])]
    if out.pop("copied") != (args.events, args.readings):
        problems.append("the COPY baseline did not store every event and reading")
    return finish("ingest", out, problems)


if __name__ == "__main__":
    sys.exit(main())
