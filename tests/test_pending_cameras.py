"""Pending cameras (#18): an edge box inside a network namespace finds the simulated ONVIF
cameras there (and not one in another namespace) and its reports reach the hub's pending list
through the real broker and ingest; an admin probes addresses and accepts a pending camera with
its credentials (checked against the camera, sealed, never returned), which makes it a camera
of the store whose onvif:// source resolves to the camera's stream."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.discovery import DiscoveryReport
from core.net import free_port
from devkit.embedded.broker import EmbeddedBroker
from devkit.embedded.process import spawn, stop, tail
from devkit.fixtures.browser import network_namespace
from devkit.fixtures.edge import SITE, site_yaml
from devkit.fixtures.hubapi import HubApi, build_hub
from devkit.fixtures.ingest import IngestWorkers
from devkit.fixtures.onvif import PASSWORD, USER, OnvifCameras
from devkit.fixtures.wait import wait_for
from hub.api.routers.pending_cameras import PROBE_TIMEOUT_S
from hub.auth.credentials import read_for_relay
from hub.ingest.pipeline import adapt_message
from hub.store.pending_cameras import Discovered, record_one
from streams.sources.onvif import OnvifSource

PENDING = "/api/v1/pending-cameras"


def pending(hub: HubApi, xaddr: str, department: str = "police", site: str | None = "p-s1",
            name: str = "ptz1") -> str:
    """A pending camera as ingest records an edge box's report."""
    now = datetime.now(UTC)
    report = DiscoveryReport(device="box1", xaddrs=[xaddr], name=name, first_seen=now,
                             last_seen=now)
    with hub.owner() as conn:
        return record_one(conn, Discovered(department, site, report))


@pytest.fixture
def hub(hub_api: HubApi) -> HubApi:
    r = hub_api.client.post("/api/v1/sites", json={"id": "p-s1", "name": "Police site"},
                            headers=hub_api.headers("police"))
    assert r.status_code == 201, r.text
    return hub_api


# -- ingest: reports become pending cameras, once each --------------------------------------


def test_a_discovery_pack_is_validated_report_by_report() -> None:
    now = datetime.now(UTC).isoformat()
    good = {"device": "box1", "xaddrs": ["http://10.0.0.5/onvif/device_service"],
            "name": "ptz1", "first_seen": now, "last_seen": now}
    bad = {**good, "xaddrs": ["ftp://10.0.0.6/"]}
    out = adapt_message("city/police/p-s1/edge/discovery",
                        json.dumps({"discovery": [good, bad]}).encode(), datetime.now(UTC))
    assert [(d.department, d.site, d.report.xaddr) for d in out.discoveries] == [
        ("police", "p-s1", "http://10.0.0.5/onvif/device_service")]
    assert len(out.letters) == 1 and "xaddrs" in out.letters[0].reason
    junk = adapt_message("city/police/p-s1/edge/discovery", b"[1, 2]", datetime.now(UTC))
    assert not junk.discoveries and "discovery pack" in junk.letters[0].reason


def test_reports_update_one_row_and_never_regress(hub: HubApi) -> None:
    t0 = datetime.now(UTC) - timedelta(hours=1)
    xaddr = "http://10.0.0.5/onvif/device_service"

    def report(first: datetime, last: datetime, name: str) -> Discovered:
        return Discovered("police", "p-s1", DiscoveryReport(
            device="box1", xaddrs=[xaddr], name=name, first_seen=first, last_seen=last))

    with hub.owner() as conn:
        ids = {record_one(conn, report(t0, t0 + timedelta(minutes=5), "old")),
               record_one(conn, report(t0 + timedelta(minutes=30), t0 + timedelta(minutes=40),
                                       "new")),
               record_one(conn, report(t0 + timedelta(minutes=2), t0 + timedelta(minutes=3),
                                       "late backlog"))}
    assert len(ids) == 1
    (row,) = hub.client.get(PENDING, headers=hub.headers("police")).json()
    assert row["name"] == "new" and row["state"] == "pending"
    assert datetime.fromisoformat(row["first_seen"]) == t0
    assert datetime.fromisoformat(row["last_seen"]) == t0 + timedelta(minutes=40)
    assert hub.client.get(PENDING, headers=hub.headers("traffic")).json() == []


# -- accept, reject, probe -------------------------------------------------------------------


