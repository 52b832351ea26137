"""GB/T 28181 at city scale: ``python -m bench.gb28181`` prints one JSON object.

Measured in one run on this machine, against a real ``cityhub sip`` process and a real
store (embedded PostgreSQL), each figure beside its baseline:

- **Live PS streams.** ``--streams`` simulated devices send PS over RTP (UDP) from the
  looped 720p25 clip (1 s GOP, 2 Mb/s) that the synthetic RTSP camera of the same name
  serves; one relay carries them as ``gb28181://`` cameras, another relay carries the
  same clips from the synthetic RTSP cameras. One RTSP reader per stream on each; both
  relays are measured over the same windows (psutil, the relay process only) and the
  median window ratio is ``ps_vs_rtsp_ratio``. Every stream of both relays must deliver
  >= 20 fps before and after, or the run is invalid.
- **INVITE to first frame.** An RTSP reader on an idle on-demand ``gb28181://`` camera:
  relay -> SIP service (control API) -> INVITE -> device -> PS -> first decoded frame;
  against an idle on-demand RTSP camera through the other relay (``--trials`` each, at
  random points of the 1 s GOP). The simulated device starts sending wherever its encoder
  is in the GOP (a real camera does); the synthetic RTSP camera starts on a keyframe.
  ``all_streams_live_s``: the ``--streams`` readers arriving at once on idle cameras, until
  every stream is live (the relay opens on-demand cameras one after the other).
- **Registered devices kept alive.** ``--devices`` devices register with digest (each
  then answers DeviceInfo / Catalog / DeviceStatus, its channel becoming a camera) and
  keep alive every ``--keepalive`` s (production: 60 s; the bench uses a shorter interval
  for a busier service and says which). CPU of the ``cityhub sip`` process over a
  window; baseline: the simulated devices' own process doing the other side of every
  exchange without a store. Every device must register and every keepalive be answered.
- **Restart.** ``kill -9`` of ``cityhub sip`` and a new one on the same port: the time
  until the store shows every device online *and heard by the new process* (a keepalive
  accepted after the kill: bounded by startup plus one keepalive interval), with the
  REGISTERs the devices had to send again (0 expected: state is in the store); baseline:
  the devices' first registration from nothing.

    python -m bench.gb28181 [--devices 2000] [--streams 16] [--seconds 8] [--keepalive 10]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import yaml

from bench.gb28181_devices import DOMAIN, PLATFORM, device_id, password
from bench.relay import (
    SECRET as PLAY_SECRET,
)
from bench.relay import (
    InvalidRun,
    cpu_of,
    first_frame_s,
    readers,
    require_fps,
    start_relay,
    token,
    wait_log,
)
from bench.report import finish
from core.net import free_port
from devkit.embedded import EmbeddedPostgres
from devkit.embedded.process import spawn, stop
from devkit.gb28181_device import channel_ids
from hub.config import load_config
from hub.gb28181.runner import control_token, credential_box
from hub.gb28181.store import add_device
from hub.store import migrate
from streams.auth.service import derive_service_token

SECRET = "bench-gb28181-secret-0123456789abcdef"
DEPT, SITE = "bench", "bench-s1"
SERVICE = {"Authorization": f"Bearer {derive_service_token(PLAY_SECRET)}"}
READY = "listening on"  #: the SIP service's log line once UDP and TCP are bound


def _q(samples: list[float]) -> dict[str, Any]:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": round(q[49], 3), "p95": round(q[94], 3), "n": len(samples),
            "samples": [round(s, 3) for s in samples]}


def _poll(check: Callable[[], bool], timeout: float, what: str, step: float = 0.2) -> float:
    """Seconds until ``check()`` holds; InvalidRun unless seen to hold within ``timeout``."""
    t0 = time.monotonic()
    while True:
        done = check()
        # A sleep that overran on a loaded machine may find it done, but late: still late.
        if time.monotonic() - t0 > timeout:
            raise InvalidRun(f"{what}: not within {timeout:g} s")
        if done:
            return time.monotonic() - t0
        time.sleep(step)


class Bench:
    def __init__(self, a: argparse.Namespace, tmp: Path, dsn: str, pg_pid: int) -> None:
        self.a, self.tmp, self.dsn, self.pg_pid = a, tmp, dsn, pg_pid
        self.procs: list[subprocess.Popen[bytes]] = []
        self.sip_port, control_port = free_port(), free_port()
        self.city = tmp / "city.yaml"
        self.city.write_text(yaml.safe_dump({
            "state_dir": str(tmp / "state"),
            "database": {"url": dsn},
            "hub": {"secret_key": SECRET},
            "gb28181": {"enabled": True, "platform_id": PLATFORM, "domain": DOMAIN,
                        "host": "127.0.0.1", "port": self.sip_port,
                        "control_port": control_port, "keepalive_s": int(a.keepalive)}}))
        config = load_config(self.city)
        self.control = (f"http://127.0.0.1:{control_port}&token={control_token(config)}")
        self.box = credential_box(config)
        self.fleet = [device_id(i) for i in range(a.devices)]
        #: serials after the fleet's: their channel IDs (serial mod 10^4) differ from its
        self.streamers = [device_id(a.devices + i) for i in range(a.streams + a.trials)]

    def poll(self, check: Callable[[], bool], timeout: float, what: str, step: float = 0.2
             ) -> float:
        """``_poll`` within ``timeout``, or ``--timeout`` when that is shorter."""
        return _poll(check, min(timeout, self.a.timeout or timeout), what, step)

    # -- processes ----------------------------------------------------------------

    def spawn(self, argv: list[str], log: str) -> subprocess.Popen[bytes]:
        proc = spawn(argv, self.tmp / log)
        self.procs.append(proc)
        return proc

    def start_sip(self, log: str) -> subprocess.Popen[bytes]:
        proc = self.spawn([sys.executable, "-m", "hub", "sip", "--config", str(self.city)], log)
        wait_log(proc, self.tmp / log, READY, 60)
        self.sip = proc
        return proc

    def start_devices(self, first: int, count: int, name: str, clips: list[str] | None = None
                      ) -> tuple[subprocess.Popen[bytes], Path]:
        status = self.tmp / f"{name}.json"
        argv = [sys.executable, "-m", "bench.gb28181_devices", "--server",
                f"127.0.0.1:{self.sip_port}", "--first", str(first), "--count", str(count),
                "--keepalive", str(self.a.keepalive), "--status", str(status)]
        if clips:
            argv += ["--clips", ",".join(clips)]
        return self.spawn(argv, f"{name}.log"), status

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            stop(proc)
        self.procs.clear()

    # -- store --------------------------------------------------------------------

    def seed(self) -> None:
        migrate.upgrade(self.dsn)
        with psycopg.connect(self.dsn) as conn:
            conn.execute("INSERT INTO departments (id, name) VALUES (%s, 'Bench')", (DEPT,))
            conn.execute("INSERT INTO sites (id, name, department_id) VALUES (%s, 'S1', %s)",
                         (SITE, DEPT))
            for dev in [*self.fleet, *self.streamers]:
                add_device(conn, self.box, dev, DEPT, SITE, password(dev),
                           keepalive_s=int(self.a.keepalive))

    def sql(self, query: str, *params: Any) -> Any:
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute(query, params).fetchone()
        return row[0] if row else None

    # -- phases -------------------------------------------------------------------

    def streams(self) -> dict[str, Any]:
        a, n = self.a, self.a.streams
        names = [f"c{i:02d}" for i in range(n)]  # bench.relay's cameras: their clips are cached
        colds = [f"cold{i}" for i in range(a.trials)]
        cam_port = free_port()
        cams = self.spawn([sys.executable, "-m", "devkit.synthetic", "--port", str(cam_port),
                           "--cameras", ",".join([*names, *colds]), "--width", "1280",
                           "--height", "720", "--fps", "25", "--gop", "25", "--bitrate", "2000",
                           "--mode", "loop"], "cams.log")
        wait_log(cams, self.tmp / "cams.log", "ready", 300)
        upstream = f"rtsp://127.0.0.1:{cam_port}"
        sims, status = self.start_devices(a.devices, n + a.trials, "streamers", names)
        self.poll(lambda: _status(status).get("registration_s") is not None, 120,
              "stream devices registering")
        if (got := _status(status)["registered"]) != n + a.trials:
            raise InvalidRun(f"stream devices: {got} of {n + a.trials} registered")
        chans = [channel_ids(d, 1)[0] for d in self.streamers]
        gb = {c: f"gb28181://{d}/{c}?transport=udp&control={self.control}"
              for d, c in zip(self.streamers, chans, strict=True)}
        ps_relay, ps_http, ps_rtsp = start_relay(_dir(self.tmp / "relay-ps"), gb, set())
        self.procs.append(ps_relay)
        rtsp_cams = {c: f"{upstream}/{c}" for c in [*names, *colds]}
        rtsp_relay, rtsp_http, rtsp_rtsp = start_relay(_dir(self.tmp / "relay-rtsp"),
                                                       rtsp_cams, set())
        self.procs.append(rtsp_relay)

        def urls(port: int, cams: list[str]) -> dict[str, str]:
            return {c: f"rtsp://127.0.0.1:{port}/{c}?token={token(c)}" for c in cams}

        ps_urls, rtsp_urls = urls(ps_rtsp, chans[:n]), urls(rtsp_rtsp, names)
        self.procs.append(readers(list(ps_urls.values()), self.tmp / "rd-ps.log"))
        self.procs.append(readers(list(rtsp_urls.values()), self.tmp / "rd-rtsp.log"))
        # Both relays open their cameras as the readers arrive: until every one is live.
        t0, live = time.monotonic(), {}
        relays = {"ps": (ps_http, chans[:n]), "rtsp": (rtsp_http, names)}

        def both() -> bool:
            for k, (http, cams) in relays.items():
                if k not in live and _live(http, cams):
                    live[k] = round(time.monotonic() - t0, 2)
            return len(live) == len(relays)

        self.poll(both, 120, "every stream live on both relays")
        fps = {"ps": require_fps("PS relay", ps_urls, 20),
               "rtsp": require_fps("RTSP relay", rtsp_urls, 20)}
        windows = [cpu_of([ps_relay.pid, rtsp_relay.pid], a.seconds) for _ in range(3)]
        fps_after = {"ps": require_fps("PS relay (after)", ps_urls, 20),
                     "rtsp": require_fps("RTSP relay (after)", rtsp_urls, 20)}
        for proc in self.procs[-2:]:
            stop(proc)  # the readers; their streams close when idle
        invite, cold = [], []
        for chan, name in zip(chans[n:], colds, strict=True):
            time.sleep(random.uniform(0, 1))  # a random point in the devices' 1 s GOP
            invite.append(first_frame_s(urls(ps_rtsp, [chan])[chan]))
            cold.append(first_frame_s(urls(rtsp_rtsp, [name])[name]))
        sent = _status(status)["sent_frames"]
        self.stop_all()
        ps = statistics.median(w[0] for w in windows) / n
        rtsp = statistics.median(w[1] for w in windows) / n
        ratios = [w[0] / w[1] for w in windows if w[1] > 0]
        return {
            "streams": n,
            "resolution": "1280x720@25, 2 Mb/s, 1 s GOP (the same looped clips both ways)",
            "ps_transport": "RTP over UDP",
            "ps_cpu_per_stream": round(ps, 4),
            "rtsp_cpu_per_stream": round(rtsp, 4),
            "ps_vs_rtsp_ratio": round(statistics.median(ratios), 3),
            "ratio_windows": [round(r, 3) for r in ratios],
            "cpu_window_s": a.seconds,
            "reader_fps_min": {k: round(min(fps[k], fps_after[k]), 1) for k in fps},
            "device_frames_sent": sent,
            "all_streams_live_s": live,
            "invite_to_first_frame_s": _q(invite),
            "baseline_rtsp_cold_first_frame_s": _q(cold),
        }

    def fleet_phase(self) -> dict[str, Any]:
        a, n = self.a, self.a.devices
        sip = self.sip
        sims, status = self.start_devices(0, n, "fleet")
        self.poll(lambda: _status(status).get("registration_s") is not None, 240,
              f"{n} devices registering")
        reg = _status(status)
        if reg["registered"] != n:
            raise InvalidRun(f"{n - reg['registered']} of {n} devices not registered: "
                             f"{reg['register_failed'][:5]}")
        catalogs = self.poll(lambda: self.sql("SELECT count(*) FROM gb_devices WHERE id = ANY(%s)"
                                          " AND catalog_complete", self.fleet) == n, 120,
                         "every device's catalog")
        time.sleep(a.keepalive)  # every device in its keepalive rhythm (random phase)
        before = _status(status)
        pg = _tree(self.pg_pid)
        t0 = time.monotonic()
        cores = _cores([psutil.Process(sip.pid), psutil.Process(sims.pid)], pg, a.window)
        span = time.monotonic() - t0
        after = _status(status)
        online = self.sql("SELECT count(*) FROM gb_devices WHERE id = ANY(%s) AND online"
                          " AND last_seen > now() - make_interval(secs => %s)",
                          self.fleet, 2 * a.keepalive)
        ok = after["keepalives_ok"] - before["keepalives_ok"]
        failed = after["keepalives_failed"] - before["keepalives_failed"]
        if online != n:
            raise InvalidRun(f"kept alive: {online} of {n} devices online and recently seen")
        if failed or after["re_registers"]:
            raise InvalidRun(f"keepalive window: {failed} keepalives unanswered, "
                             f"{after['re_registers']} devices had to register again")
        rate = ok / span
        restart = self.restart(sip, status, reg["registration_s"])
        return {
            "devices": n,
            "keepalive_s": a.keepalive,
            "production_keepalive_s": 60,
            "registration_s": reg["registration_s"],
            "registrations_per_s": round(n / reg["registration_s"], 1),
            "catalogs_complete_after_s": round(reg["registration_s"] + catalogs, 2),
            "kept_alive": online,
            "keepalive_window_s": round(span, 1),
            "keepalives_per_s": round(rate, 1),
            "keepalives_unanswered": failed,
            "sip_cpu_cores": round(cores[0], 4),
            "sip_cpu_per_1k_keepalives_per_s": round(cores[0] / rate * 1000, 3) if rate else None,
            "baseline_device_sims_cpu_cores": round(cores[1], 4),
            "store_cpu_cores": round(cores[2], 4),
            "restart": restart,
        }

    def restart(self, sip: subprocess.Popen[bytes], status: Path, registration_s: float
                ) -> dict[str, Any]:
        n = self.a.devices
        killed_at = self.sql("SELECT clock_timestamp()")
        re_before = _status(status)["re_registers"]
        sip.send_signal(signal.SIGKILL)
        sip.wait()
        self.procs.remove(sip)
        t0 = time.monotonic()
        self.start_sip("sip-restarted.log")
        up = time.monotonic() - t0
        back = up + self.poll(lambda: self.sql(
            "SELECT count(*) FROM gb_devices WHERE id = ANY(%s) AND online AND last_seen > %s",
            self.fleet, killed_at) == n, 3 * self.a.keepalive + 30,
            "every device back online after the restart", 0.1)
        offline = self.sql("SELECT count(*) FROM events WHERE kind = 'gb_device_offline'"
                           " AND occurred_at > %s", killed_at)
        return {
            "all_online_s": round(back, 2),
            "service_up_s": round(up, 2),
            "re_registers": _status(status)["re_registers"] - re_before,
            "offline_events": offline,
            "baseline_first_registration_s": registration_s,
        }


def _live(http: int, cameras: list[str]) -> bool:
    """Every one of ``cameras`` live on the relay at ``http`` (its health, service token)."""
    r = httpx.get(f"http://127.0.0.1:{http}/health", headers=SERVICE, timeout=10)
    states = {h["camera_id"]: h["state"] for h in r.json()["cameras"]}
    return all(states.get(c) == "live" for c in cameras)


def _dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _status(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _busy(procs: list[psutil.Process]) -> dict[int, float]:
    out = {}
    for p in procs:
        try:
            out[p.pid] = sum(p.cpu_times()[:2])
        except psutil.Error:  # a store backend that ended
            continue
    return out


def _cores(single: list[psutil.Process], group: list[psutil.Process], seconds: float
           ) -> list[float]:
    """Cores used over ``seconds`` by each of ``single``, then by ``group`` together."""
    t0, s0, g0 = time.monotonic(), _busy(single), _busy(group)
    time.sleep(seconds)
    span, s1, g1 = time.monotonic() - t0, _busy(single), _busy(group)
    out = [(s1[p.pid] - s0[p.pid]) / span for p in single]
    return [*out, sum(g1[k] - g0[k] for k in g1 if k in g0) / span]


def measure(a: argparse.Namespace, tmp: Path, dsn: str, pg_pid: int) -> dict[str, Any]:
    b = Bench(a, tmp, dsn, pg_pid)
    try:
        b.seed()
        b.start_sip("sip.log")
        streams = b.streams()
        b.start_sip("sip-fleet.log")  # stream phase ended: a fresh service for the fleet
        fleet = b.fleet_phase()
    finally:
        b.stop_all()
    return {**streams, "registered_devices": fleet,
            "targets": {"devices": 2000, "ps_vs_rtsp_ratio": 1.3,
                        "invite_to_first_frame_s_p95": 1.0},
            "cpu_unit": "cores (1.0 = one core), per process",
            "machine_cores": psutil.cpu_count()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--devices", type=int, default=2000, help="simulated devices kept alive")
    p.add_argument("--streams", type=int, default=16, help="live 720p PS streams")
    p.add_argument("--seconds", type=float, default=8.0, help="seconds per relay CPU window")
    p.add_argument("--keepalive", type=float, default=10.0, help="device keepalive interval")
    p.add_argument("--window", type=float, default=30.0, help="SIP service CPU window (s)")
    p.add_argument("--trials", type=int, default=10, help="INVITE-to-first-frame trials")
    p.add_argument("--timeout", type=float, help="cap on every wait for devices and streams")
    a = p.parse_args(argv)
    if not 1 <= a.devices <= 9000 or a.streams < 1 or a.trials < 2:
        p.error("--devices 1..9000 (channel numbering), --streams >= 1, --trials >= 2")
    tmp = Path(tempfile.mkdtemp(prefix="bench-gb28181-"))
    args = {"devices": a.devices, "streams": a.streams}
    try:
        with EmbeddedPostgres(tmp / "pg") as pg:
            assert pg.proc is not None
            dsn = pg.create_database(f"bench_{uuid.uuid4().hex[:8]}")
            result = measure(a, tmp, dsn, pg.proc.pid)
    except InvalidRun as exc:
        shutil.rmtree(tmp / "pg", ignore_errors=True)  # the logs stay for a look
        print(f"bench.gb28181: logs in {tmp}", file=sys.stderr)
        return finish("gb28181", args, [str(exc)])
    shutil.rmtree(tmp, ignore_errors=True)
    return finish("gb28181", result)


if __name__ == "__main__":
    sys.exit(main())
