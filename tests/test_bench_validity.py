"""Each benchmark refuses an invalid run: it exits non-zero and keeps no figures.

The invalid condition is real, not simulated: a phase given 0.1 s, a camera URL nobody
serves, a hub whose database is gone. Sizes are small so each run takes seconds.
Every benchmark that keeps results has its rows in a README (and a test here).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import bench.report
from bench import api, docs, incidents, ptz
from core.net import free_port
from devkit.embedded import EmbeddedPostgres

REPO = Path(__file__).resolve().parents[1]


def run_bench(name: str, *args: str, results: Path, timeout: float = 240) -> tuple[int, dict]:
    """``python -m bench.<name> ARGS``: exit status and the JSON object it printed. Run from
    outside the checkout, as from an installed one (no path relative to the repository)."""
    env = {**os.environ, "CITYHUB_BENCH_RESULTS": str(results)}
    proc = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *args],
        cwd=results, env=env, capture_output=True, text=True, timeout=timeout,
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


def test_record_bench_refuses_a_dead_camera(tmp_path: Path) -> None:
    nobody = f"rtsp://127.0.0.1:{free_port()}"  # a camera URL nobody serves
    code, out = run_bench("record", "--streams", "2", "--upstream", nobody, results=tmp_path)
    assert_invalid(code, out, tmp_path, "record", "cameras: 2 of 2 below")


def test_record_housekeeping_bench_refuses_a_pass_that_had_work_due(tmp_path: Path) -> None:
    """Retention shorter than the journals: the pass deletes, it is not the pass measured."""
    code, out = run_bench("record_housekeeping", "--cameras", "1", "--days", "0.2",
                          "--retention-days", "0.1", results=tmp_path)
    assert_invalid(code, out, tmp_path, "record_housekeeping", "a pass had work due")


def test_upstream_framing_bench_timeout_is_a_failed_run(tmp_path: Path) -> None:
    code, out = run_bench("upstream_framing", "--loops", "1", "--rounds", "1",
                          "--timeout", "0.000001", results=tmp_path)
    assert_invalid(code, out, tmp_path, "upstream_framing", "timeout")


def test_restore_bench_timeout_is_a_failed_run(tmp_path: Path) -> None:
    """archive_timeout 60 s on a quiet server: the lone commit's WAL is not archived in 1 s."""
    code, out = run_bench("restore", "--events", "1000", "--after", "1000", "--media", "2",
                          "--rpo-timeout", "1", results=tmp_path)
    assert_invalid(code, out, tmp_path, "restore", "not archived within 1 s")


def test_ui_wall_bench_timeout_is_a_failed_run(tmp_path: Path) -> None:
    """No tile turns live within a millisecond of the camera being dropped on it."""
    code, out = run_bench("ui_wall", "--rounds", "1", "--timeout", "0.001", results=tmp_path)
    assert_invalid(code, out, tmp_path, "ui_wall", "Timeout 1ms exceeded")


def test_ptz_bench_refuses_a_dead_camera(
    tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench.report, "RESULTS", tmp_path / "results")
    result, problems = ptz.run(pg_dsn, tmp_path, 3, before_moves=lambda cams: cams.stop())
    assert problems and all(p.startswith("move ") for p in problems), (problems, result)
    assert bench.report.finish("ptz", result, problems) != 0
    assert not (tmp_path / "results" / "ptz.json").exists()


