"""PTZ command latency through the hub against a direct ONVIF call, in one run.

One simulated ONVIF dome (``devkit.onvif``), the hub on a real uvicorn server with
PostgreSQL, and an operator sending relative moves: the hub's answer comes once the
camera has acknowledged the command (arbitration, audit, ONVIF), so its time is the
command-to-camera latency. The baseline sends the same moves to the camera directly with
one open ONVIF client. Target (issue #18): hub p95 <= 100 ms.

    python -m bench.ptz [--moves 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.report import finish
from devkit.embedded import EmbeddedPostgres
from devkit.fixtures.hubapi import build_hub, seed_city, serving
from devkit.fixtures.onvif import OnvifCameras
from streams.onvif.ptz import OnvifPtz

CAMERA = "bench-dome-1"


def _ms(samples: list[float]) -> dict[str, float | int]:
    q = statistics.quantiles(samples, n=100)
    return {"p50_ms": round(q[49] * 1000, 2), "p95_ms": round(q[94] * 1000, 2), "n": len(samples)}


def _step(i: int) -> float:
    return 0.05 if i % 2 == 0 else -0.05  # back and forth: the head stays in range


async def _direct(url: str, moves: int) -> tuple[list[float], float]:
    ptz = OnvifPtz(url)
    times = []
    try:
        await ptz.relative_move(0.0, 0.0, 0.0)  # connect and load the service once
        for i in range(moves):
            t0 = time.perf_counter()
            await ptz.relative_move(_step(i), 0.0, 0.0)
            times.append(time.perf_counter() - t0)
        pan = (await ptz.status()).pan
    finally:
        await ptz.aclose()
    return times, pan


def _through_hub(base: str, headers: dict[str, str], moves: int) -> tuple[list[float], list[str]]:
    times, problems = [], []
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for i in range(moves + 1):
            t0 = time.perf_counter()
            r = client.post(f"/api/v1/cameras/{CAMERA}/ptz/relative",
                            json={"pan": _step(i), "tilt": 0, "zoom": 0})
            if r.status_code != 200:
                problems.append(f"move {i}: {r.status_code} {r.text[:200]}")
            elif i:  # the first command also opens the lease
                times.append(time.perf_counter() - t0)
    return times, problems


def run(dsn: str, tmp: Path, moves: int,
        before_moves: Callable[[OnvifCameras], object] | None = None,
        ) -> tuple[dict[str, Any], list[str]]:
    """The figures and the problems found; ``before_moves`` gets the camera once registered.
    A move the hub did not carry out ends the run: there is nothing to compare."""
    cams = OnvifCameras(tmp / "onvif.log").start()
    hub = build_hub(dsn, tmp / "state")
    seed_city(hub, ["police"])
    try:
        with hub.client, serving(hub) as base:
            made = hub.client.post("/api/v1/cameras", headers=hub.headers("police"), json={
                "id": CAMERA, "name": "Bench dome", "site": "police-s0",
                "system": "safecity", "url": cams.onvif_url()})
            if made.status_code != 201:
                return {}, [f"camera not registered: {made.status_code} {made.text[:200]}"]
            if before_moves is not None:
                before_moves(cams)
            hub_times, problems = _through_hub(base, hub.headers("police"), moves)
            if problems:
                return {"moves": moves, "answered": len(hub_times)}, problems
            direct_times, pan = asyncio.run(_direct(cams.onvif_url(), moves))
    finally:
        hub.runtime.close()
        cams.stop()
    if len(hub_times) < moves or len(direct_times) < moves or moves < 2:
        return {"moves": moves}, ["not every move was answered (and at least 2 are needed)"]
    result = {"moves": moves, "hub": _ms(hub_times),
              "baseline_direct_onvif": _ms(direct_times), "final_pan": round(pan, 3),
              "targets": {"hub_p95_ms": 100}}
    return result, problems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moves", type=int, default=200)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-ptz-"))
    with EmbeddedPostgres(tmp / "pg") as pg:
        dsn = pg.create_database(f"bench_{uuid.uuid4().hex[:8]}")
        result, problems = run(dsn, tmp, args.moves)
    sys.exit(finish("ptz", result, problems))


if __name__ == "__main__":
    main()
