"""bench.soak's figures from its samples and logs: each process's growth over the second
half of the run, the ERROR lines, and the chart (drawn by ``bench.soak_chart``)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: What growth is reported for. PSS is the memory a process family occupies: each shared
#: page divided among the processes that map it. Summed RSS counts a shared page once per
#: process that touched it, so PostgreSQL's grows while its backends read shared buffers,
#: with no memory being used; it is reported, the target is on PSS.
MEASURES = ("pss_mb", "rss_mb", "uss_mb", "fds", "threads")
#: What the growth target holds for.
TARGETED = ("pss_mb", "fds", "threads")
#: Measures reported but not held to the target, per process. PostgreSQL's processes are
#: its connections, which cityhub's pools open and close within their bounds (a 25-minute
#: run: the API's pool 5-6, the SIP service's 2-3), and its open files are the relation
#: files its backends, checkpointer and background writer hold for the data they touch
#: (the background writer 6-365 in that run); between runs both swung either way (+13.7 %
#: and -18.6 %). A leak of connections shows in ``db_connections``, of memory in its PSS;
#: each role's processes and files are in every sample (``pg``, ``--samples``).
NOT_TARGETED = {"postgres": ("fds", "threads")}
GROWTH_TARGET_PCT = 5.0


#: Counts move one at a time as pools take workers and files and give them back: a change of
#: one (the hub's threads 12 -> 13 in a 60-minute run: +8.3 %) is a worker that came or went,
#: so a count is held to the target only when it also grew by more than ``COUNT_STEP``.
COUNTS = ("fds", "threads")
COUNT_STEP = 1


def over_target(grown: dict[str, dict[str, float]],
                added: dict[str, dict[str, float]] | None = None) -> list[str]:
    """One problem per process that grew more than the target in a targeted measure (a count
    by more than ``COUNT_STEP`` too, where ``added`` says by how much)."""
    out = []
    for name, g in grown.items():
        held = [k for k in TARGETED if k not in NOT_TARGETED.get(name, ())]
        steps = (added or {}).get(name, {})
        over = {k: g[k] for k in held if g.get(k, 0) > GROWTH_TARGET_PCT
                and not (k in COUNTS and steps.get(k, COUNT_STEP + 1) <= COUNT_STEP)}
        if over:
            out.append(f"{name} grew {over} % (targets: {', '.join(held)})")
    return out

#: Seconds after a restart before a process's samples count towards its growth: a process
#: that has just started (threads, files, caches) is not growing, it is starting.
RESTART_WARMUP_S = 120.0


def _windows(samples: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per process: its samples over the second half of the run, since its last restart and
    its warm-up after it (a relay restarted late in the run once showed +6,300 % threads)."""
    mid = samples[len(samples) // 2]["t"] if samples else 0
    out: dict[str, list[dict[str, Any]]] = {}
    names = {n for s in samples for n in s["procs"]}
    for name in sorted(names):
        timed = [(s["t"], s["procs"][name]) for s in samples if name in s["procs"]]
        last_pid = timed[-1][1]["pid"]
        born = min(t for t, x in timed if x["pid"] == last_pid)
        restarted = any(x["pid"] != last_pid for _, x in timed)
        start = max(mid, born + RESTART_WARMUP_S) if restarted else mid
        series = [x for t, x in timed if t >= start and x["pid"] == last_pid]
        if len(series) >= 2:
            out[name] = series
    return out


def growth(samples: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per process: percent change of each measure over its window (``_windows``)."""
    return _figures(samples, MEASURES,
                    lambda first, last: round(100 * (last - first) / first, 1) if first else 0.0)


def added(samples: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per process: how many open files and threads it gained over its window."""
    return _figures(samples, COUNTS, lambda first, last: last - first)


def _figures(samples: list[dict[str, Any]], keys: tuple[str, ...],
             figure: Callable[[float, float], float]) -> dict[str, dict[str, float]]:
    """``figure(first, last)`` of each measure in ``keys`` that every sample of the process's
    window has."""
    out: dict[str, dict[str, float]] = {}
    for name, series in _windows(samples).items():
        out[name] = {k: figure(*_ends([x[k] for x in series])) for k in keys
                     if all(k in x for x in series)}
    return out


def _ends(values: list[float]) -> tuple[float, float]:
    """Medians of the window's first fifth and of its last fifth: one sample at either end
    (a burst of viewer connections, a GC not yet run) does not make the figure."""
    n = max(1, len(values) // 5)
    return statistics.median(values[:n]), statistics.median(values[-n:])


def error_lines(logs: Path) -> list[str]:
    found = []
    for path in sorted(logs.glob("*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if '"level": "ERROR"' in line or " ERROR " in line or line.startswith("ERROR"):
                found.append(f"{path.stem}: {line[:200]}")
    return found


def chart(samples: list[dict[str, Any]], path: Path) -> None:
    """Drawn by ``bench.soak_chart`` in a process of its own (see there why)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(samples, f)
    try:
        subprocess.run([sys.executable, "-m", "bench.soak_chart", f.name, str(path)],
                       check=True, timeout=120)
    finally:
        os.unlink(f.name)
