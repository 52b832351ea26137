"""Broken input and access: every bad camera or request gets a clear error, others play on."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import threading
from collections.abc import Iterator

import av
import cv2
import httpx
import numpy as np
import pytest

from devkit.fixtures.streams import RELAY_CORES, GstReader
from streams.webrtc.client import WhepClient
from streams.webrtc.ice import configure_ice_hosts


@pytest.fixture
def garbage_camera() -> Iterator[int]:
    """A TCP server on loopback that answers every connection with random bytes."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            with conn:
                try:
                    conn.recv(4096)
                    conn.sendall(np.random.default_rng().bytes(4096))
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield srv.getsockname()[1]
    stop.set()
    thread.join()
    srv.close()


@RELAY_CORES
def test_bad_cameras_fail_clearly_and_the_good_one_still_plays(
    camera_factory, relay_factory, garbage_camera
) -> None:
    good = camera_factory(["cam1"], mode="loop")
    locked = camera_factory(
        ["cam1"], mode="loop", username="admin", password="right", auth="digest"
    )
    relay = relay_factory(
        {
            "good": good.url("cam1"),
            "wrongpw": {
                "url": locked.url("cam1"),
                "username": "admin",
                "password": "Pw-Not-Right-42",
            },
            "garbage": f"rtsp://127.0.0.1:{garbage_camera}/x",
            "nopath": good.url("nosuchcam"),
            "http": "http://127.0.0.1:1/video",
        },
        connect_timeout_s=4,
        backoff_initial_s=5,
    )
    for cam in ("wrongpw", "garbage", "nopath", "http"):
        res = httpx.get(
            f"{relay.http}/snapshot/{cam}.jpg", params={"token": relay.token(cam)}, timeout=30
        )
        assert res.status_code == 503, (cam, res.text)
    health = {c: relay.health(c) for c in ("wrongpw", "garbage", "nopath", "http")}
    assert health["wrongpw"]["state"] == "failed" and "401" in health["wrongpw"]["error"]
    assert health["nopath"]["state"] == "failed" and "404" in health["nopath"]["error"]
    assert (
        health["http"]["state"] == "failed"
        and "unsupported camera URL scheme" in health["http"]["error"]
    )
    assert health["garbage"]["state"] == "failed" and health["garbage"]["error"]
    assert "Pw-Not-Right-42" not in relay.log.read_text()  # the password never reaches the log
    reader = GstReader(relay.rtsp_url("good")).start()
    try:
        assert reader.wait_frames(10) >= 10, reader.errors
    finally:
        reader.stop()
    assert relay.health("good")["state"] == "live"


