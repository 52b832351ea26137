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

import pytest

import bench.report
from bench import api, docs
from core.net import free_port
from devkit.embedded import EmbeddedPostgres

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


def test_relay_bench_refuses_a_dead_camera(tmp_path: Path) -> None:
    nobody = f"rtsp://127.0.0.1:{free_port()}"  # a camera URL nobody serves
    code, out = run_bench("relay", "--streams", "2", "--upstream", nobody, results=tmp_path)
    assert_invalid(code, out, tmp_path, "relay", "cameras: 3 of 3 below")


def test_relay_bench_refuses_webrtc_viewers_short_of_frames(tmp_path: Path) -> None:
    """The 25 fps camera's viewers really get under the 30 fps asked of them."""
    code, out = run_bench("relay", "--streams", "1", "--scale", "--viewers", "2",
                          "--window", "2", "--webrtc-min-fps", "30", results=tmp_path)
    assert_invalid(code, out, tmp_path, "relay", "2 of 2 WebRTC viewers below 30 fps")


def test_transcode_bench_refuses_a_dead_camera(tmp_path: Path) -> None:
    nobody = f"rtsp://127.0.0.1:{free_port()}"  # H.265 cameras nobody serves
    code, out = run_bench("transcode", "--upstream", nobody, results=tmp_path)
    assert_invalid(code, out, tmp_path, "transcode", "no frame from")


def test_api_bench_refuses_failing_answers_from_a_hub_whose_database_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench.report, "RESULTS", tmp_path / "results")
    with EmbeddedPostgres(tmp_path / "pg") as pg:
        dsn = pg.create_database("bench_api")
        result, problems = api.run(dsn, tmp_path / "state", 200, 3, before_api=pg.stop)
    assert any("GET /api/v1/events 5" in p for p in problems), (problems, result)
    assert bench.report.finish("api", result, problems) != 0
    assert not (tmp_path / "results" / "api.json").exists()


def test_ingest_bench_timeout_is_a_failed_run(tmp_path: Path) -> None:
    code, out = run_bench(
        "ingest", "--timeout", "0.1", "--events", "2000", "--readings", "4000",
        "--workers", "1", results=tmp_path,
    )
    assert_invalid(code, out, tmp_path, "ingest", "timeout")


def test_store_bench_without_a_baseline_is_refused(tmp_path: Path) -> None:
    # one batch of readings: their raw COPY baseline never runs, nothing to compare with
    code, out = run_bench(
        "store", "--events", "20000", "--readings", "4000", "--batch", "5000", "--runs", "2",
        results=tmp_path,
    )
    assert_invalid(code, out, tmp_path, "store", "no baseline")


def test_gb28181_bench_refuses_devices_not_registered_in_time(tmp_path: Path) -> None:
    code, out = run_bench(
        "gb28181", "--devices", "5", "--streams", "1", "--trials", "2", "--timeout", "0.1",
        results=tmp_path,
    )
    assert_invalid(code, out, tmp_path, "gb28181", "stream devices registering: not within")


def test_soak_refuses_a_run_whose_viewers_do_not_play(tmp_path: Path) -> None:
    """The viewers log in as city management, which may not watch the police's cameras."""
    code, out = run_bench(
        "soak", "--minutes", "0.1", "--cameras", "1", "--webrtc-viewers", "1",
        "--fmp4-viewers", "1", "--events-per-s", "10", "--readings-per-s", "0",
        "--viewer-user", "citymgmt-operator", "--viewers-timeout", "10",
        "--chart", str(tmp_path / "soak.png"), results=tmp_path,
    )
    assert_invalid(code, out, tmp_path, "soak", "viewers not playing")


def test_readme_figures_are_generated_from_the_results_folder() -> None:
    for doc in docs.DOCS:
        text = (REPO / doc).read_text(encoding="utf-8")
        assert "<!-- bench:" in text, f"{doc} has no generated figures block"
        assert docs.render(text) == text, f"{doc}: run `python -m bench.docs`"