def test_accept_checks_the_credentials_and_registers_the_camera(
        hub: HubApi, onvif_camera: OnvifCameras) -> None:
    police = hub.headers("police")
    pid = pending(hub, onvif_camera.xaddrs["ptz1"])
    body = {"id": "dome-1", "name": "Dome 1", "system": "safecity", "username": USER,
            "password": "wrong-password", "profile": "sub"}
    r = hub.client.post(f"{PENDING}/{pid}/accept", json=body, headers=police)
    assert r.status_code == 422 and r.json()["code"] == "camera_credentials_refused", r.text
    assert "wrong-password" not in r.text
    assert hub.client.get("/api/v1/cameras", headers=police).json() == []
    assert hub.client.get(PENDING, headers=police).json()[0]["state"] == "pending"

    r = hub.client.post(f"{PENDING}/{pid}/accept", json={**body, "password": PASSWORD},
                        headers=police)
    assert r.status_code == 201, r.text
    assert PASSWORD not in r.text and "onvif://" not in r.text
    out = r.json()
    assert out["pending"]["state"] == "accepted" and out["pending"]["camera"] == "dome-1"
    assert out["camera"]["site"] == "p-s1" and out["camera"]["has_credentials"]
    cameras = hub.client.get("/api/v1/cameras", headers=police)
    assert [c["id"] for c in cameras.json()] == ["dome-1"]
    assert PASSWORD not in cameras.text and "onvif://" not in cameras.text
    assert PASSWORD not in hub.client.get(PENDING, headers=police).text

    with hub.owner() as conn:  # sealed as POST /cameras seals it; the relay's way in
        secret = read_for_relay(conn, hub.runtime.credentials, "dome-1")
    assert secret is not None
    port = onvif_camera.http_port
    assert secret["url"] == f"onvif://{USER}:{PASSWORD}@127.0.0.1:{port}/?profile=sub"
    uri = asyncio.run(OnvifSource(secret["url"]).stream_uri())  # what the relay will play
    assert uri == f"rtsp://127.0.0.1:{onvif_camera.rtsp_port}/ptz1/sub"

    again = hub.client.post(f"{PENDING}/{pid}/accept", json={**body, "id": "dome-2",
                                                             "password": PASSWORD}, headers=police)
    assert again.status_code == 409
    audit = hub.client.get("/api/v1/audit?action=pending_camera.accept", headers=police)
    assert audit.status_code == 200 and "dome-1" in audit.text and PASSWORD not in audit.text


def test_reject_and_hidden_ids(hub: HubApi) -> None:
    police, traffic = hub.headers("police"), hub.headers("traffic")
    pid = pending(hub, "http://10.0.0.9/onvif/device_service", name="not ours")
    r = hub.client.post(f"{PENDING}/{pid}/reject", json={"reason": "neighbour's camera"},
                        headers=traffic)
    missing = hub.client.post(f"{PENDING}/00000000-0000-4000-8000-000000000000/reject",
                              json={"reason": "neighbour's camera"}, headers=traffic)
    assert (r.status_code, r.json()) == (missing.status_code, missing.json()) == (
        404, {"detail": "no such pending camera", "code": "not_found"})
    r = hub.client.post(f"{PENDING}/{pid}/reject", json={"reason": "neighbour's camera"},
                        headers=police)
    assert r.status_code == 200 and r.json()["state"] == "rejected", r.text
    rejected = hub.client.get(f"{PENDING}?state=rejected", headers=police).json()
    assert [(p["id"], p["reason"]) for p in rejected] == [(pid, "neighbour's camera")]
    assert hub.client.get(f"{PENDING}?state=pending", headers=police).json() == []
    hub.add_user("police-op", "police", ["operator"])
    op = {"Authorization": f"Bearer {hub.login('police-op')['access_token']}"}
    assert hub.client.get(PENDING, headers=op).status_code == 403


def test_probe_reports_the_camera_without_keeping_the_password(
        hub: HubApi, onvif_camera: OnvifCameras) -> None:
    police = hub.headers("police")
    r = hub.client.post(f"{PENDING}/probe", headers=police, json={
        "address": "127.0.0.1", "port": onvif_camera.http_port, "username": USER,
        "password": PASSWORD})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["device"]["model"] == "ONVIF PTZ simulator"
    assert [p["token"] for p in out["profiles"]] == ["main", "sub"]
    assert out["pending"]["source"] == "probe" and out["pending"]["state"] == "pending"
    assert out["pending"]["port"] == onvif_camera.http_port and PASSWORD not in r.text
    with hub.owner() as conn:
        stored = conn.execute("SELECT row_to_json(p)::text FROM pending_cameras p").fetchall()
    assert stored and all(PASSWORD not in row[0] for row in stored)