@RELAY_CORES
def test_right_password_digest_and_basic_through_the_relay(camera_factory, relay_factory) -> None:
    digest = camera_factory(
        ["cam1"], mode="loop", username="admin", password="s3cret", auth="digest"
    )
    basic = camera_factory(["cam1"], mode="loop", username="admin", password="s3cret", auth="basic")
    relay = relay_factory(
        {
            "digest": {"url": digest.url("cam1"), "username": "admin", "password": "s3cret"},
            "basic": {"url": basic.url("cam1").replace("rtsp://", "rtsp://admin:s3cret@")},
        }
    )
    for cam in ("digest", "basic"):
        res = httpx.get(
            f"{relay.http}/snapshot/{cam}.jpg", params={"token": relay.token(cam)}, timeout=30
        )
        assert res.status_code == 200, res.text
        image = cv2.imdecode(np.frombuffer(res.content, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape == (360, 640, 3)
    assert "s3cret" not in relay.log.read_text()


@RELAY_CORES
def test_tokens_sdp_and_codec_are_checked(camera_factory, relay_factory) -> None:
    cams = camera_factory(["h264"], mode="loop")
    hevc = camera_factory(["h265"], mode="loop", codec="h265")
    relay = relay_factory({"cam1": cams.url("h264"), "hevc": hevc.url("h265")})
    url = f"{relay.http}/whep/cam1"
    sdp = {"Content-Type": "application/sdp"}
    assert httpx.post(url, content="v=0", headers=sdp).status_code == 401  # no token
    other = relay.token("hevc")
    assert (
        httpx.post(
            url, content="v=0", headers={**sdp, "Authorization": f"Bearer {other}"}
        ).status_code
        == 401
    )
    auth = {**sdp, "Authorization": f"Bearer {relay.token('cam1', ('snapshot',))}"}
    assert httpx.post(url, content="v=0", headers=auth).status_code == 401  # not allowed webrtc
    auth = {**sdp, "Authorization": f"Bearer {relay.token('cam1')}"}
    bad = httpx.post(
        url, content="v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\ngarbage", headers=auth, timeout=30
    )
    assert bad.status_code == 400 and "SDP" in bad.text
    assert (
        httpx.post(url, content="hello", headers={**auth, "Content-Type": "text/plain"}).status_code
        == 415
    )
    assert httpx.post(url, content="x" * 100_000, headers=auth).status_code == 413
    # The hub's play URLs use the MediaMTX-style path: the same handler, the same checks.
    alias = f"{relay.http}/cam1/whep"
    assert httpx.post(alias, content="v=0", headers=sdp).status_code == 401
    assert httpx.post(alias, content="v=0", headers=auth).status_code == 400
    # H.265 cannot pass through to WebRTC: a clear 415; RTSP re-serves it as H.265.
    configure_ice_hosts(["127.0.0.1"])
    try:
        client = WhepClient(f"{relay.http}/whep/hevc", relay.token("hevc"))
        with pytest.raises(RuntimeError, match="415"):
            asyncio.run(client.start())
    finally:
        configure_ice_hosts([])
    reader = GstReader(relay.rtsp_url("hevc")).start()
    try:
        assert reader.wait_frames(10) >= 10, reader.errors
    finally:
        reader.stop()
    assert relay.health("hevc")["codec"] == "h265"
    refused = GstReader(f"rtsp://127.0.0.1:{relay.rtsp_port}/cam1?token=forged").start()
    try:
        assert refused.wait_frames(1, 10) == 0 and refused.errors
    finally:
        refused.stop()
    assert relay.health("cam1")["state"] == "idle"  # the refused reader never pulled the camera


@RELAY_CORES
def test_snapshot_and_event_clip(camera_factory, relay_factory) -> None:
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": {"url": cam.url("cam1"), "always_on": True}}, prebuffer_s=3)
    assert relay.wait_state("cam1", "live")["state"] == "live"
    full = relay.wait_health("cam1", lambda h: h["buffered_s"] >= 3)  # the pre-event buffer
    assert full["buffered_s"] >= 3, full
    # Nobody watches: frames wait in the upstream's C ring, health comes from C counters.
    health = relay.health("cam1")
    assert health["fps"] > 10 and 300_000 < health["bitrate_bps"] < 2_000_000, health
    tok = relay.token("cam1")
    res = httpx.get(
        f"{relay.http}/snapshot/cam1.jpg", params={"token": tok, "width": 320}, timeout=20
    )
    assert res.status_code == 200 and res.headers["content-type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(res.content, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (180, 320, 3)
    res = httpx.post(
        f"{relay.http}/clips/cam1",
        params={"token": tok},
        json={"pre_s": 2, "post_s": 1},
        timeout=30,
    )
    assert res.status_code == 201, res.text
    meta = res.json()
    assert 2.5 <= meta["duration_s"] <= 5, meta  # >= 2 s before (whole GOPs) + 1 s after
    mp4 = httpx.get(f"{relay.http}{meta['url']}", params={"token": tok}, timeout=20)
    assert mp4.status_code == 200 and hashlib.sha256(mp4.content).hexdigest() == meta["sha256"]
    path = relay.log.parent / "clip.mp4"
    path.write_bytes(mp4.content)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f for f in container.decode(stream)]
    assert stream.codec_context.name == "h264"
    assert len(frames) == meta["frames"] and frames[0].width == 640
    assert httpx.post(f"{relay.http}/clips/cam1", json={"pre_s": 1, "post_s": 1}).status_code == 401
