"""Soak benchmark: the demo city under load for N minutes, parts killed while it runs.

``python -m bench.soak --minutes N [--chaos] [--cameras N] [--webrtc-viewers N]
[--fmp4-viewers N] [--events-per-s R] [--readings-per-s R]`` runs the demo city
(``devkit.demo``: PostgreSQL, Mosquitto, synthetic cameras, relay, hub, ingest, simulated
traffic, an edge box) with ``--cameras`` extra 720p25 cameras replaying pre-encoded clips,
viewers that play them as the web UI's player does (``bench.viewers``: WebRTC via WHEP and
fMP4 over WebSocket through the hub's relay gateway, reconnecting on their own), a counted
event load pushed through the edge box (each batch retried until accepted, as a source
system does), SenML readings through MQTT and API queries in a loop. The defaults are the
issue's scale (32 cameras, 64 + 4 viewers, 2,000 events/s, 20,000 readings/s); what this
machine sustains is smaller, and the run says so: it is invalid (exit 1) when a viewer does
not receive video, an event is lost or stored twice, or the readings fall short of the rate.

Every ``--sample-every`` s it samples each process's memory (RSS, PSS and USS, summed over
the process and its children: PostgreSQL's backends), open files, threads and the database's
connections; the growth target holds for PSS, open files and threads, for PostgreSQL for its
PSS (``soak_figures`` says why). Short runs are dominated by warm-up (PostgreSQL's shared
buffers filling): the 5 % growth target is meant for runs of an hour. With ``--chaos`` one
part after another is killed with SIGKILL (and the hub once hung with SIGSTOP) and brought
back by the demo's supervisor; for each, the time until it serves again is measured, and per
transport the time from the kill until each viewer plays a new frame again without a reload
(``viewers_back``). At the end every pushed event must be stored exactly once, no ERROR line
may appear in the logs outside the chaos, and each process's growth over the second half
(since its last restart and a warm-up; median of the window's first fifth against its last
fifth) is reported. A PNG chart of the samples is written next to the JSON
(bench/results/soak.png, or soak-chaos.png with ``--chaos``); an invalid run's goes to the
run's own folder (kept, with its logs), so it never replaces the published run's chart.
PostgreSQL's autovacuum and parallel workers are sampled apart (``pg_workers``): they come
and go, up to its configured maximum, and would otherwise read as growth of its processes
and memory. Open files and threads are held to the target only when they grew by more than
one (``soak_figures.COUNT_STEP``): one is a pool's worker that came or went.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

from bench.report import RESULTS, finish
from bench.soak_figures import added, chart, error_lines, growth, over_target
from bench.soak_load import CountedLoad, ReadingsMeter
from bench.soak_pg import by_role, pg_roles, split_transient
from bench.soak_viewers import recovery, summary, viewer_problems
from bench.viewers import read_state
from core.files import write_private
from core.net import port_open
from devkit.demo.relay import RELAYS, active_relay_pid
from devkit.demo.runner import DemoCity
from devkit.embedded.process import spawn
from devkit.embedded.process import stop as stop_proc

KINDS = ["hub", "relay", "ingest", "edge", "mosquitto", "postgres", "hub-hang"]


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _db_ok(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=1) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.OperationalError:
        return False


class Soak:
    def __init__(self, city: DemoCity) -> None:
        self.city = city
        self.hub = city.hub_url
        self.relay = city.urls["relay"]
        self.ingest_metrics = city.urls["ingest metrics"]
        self.samples: list[dict[str, Any]] = []
        self.log_marks: dict[str, int] = {}

    def pids(self) -> dict[str, int]:
        """Only processes this soak started (the demo's children)."""
        out = {name: self.city.stack.pid(name) for name in ("hub", "ingest", "edge", "cameras",
                                                            "simulate", *RELAYS)}
        active = active_relay_pid(self.city.state_dir)  # "relay": the one serving now
        if active is not None and active == out["relay-standby"]:
            out["relay"], out["relay-standby"] = out["relay-standby"], out["relay"]
        for name, svc in (("postgres", self.city.pg), ("mosquitto", self.city.broker)):
            if svc.proc is not None:
                out[name] = svc.proc.pid
        return out

    def serving(self, kind: str) -> Callable[[], bool]:
        return {
            "hub": lambda: _http_ok(f"{self.hub}/readyz"),
            "hub-hang": lambda: _http_ok(f"{self.hub}/readyz"),
            "relay": lambda: _http_ok(f"{self.relay}/healthz"),
            "ingest": lambda: _http_ok(self.ingest_metrics),
            "edge": lambda: _http_ok(f"{self.city.stack.edge_url}/health"),
            "mosquitto": lambda: port_open(self.city.broker.port),
            "postgres": lambda: _db_ok(self.city.pg.dsn),
        }[kind]

    def sample(self) -> None:
        row: dict[str, Any] = {"t": time.time(), "procs": {}}
        roles = pg_roles(self.city.pg.dsn)
        row["db_connections"] = None if roles is None else sum(
            1 for r in roles.values() if r.startswith("client:"))
        for name, pid in self.pids().items():
            try:
                p = psutil.Process(pid)
                family = [p, *p.children(recursive=True)]
                if name == "postgres":
                    family, workers = split_transient(family)
                    row["pg_workers"] = workers
                    row["pg"] = by_role(family, roles or {}, pid)
                mem = [q.memory_full_info() for q in family]
                row["procs"][name] = {
                    "pid": pid,
                    "uss_mb": sum(m.uss for m in mem) / 2**20,
                    "pss_mb": sum(m.pss for m in mem) / 2**20,
                    "rss_mb": sum(m.rss for m in mem) / 2**20,
                    "fds": sum(q.num_fds() for q in family),
                    "threads": sum(q.num_threads() for q in family),
                }
            except psutil.Error:
                continue
        self.samples.append(row)

    def kill(self, kind: str) -> dict[str, float]:
        pid = self.pids()["hub" if kind == "hub-hang" else kind]
        t0 = time.monotonic()
        os.kill(pid, signal.SIGSTOP if kind == "hub-hang" else signal.SIGKILL)
        time.sleep(0.2)  # let the loss be seen before polling
        ok = self.serving(kind)
        while not ok():
            if time.monotonic() - t0 > 120:
                return {"back_s": -1.0}
            time.sleep(0.1)
        return {"back_s": round(time.monotonic() - t0, 2)}

    def query_loop(self, stop: threading.Event, counts: dict[str, int]) -> None:
        """API queries until the end; a failed one is counted, never ends the loop."""
        with httpx.Client(timeout=5) as http:
            while not stop.is_set():
                try:
                    ok = _http_ok(f"{self.hub}/readyz") and http.get(
                        f"{self.hub}/api/v1/cameras").status_code in (200, 401)
                except httpx.HTTPError:
                    ok = False
                counts["ok" if ok else "failed"] += 1
                stop.wait(0.5)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--minutes", type=float, default=60)
    p.add_argument("--chaos", action="store_true", help="kill each kind of part in turn")
    p.add_argument("--chaos-every", type=float, default=300, help="seconds between kills")
    p.add_argument("--sample-every", type=float, default=10)
    p.add_argument("--samples", help="also write every sample to this JSON file (for a look "
                   "at what moved: PostgreSQL's processes and files per role are in 'pg')")
    p.add_argument("--cameras", type=int, default=32, help="extra looped 720p25 cameras")
    p.add_argument("--webrtc-viewers", type=int, default=64)
    p.add_argument("--fmp4-viewers", type=int, default=4)
    p.add_argument("--events-per-s", type=float, default=2000, help="counted events via the edge")
    p.add_argument("--readings-per-s", type=float, default=20000, help="SenML readings via MQTT")
    p.add_argument("--viewer-user", default="police-operator",
                   help="the demo login the viewers play as (the load cameras are police's)")
    p.add_argument("--viewers-timeout", type=float, default=90,
                   help="seconds for every viewer to play before the soak starts")
    p.add_argument("--chart", default=None,
                   help="PNG path (default: bench/results/soak.png, soak-chaos.png with --chaos; "
                   "an invalid run's in the run's folder)")
    return p.parse_args(argv)


def chart_path(args: argparse.Namespace, run_dir: Path, valid: bool) -> Path:
    """Where the chart goes: ``--chart``, else the published one for a valid run and the run's
    own folder for an invalid one (whose JSON is not kept either)."""
    if args.chart is not None:
        return Path(args.chart)
    name = "soak-chaos.png" if args.chaos else "soak.png"
    return (RESULTS if valid else run_dir) / name


def start_viewers(city: DemoCity, a: argparse.Namespace) -> tuple[subprocess.Popen[bytes], Path]:
    """bench.viewers in a process of its own, as a police operator (the load cameras' and
    the demo's police cameras' department)."""
    name, password = next((n, pw) for n, pw, _d, _r in city.logins if n == a.viewer_user)
    # in a directory of its own: tightening the state directory would lock PostgreSQL out
    secret = write_private(city.state_dir / "bench" / "viewer-password", password)
    cams = [c.id for c in city.config.cameras if c.id.startswith("load-")] or [
        c.id for c in city.config.cameras if c.department == "police"
        and c.url.get_secret_value().startswith("rtsp://")]
    state = city.state_dir / "viewers.json"
    proc = spawn([sys.executable, "-m", "bench.viewers", "--hub", city.hub_url, "--user", name,
                  "--password-file", str(secret), "--cameras", ",".join(cams),
                  "--webrtc", str(a.webrtc_viewers), "--fmp4", str(a.fmp4_viewers),
                  "--state", str(state)], city.stack.log_of("bench-viewers"))
    return proc, state


def wait_viewers_live(state: Path, expected: int, timeout: float) -> bool:
    """Until every viewer played a frame in the last 2 s; False if time ran out first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        vs = read_state(state)
        if len(vs) == expected and all(time.time() - v["last_frame"] < 2 for v in vs):
            return True
        time.sleep(1)
    return False


#: The project's packages, compiled as a wheel's install compiles them: a part the chaos
#: restarts is timed as on a deployed host, not compiling its modules again (an editable
#: install under PYTHONDONTWRITEBYTECODE keeps no bytecode of a changed module).
PACKAGES = ("core", "adapters", "gb28181", "streams", "edge", "hub", "devkit", "bench")


def compile_bytecode() -> None:
    root = Path(__file__).resolve().parents[1]
    for package in PACKAGES:
        compileall.compile_dir(root / package, quiet=2)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    compile_bytecode()
    n_viewers = args.webrtc_viewers + args.fmp4_viewers
    # Room for every viewer, and for sessions a reconnect replaces before they are reaped.
    city = DemoCity(Path(tempfile.mkdtemp(prefix="bench-soak-")), load_cameras=args.cameras,
                    streams={"webrtc_max_viewers": max(64, 2 * args.webrtc_viewers),
                             "fmp4_max_viewers": max(64, 2 * args.fmp4_viewers),
                             "ice_hosts": ["127.0.0.1"]})
    city.start()
    problems: list[str] = []
    stop = threading.Event()
    counts = {"ok": 0, "failed": 0}
    viewers_proc: subprocess.Popen[bytes] | None = None
    try:
        soak = Soak(city)
        if args.readings_per_s > 0:
            city.stack.cityhub("readings-load", [
                "simulate", "sensor", "--rate", str(args.readings_per_s), "--pack", "200",
                "--broker", city.broker.url, "--client-id", "cityhub-soak-readings"])
        readings = ReadingsMeter(city.urls["ingest metrics"])
        site = next(s for s in city.config.sites if s.id == "xinhua-5th")
        push = city.stack.edge_push
        load = CountedLoad(city.stack.edge_url or "", site.department, site.id, args.events_per_s,
                           httpx.DigestAuth(*push) if push else None)
        minutes = args.minutes
        if n_viewers:
            viewers_proc, vstate = start_viewers(city, args)
            if not wait_viewers_live(vstate, n_viewers, args.viewers_timeout):
                minutes = 0  # no soak without viewers: say why at once
        load.thread.start()
        supervise = threading.Thread(target=city.stack.supervisor.run, args=(stop.is_set,),
                                     daemon=True)
        supervise.start()
        queries = threading.Thread(target=soak.query_loop, args=(stop, counts), daemon=True)
        queries.start()
        chaos: dict[str, dict[str, Any]] = {}  # per kind: its figures (JSON)
        killed_at: dict[str, float] = {}
        kinds = list(KINDS) if args.chaos else []
        t_start = time.monotonic()
        t_end = t_start + minutes * 60
        next_kill = t_start + args.chaos_every / 2
        next_sample = t_start
        while time.monotonic() < t_end or (kinds and minutes):  # a chaos run kills every kind
            if time.monotonic() >= next_sample:
                soak.sample()
                readings.poll()
                next_sample += args.sample_every
            if kinds and time.monotonic() >= next_kill:
                kind = kinds.pop(0)
                killed_at[kind] = time.time()
                chaos[kind] = soak.kill(kind)
                next_kill = time.monotonic() + args.chaos_every
            time.sleep(0.2)
        readings.poll()
        events_rate = len(load.ids) / (time.monotonic() - t_start)
        load.stop.set()
        load.thread.join(60)
        viewers: list[dict[str, Any]] = []
        if viewers_proc is not None:
            if minutes:  # the last kill's viewers may still be retrying
                wait_viewers_live(vstate, n_viewers, 45)
            t_view_end = time.time()
            stop_proc(viewers_proc)
            viewers = read_state(vstate)
            problems += viewer_problems(viewers, n_viewers, 0.7 * 25 if args.cameras else 10,
                                        t_view_end)
            times = [*killed_at.values(), t_view_end]
            for (kind, t_kill), t_next in zip(killed_at.items(), times[1:], strict=True):
                chaos[kind]["viewers_back"] = recovery(viewers, t_kill, t_next)
        stored, distinct = _wait_stored(city.pg.dsn, len(load.ids), timeout=120)
        stop.set()
        lost, dup = len(load.ids) - distinct, stored - distinct
        if lost:
            problems.append(f"{lost} events lost")
        if dup:
            problems.append(f"{dup} events stored twice")
        if events_rate < 0.9 * args.events_per_s:
            problems.append(f"events pushed at {events_rate:.0f}/s, asked {args.events_per_s:.0f}")
        # Readings published while the broker or the worker is down are not redelivered.
        least = 0.75 if args.chaos else 0.9
        if args.readings_per_s and readings.rate() < least * args.readings_per_s:
            problems.append(f"readings stored at {readings.rate():.0f}/s, "
                            f"asked {args.readings_per_s:.0f}")
        if args.chaos and kinds:
            problems.append(f"run too short to kill every kind: {kinds} left")
        for kind, figure in chaos.items():
            if figure["back_s"] < 0:
                problems.append(f"{kind} did not come back")
        errors = [] if args.chaos else error_lines(city.state_dir / "logs")
        if errors:
            problems.append(f"{len(errors)} ERROR log lines, first: {errors[0]}")
        grown, gained = growth(soak.samples), added(soak.samples)
        if not args.chaos:
            problems += over_target(grown, gained)
        if args.samples:
            Path(args.samples).write_text(json.dumps(soak.samples))
        drawn = chart_path(args, city.state_dir, valid=not problems)
        if len(soak.samples) >= 2:
            try:
                chart(soak.samples, drawn)
            except (OSError, subprocess.SubprocessError) as exc:  # the figures still count
                problems.append(f"chart not drawn: {exc}")
        result = {
            "minutes": args.minutes, "chaos": args.chaos,
            "scale": {"cameras": args.cameras, "camera": "1280x720@25, 2 Mb/s, looped clip",
                      "webrtc_viewers": args.webrtc_viewers, "fmp4_viewers": args.fmp4_viewers,
                      "events_per_s": args.events_per_s, "readings_per_s": args.readings_per_s},
            "events_pushed": len(load.ids), "events_per_s": round(events_rate, 1),
            "events_stored": stored, "lost": lost, "duplicated": dup,
            "push_retries": load.retries,
            "readings_stored_per_s": round(readings.rate(), 1), "api_queries": counts,
            "viewers": summary(viewers), "back_s": chaos, "killed_at": killed_at,
            "growth_second_half_pct": grown,
            "added_second_half": gained,
            "samples": len(soak.samples), "error_lines": len(error_lines(city.state_dir / "logs")),
            "restarts": {n: len(p.restarts) for n, p in city.stack.supervisor.parts.items()},
            "chart": os.path.relpath(drawn),
        }
    finally:
        stop.set()
        if viewers_proc is not None:
            stop_proc(viewers_proc)
        city.close()
    return finish("soak-chaos" if args.chaos else "soak", result, problems)




def _wait_stored(dsn: str, expected: int, timeout: float) -> tuple[int, int]:
    end = time.monotonic() + timeout
    stored = distinct = 0
    while time.monotonic() < end:
        try:
            with psycopg.connect(dsn) as conn:
                row = conn.execute("SELECT count(*), count(DISTINCT id) FROM events"
                                   " WHERE kind = 'soak'").fetchone()
            stored, distinct = (row[0], row[1]) if row else (0, 0)
        except psycopg.OperationalError:
            pass
        if distinct >= expected:
            break
        time.sleep(1)
    return stored, distinct


if __name__ == "__main__":
    sys.exit(main())