def test_probe_of_a_dead_or_silent_address_fails_clearly_in_time(hub: HubApi) -> None:
    police = hub.headers("police")
    body = {"address": "127.0.0.1", "port": free_port(), "username": USER, "password": "x"}
    started = time.monotonic()
    r = hub.client.post(f"{PENDING}/probe", headers=police, json=body)
    assert r.status_code == 422 and r.json()["code"] == "camera_probe_failed", r.text
    assert "unreachable" in r.json()["detail"] and time.monotonic() - started < 5

    silent = socket.socket()  # completes TCP handshakes (backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        started = time.monotonic()
        r = hub.client.post(f"{PENDING}/probe", headers=police,
                            json={**body, "port": silent.getsockname()[1]})
    finally:
        silent.close()
    assert r.status_code == 422 and "no answer within" in r.json()["detail"], r.text
    assert time.monotonic() - started < PROBE_TIMEOUT_S + 2
    assert hub.client.get(PENDING, headers=police).json() == []  # nothing recorded
    bad = hub.client.post(f"{PENDING}/probe", headers=police, json={**body, "address": "a b"})
    assert bad.status_code == 422


# -- the edge box in a network namespace -----------------------------------------------------


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True)


@pytest.fixture
def camera_lan() -> Iterator[tuple[str, str, str]]:
    """A namespace (the camera LAN) linked to this host by a veth pair, multicast on its
    loopback, and a second namespace apart: (lan, host address on the link, other)."""
    if shutil.which("ip") is None or os.geteuid() != 0:
        pytest.fail("the discovery test makes network namespaces: run as root with iproute2",
                    pytrace=False)
    pid = os.getpid()
    base = f"198.18.{(pid >> 6) % 256}."  # a /30 of the benchmarking range per test process
    host_ip, ns_ip = base + str((pid % 64) * 4 + 1), base + str((pid % 64) * 4 + 2)
    host_if, ns_if = f"chd{pid}"[:15], f"chn{pid}"[:15]
    with network_namespace(f"cityhub-lan-{pid}") as lan, \
            network_namespace(f"cityhub-far-{pid}") as far:
        for ns in (lan, far):
            _ip("netns", "exec", ns, "ip", "route", "add", "224.0.0.0/4", "dev", "lo")
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        try:
            _ip("link", "set", ns_if, "netns", lan)
            _ip("addr", "add", f"{host_ip}/30", "dev", host_if)
            _ip("link", "set", host_if, "up")
            _ip("netns", "exec", lan, "ip", "addr", "add", f"{ns_ip}/30", "dev", ns_if)
            _ip("netns", "exec", lan, "ip", "link", "set", ns_if, "up")
            yield lan, host_ip, far
        finally:
            subprocess.run(["ip", "link", "del", host_if], check=False)


def test_edge_discovery_in_a_namespace_reaches_the_pending_list(
        camera_lan: tuple[str, str, str], pg_dsn: str, tmp_path: Path) -> None:
    lan, host_ip, far = camera_lan
    link_port = free_port()
    inside = OnvifCameras(tmp_path / "inside.log", count=2, discovery=True, netns=lan,
                          http_port=18080, rtsp_port=18554)
    outside = OnvifCameras(tmp_path / "outside.log", count=1, discovery=True, netns=far,
                           http_port=19080, rtsp_port=19554)
    hub = build_hub(pg_dsn, tmp_path / "state")
    agent = None
    with EmbeddedBroker(tmp_path / "mqtt", extra_conf=f"listener {link_port} {host_ip}") as broker:
        workers = IngestWorkers(tmp_path, pg_dsn, broker.url)
        try:
            inside.start()
            outside.start()
            workers.start(0)
            config = site_yaml(tmp_path / "edge" / "site.yaml", f"mqtt://{host_ip}:{link_port}",
                               listener={"enabled": False},
                               discovery={"enabled": True, "interval_s": 1, "timeout_s": 1})
            agent = spawn(["ip", "netns", "exec", lan, sys.executable, "-m", "hub", "edge",
                           "--config", str(config)], tmp_path / "edge.log")
            police = hub.headers(SITE["department"])

            def listed() -> list[dict[str, Any]]:
                assert agent is not None and agent.poll() is None, tail(tmp_path / "edge.log")
                rows = hub.client.get(PENDING, headers=police).json()
                return rows if len(rows) >= 2 else []

            first = wait_for(listed, 60, "the edge box's reports in the pending list")
            assert sorted(r["xaddr"] for r in first) == sorted(inside.xaddrs.values())
            assert {(r["name"], r["site"], r["device"], r["source"], r["state"])
                    for r in first} == {(n, SITE["id"], "box1", "discovery", "pending")
                                        for n in ("ptz1", "ptz2")}
            seen = max(datetime.fromisoformat(r["last_seen"]) for r in first)
            later = wait_for(lambda: [r for r in listed()
                                      if datetime.fromisoformat(r["last_seen"]) > seen], 30,
                             "a later probe updating last_seen")
            rows = hub.client.get(PENDING, headers=police).json()
            assert len(rows) == 2 and later, rows  # updated in place, never duplicated
            assert outside.xaddrs["ptz1"] not in {x for r in rows for x in r["xaddrs"]}
        finally:
            stop(agent)
            workers.stop()
            inside.stop()
            outside.stop()
            hub.runtime.close()
