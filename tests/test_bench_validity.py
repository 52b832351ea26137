"""Each benchmark refuses an invalid run: it exits non-zero and keeps no figures.

The invalid condition is real, not simulated: a phase given 0.1 s, a camera URL nobody
serves, a hub whose database is gone. Sizes are small so each run takes seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_bench(name: str, *args: str, results: Path, timeout: float = 240) -> tuple[int, dict]:
    """``python -m bench.<name> ARGS``: exit status and the JSON object it printed."""
    env = {**os.environ, "CITYHUB_BENCH_RESULTS": str(results)}
    proc = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"bench.{name} printed no JSON:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc.returncode, json.loads(lines[-1])


def assert_invalid(code: int, out: dict, results: Path, name: str, words: str) -> None:
    assert code != 0, out
    assert out["valid"] is False and any(words in p for p in out["problems"]), out["problems"]
    assert not (results / f"{name}.json").exists(), "an invalid run must not replace figures"


def test_edge_bench_timeout_is_a_failed_run(tmp_path: Path) -> None:
    code, out = run_bench(
        "edge", "--timeout", "0.1", "--backlog", "2000", "--baseline-events", "20000",
        "--seconds", "0.5", results=tmp_path,
    )
    assert_invalid(code, out, tmp_path, "edge", "timeout")
    assert out["batch_max"] == 200  # read from the configuration the run used