def test_incidents_bench_timeout_is_a_failed_run(
    tmp_path: Path, pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hub without its incident worker: no matching event becomes an incident in time."""
    monkeypatch.setattr(bench.report, "RESULTS", tmp_path / "results")
    result, problems = incidents.run(pg_dsn, tmp_path, 200, 1.0, timeout=1.0, worker=False)
    assert any(p.startswith("timeout: only 0 of") for p in problems), (problems, result)
    assert bench.report.finish("incidents", result, problems) != 0
    assert not (tmp_path / "results" / "incidents.json").exists()


def kept_results() -> set[str]:
    """The results names every benchmark module hands to ``finish``."""
    names = set()
    for src in (REPO / "bench").glob("*.py"):
        for call in re.findall(r"finish\((.*?),", src.read_text(encoding="utf-8"), re.S):
            names |= set(re.findall(r'"([\w-]+)"', call))
    return names


def test_every_benchmark_result_has_rows_in_a_readme() -> None:
    shown = {n for doc in docs.DOCS.values() for kind in doc for n in docs.TABLES[kind]}
    kept = kept_results() | {p.stem for p in bench.report.RESULTS.glob("*.json")}
    assert {"relay", "soak", "soak-chaos", "record_housekeeping"} <= kept
    assert kept <= set(docs.ROWS) and kept <= shown, kept - (set(docs.ROWS) & shown)


def test_every_result_kept_is_rendered_in_its_readme(tmp_path: Path) -> None:
    """Each results file's rows, not its "not measured yet" line, are in a README."""
    readmes = "".join((REPO / doc).read_text(encoding="utf-8") for doc in docs.DOCS)
    for path in bench.report.RESULTS.glob("*.json"):
        assert f"no bench/results/{path.name})" not in readmes, path.name
        r = json.loads(path.read_text(encoding="utf-8"))
        for figure, value, _base in docs.ROWS[path.stem](r):
            assert f"| bench.{path.stem} | {figure} | {value} |" in readmes, (path.name, figure)


def test_readme_figures_are_generated_from_the_results_folder() -> None:
    for doc in docs.DOCS:
        text = (REPO / doc).read_text(encoding="utf-8")
        assert "<!-- bench:" in text, f"{doc} has no generated figures block"
        assert docs.render(text) == text, f"{doc}: run `python -m bench.docs`"


def test_soak_growth_skips_a_restarted_process_warm_up() -> None:
    """A part restarted late in the soak is measured from the end of its warm-up, not from
    its first sample (where threads and files are still opening), and a part that never
    restarted from the middle of the run."""
    from bench.soak_figures import RESTART_WARMUP_S, growth  # noqa: PLC0415

    def sample(t: float, relay_pid: int, threads: int) -> dict[str, Any]:
        hub = {"pid": 1, "rss_mb": 100 + t / 600, "pss_mb": 60.0, "uss_mb": 50.0, "fds": 40,
               "threads": 20}
        relay = {"pid": relay_pid, "rss_mb": 300.0, "uss_mb": 200.0, "fds": 120,
                 "threads": threads}
        return {"t": t, "procs": {"hub": hub, "relay": relay}}

    restart = 2400.0
    samples = [sample(t, 7 if t < restart else 8,
                      64 if t < restart or t > restart + 30 else 1)
               for t in range(0, 3600, 10)]
    grown = growth(samples)
    assert grown["relay"]["threads"] == 0.0  # from restart + warm-up on: flat
    # Medians of the window's first and last fifths (36 samples each: t 1800-2150, 3240-3590).
    assert grown["hub"]["rss_mb"] == round(100 * (3415 / 600 - 1975 / 600) / (100 + 1975 / 600), 1)
    assert grown["hub"]["pss_mb"] == 0.0
    assert "pss_mb" not in grown["relay"]  # a measure some samples lack is left out
    spiked = [sample(t, 7, 64) for t in range(0, 3600, 10)]
    spiked[-1]["procs"]["relay"]["fds"] = 500  # a burst of connections as the run ends
    assert growth(spiked)["relay"]["fds"] == 0.0
    late = [sample(t, 7 if t < 3550 else 8, 64) for t in range(0, 3600, 10)]
    assert "relay" not in growth(late)  # restarted too late to measure a warm process
    assert RESTART_WARMUP_S >= 60


def test_soak_holds_each_process_to_the_growth_target_in_its_targeted_measures() -> None:
    """PostgreSQL's processes and open files (its pools' connections, the files it flushes)
    are reported, not held to the target; its memory is, and every measure of the others."""
    from bench.soak_figures import over_target  # noqa: PLC0415

    grown = {"postgres": {"pss_mb": 1.1, "rss_mb": 9.4, "fds": 13.7, "threads": 5.6},
             "ingest": {"pss_mb": 4.9, "rss_mb": 16.0, "fds": 0.0, "threads": 0.0}}
    assert over_target(grown) == []  # RSS is reported only (shared pages counted per process)
    grown["postgres"]["pss_mb"] = 6.0
    grown["ingest"]["threads"] = 20.0
    assert [p.split(" grew ")[0] for p in over_target(grown)] == ["postgres", "ingest"]
    assert "'threads': 20.0" in over_target(grown)[1]


def test_soak_counts_a_worker_that_came_or_went_as_no_growth() -> None:
    """The hub's threads toggled 12 <-> 13 through a 60-minute run (a pool's worker): +8.3 %
    by percent, one thread; three more threads of 24 are growth."""
    from bench.soak_figures import added, growth, over_target  # noqa: PLC0415

    def sample(t: int, threads: int) -> dict[str, Any]:
        return {"t": t, "procs": {"hub": {"pid": 1, "pss_mb": 77.0, "fds": 63,
                                          "threads": threads}}}

    toggling = [sample(t, 12 if t < 2700 else 13) for t in range(0, 3600, 10)]
    assert growth(toggling)["hub"]["threads"] == 8.3
    assert added(toggling)["hub"] == {"fds": 0, "threads": 1}
    assert over_target(growth(toggling), added(toggling)) == []
    leaking = [sample(t, 24 if t < 2700 else 27) for t in range(0, 3600, 10)]
    assert added(leaking)["hub"]["threads"] == 3
    assert over_target(growth(leaking), added(leaking)) == [
        "hub grew {'threads': 12.5} % (targets: pss_mb, fds, threads)"]
