"""Relay sharding end to end: three `cityhub relay` processes, one camera server.

Each camera is pulled exactly once city-wide (counted at the camera server: one TCP
connection per camera, from its owner's process only), and a viewer who asks any
node for a camera is sent to the owner (307 to the same path; the owner serves it).
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import yaml

from core.net import free_port, port_open
from devkit.embedded.process import spawn, stop
from devkit.fixtures.wait import settle, wait_started
from hub.config import load_config
from hub.relays import relay_bases
from streams.auth.service import derive_service_token
from streams.auth.tokens import issue_play_token
from streams.cluster.sharding import ShardMap

SECRET = "relay-cluster-test-secret-0123456789"
CAMERAS = [f"c{i}" for i in range(6)]
NODES = 3


@pytest.fixture
def cluster(tmp_path: Path, camera_factory, monkeypatch):
    cams = camera_factory(CAMERAS, width=320, height=180, fps=10, gop=10, bitrate=200)
    http = [free_port() for _ in range(NODES)]
    rtsp = [free_port() for _ in range(NODES)]
    config = {
        "state_dir": str(tmp_path / "state"),
        "departments": [{"id": "traffic", "name": "Traffic"}],
        "sites": [{"id": "s1", "name": "S1", "department": "traffic"}],
        "cameras": [
            {
                "id": c,
                "name": c,
                "site": "s1",
                "department": "traffic",
                "system": "traffic",
                "url": cams.url(c),
                "always_on": True,
            }
            for c in CAMERAS
        ],
        "cluster": {
            "nodes": [
                {
                    "id": f"relay-{i}",
                    "http_url": f"http://127.0.0.1:{http[i]}",
                    "rtsp_url": f"rtsp://127.0.0.1:{rtsp[i]}",
                }
                for i in range(NODES)
            ]
        },
    }
    path = tmp_path / "city.yaml"
    path.write_text(yaml.safe_dump(config))
    cityhub = str(Path(sys.executable).parent / "cityhub")
    procs = []
    try:
        for i in range(NODES):
            # the children inherit the environment: each its own node id
            monkeypatch.setenv("CITYHUB_CLUSTER__NODE_ID", f"relay-{i}")
            monkeypatch.setenv("CITYHUB_HUB__SECRET_KEY", SECRET)
            argv = [
                cityhub,
                "relay",
                "--config",
                str(path),
                "--http-port",
                str(http[i]),
                "--rtsp-port",
                str(rtsp[i]),
            ]
            log = tmp_path / f"relay-{i}.log"
            procs.append((spawn(argv, log), log))
        for (proc, log), port in zip(procs, http, strict=True):
            wait_started(proc, partial(port_open, port), log, 60, "relay node")
        yield load_config(path), cams, procs, http
    finally:
        for proc, _ in procs:
            stop(proc)


def _health(port: int) -> dict[str, dict]:
    service = {"Authorization": f"Bearer {derive_service_token(SECRET)}"}
    body = httpx.get(f"http://127.0.0.1:{port}/health", headers=service, timeout=5).json()
    return {h["camera_id"]: h for h in body["cameras"]}


def _camera_connections(pids: list[int], camera_port: int) -> dict[int, int]:
    counts = {}
    for pid in pids:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        counts[pid] = sum(
            1
            for p in procs
            for c in p.net_connections(kind="tcp")
            if c.raddr and c.raddr.port == camera_port and c.status == psutil.CONN_ESTABLISHED
        )
    return counts


def test_each_camera_pulled_once_and_viewers_sent_to_owner(cluster):
    cfg, cams, procs, http = cluster
    shards = ShardMap(cfg.cluster.nodes)
    expected = {
        n.id: sorted(c for c in CAMERAS if shards.owner(c).id == n.id) for n in cfg.cluster.nodes
    }

    # the probes of deploy/README.md's contract answer on every node
    for port in http:
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json() == {"status": "ok"}
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.status_code == 200 and ready.json()["status"] == "ready"

    # every node holds only its shard, and each of those goes live
    def all_live(health: dict[str, dict[str, Any]]) -> bool:
        return all(h["state"] == "live" for node in health.values() for h in node.values())

    health = settle(lambda: {f"relay-{i}": _health(http[i]) for i in range(NODES)}, all_live,
                    60, step=0.5)
    live = all_live(health)
    assert {node: sorted(h) for node, h in health.items()} == expected
    assert live, health

    # at the camera server: one connection per camera, from its owner only
    pids = [p.pid for p, _ in procs]
    per_pid = _camera_connections(pids, cams.port)
    assert per_pid == {pids[i]: len(expected[f"relay-{i}"]) for i in range(NODES)}
    assert sum(per_pid.values()) == len(CAMERAS)

    # a viewer asking any node is sent to the owner, which serves the snapshot
    with httpx.Client(timeout=10) as client:
        for cam in CAMERAS:
            owner = shards.owner(cam)
            token = issue_play_token(SECRET, cam, "viewer-1", protocols=["snapshot", "webrtc"])
            for i in range(NODES):
                url = f"http://127.0.0.1:{http[i]}/snapshot/{cam}.jpg?token={token}"
                first = client.get(url)
                if f"relay-{i}" == owner.id:
                    assert first.status_code == 200, first.text
                    continue
                assert first.status_code == 307
                assert (
                    first.headers["location"]
                    == f"{owner.http_url}/snapshot/{cam}.jpg?token={token}"
                )
                followed = client.get(url, follow_redirects=True)
                assert followed.status_code == 200 and followed.content[:2] == b"\xff\xd8"  # JPEG
                offer = client.post(
                    f"http://127.0.0.1:{http[i]}/whep/{cam}",
                    content=b"v=0",
                    headers={"content-type": "application/sdp", "authorization": f"Bearer {token}"},
                )
                assert offer.status_code == 307
                assert offer.headers["location"] == f"{owner.http_url}/whep/{cam}"
            # the hub hands out the owner's address in the play response
            assert relay_bases(cfg, cam)[0] == owner.http_url
        assert client.get(f"http://127.0.0.1:{http[0]}/snapshot/nope.jpg").status_code == 404

    # redirected viewers made no node open a second upstream connection
    assert _camera_connections(pids, cams.port) == per_pid


def test_hub_ui_gateway_reaches_every_camera_on_its_owner(cluster, tmp_path: Path):
    """The UI's same-origin gateway goes straight to each camera's owner: snapshots, the
    fMP4 WebSocket (which no redirect could move) and the merged health of all nodes."""
    import json

    from fastapi.testclient import TestClient

    from hub.api.app import create_app
    from hub.api.runtime import Runtime

    hub_cfg = load_config(
        tmp_path / "city.yaml",  # the cluster's city (written by the fixture)
        state_dir=str(tmp_path / "hub-state"),
        database={"url": "postgresql://cityhub@127.0.0.1:1/unused"},
        hub={"secret_key": SECRET},
    )
    assert hub_cfg.cluster.nodes == cluster[0].cluster.nodes
    runtime = Runtime.from_config(hub_cfg, open_pool=False)  # the gateway needs no database
    client = TestClient(create_app(hub_cfg, runtime))
    for cam in CAMERAS:
        token = issue_play_token(SECRET, cam, "viewer-1", protocols=["snapshot", "fmp4"])
        snap = client.get(f"/ui/relay/snapshot/{cam}.jpg", params={"token": token})
        assert snap.status_code == 200 and snap.content[:2] == b"\xff\xd8", (cam, snap.text)
        with client.websocket_connect(f"/ui/relay/fmp4/{cam}?token={token}") as ws:
            hello = json.loads(ws.receive_text())
            assert hello["type"] == "init" and "avc1" in hello["mime"]
            assert ws.receive_bytes()[4:8] == b"ftyp"  # the init segment
    refused = issue_play_token(SECRET, "c0", "viewer-1", protocols=["snapshot"])
    with client.websocket_connect(f"/ui/relay/fmp4/c0?token={refused}") as ws:
        with pytest.raises(Exception) as closed:
            ws.receive_text()
    assert getattr(closed.value, "code", None) == 4401  # the relay's refusal, passed on
