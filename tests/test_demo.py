"""`cityhub demo` starts a city, serves its cameras, and leaves nothing behind on SIGINT."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import psycopg

from devkit.fixtures.wait import wait_for


def test_demo_serves_cameras_and_stops_cleanly(tmp_path: Path) -> None:
    state = tmp_path / "demo"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "demo", "--state-dir", str(state)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "cityhub demo: running" in line:
                break
        output = "".join(lines)
        assert "cityhub demo: running" in output, output
        urls = dict(re.findall(r"^\s+(\S+(?: \S+)?)\s+(\S+://\S+)$", output, re.M))
        camera_urls = [u for k, u in urls.items() if k.startswith("camera ")]
        assert len(camera_urls) >= 5
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries",
             "stream=codec_name", "-of", "csv=p=0", camera_urls[0]],
            capture_output=True, text=True, timeout=30,
        )
        assert probe.stdout.strip() == "h264", probe.stderr
        with psycopg.connect(urls["database"]) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        # Two cameras are recorded continuously into the state directory (10 s segments).
        journal = state / "recordings" / "sc-xinhua-1" / "index.jsonl"
        wait_for(lambda: journal.exists() and '"kind":"segment"' in journal.read_text(), 40,
                 "a first recorded segment")
        _joins_over_gb28181(urls["database"], urls["hub API"].removesuffix("/docs"), output)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "the demo runs its parts as child processes"
        # PostgreSQL trusts, Mosquitto is anonymous, cameras ask no password: loopback only.
        listening = _listening([psutil.Process(proc.pid), *children])
        names = {name for name, _ in listening}
        assert {"postgres", "mosquitto"} <= names, listening
        assert len(listening) >= 6, listening  # hub, relay (RTSP, HTTP), cameras, edge, ingest
        assert all(ip in ("127.0.0.1", "::1") for _, ip in listening), listening
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest
    assert "cityhub demo: stopped" in rest
    psutil.wait_procs(children, timeout=10)  # stopped ones are reaped; the rest are listed
    leftovers = [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not leftovers, f"left running: {[p.cmdline() for p in leftovers]}"
    assert not any(str(state) in " ".join(p.cmdline()) for p in psutil.process_iter()
                   if p.pid != os.getpid() and _alive(p))


def _alive(p: psutil.Process) -> bool:
    try:
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _listening(procs: list[psutil.Process]) -> list[tuple[str, str]]:
    """(process name, address) of every listening TCP socket of ``procs``."""
    found = []
    for p in procs:
        try:
            conns, name = p.net_connections(kind="tcp"), p.name()
        except psutil.Error:
            continue
        found += [(name, c.laddr.ip) for c in conns if c.status == psutil.CONN_LISTEN]
    return found


def _joins_over_gb28181(dsn: str, hub: str, listing: str) -> None:
    """City management's NVR arrives over GB/T 28181: registered, its catalog became the
    department's cameras, one plays through the relay (PS into RTSP); and the city is
    registered to the simulated province with its catalog delivered."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        cams = wait_for(lambda: [r[0] for r in conn.execute(
            "SELECT ch.camera_id FROM gb_channels ch JOIN cameras c ON c.id = ch.camera_id"
            " WHERE c.department_id = 'citymgmt' AND ch.retired_at IS NULL ORDER BY ch.id"
        ).fetchall()], 60, "the NVR's catalog")
        assert len(cams) == 2
        wait_for(lambda: conn.execute("SELECT 1 FROM gb_uppers WHERE registered"
                                    " AND catalog_sent = catalog_total AND catalog_total = 1"
                                    ).fetchone(), 60, "the cascade to the province")
    login = re.search(r"login citymgmt-operator\s+(\S+)", listing)
    assert login, listing
    token = httpx.post(f"{hub}/api/v1/auth/token", data={
        "username": "citymgmt-operator", "password": login.group(1)}).json()["access_token"]
    play = httpx.post(f"{hub}/api/v1/cameras/{cams[0]}/play", json={"protocols": ["rtsp"]},
                      headers={"Authorization": f"Bearer {token}"})
    assert play.status_code == 200, play.text

    def probe() -> str:  # the relay pulls the store's cameras every 10 s
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries",
             "stream=codec_name", "-of", "csv=p=0",
             f"{play.json()['rtsp_url']}?token={play.json()['token']}"],
            capture_output=True, text=True, timeout=30)
        return out.stdout.strip()
    assert wait_for(probe, 60, "the GB/T 28181 channel over the relay's RTSP") == "h264"
