"""The packet core (streams.core: packet) end to end: real synthetic cameras, a real relay
process, real readers (ffprobe, GStreamer rtspsrc, aiortc)."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time

import httpx
import pytest

from devkit.fixtures.streams import GstReader
from streams.webrtc.client import WhepClient


def probe_frames(url: str, n: int = 5) -> list[dict]:
    """The first ``n`` decoded frames an ffprobe reader gets (TCP-interleaved)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-read_intervals", f"%+#{n}",
         "-show_frames", "-show_entries", "frame=key_frame,pict_type,width,height",
         "-of", "json", url],
        capture_output=True, timeout=30, check=True,
    )
    return json.loads(out.stdout)["frames"]


def test_readers_start_on_the_cached_keyframe(camera_factory, relay_factory) -> None:
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")}, core="packet")
    holder = GstReader(relay.rtsp_url("cam1")).start()
    try:
        assert holder.wait_frames(10) >= 10, holder.errors
        assert holder.size == (640, 360)
        for _ in range(3):  # each new reader starts mid-GOP: on the cache's keyframe
            frames = probe_frames(relay.rtsp_url("cam1"))
            assert len(frames) == 5
            assert frames[0]["key_frame"] == 1 and frames[0]["pict_type"] == "I"
            assert {f["width"] for f in frames} == {640}
        health = relay.health("cam1")
        assert health["state"] == "live" and health["fps"] > 5
        assert health["packet"]["gop_cache_packets"] > 0
        assert relay.upstream_connections(cam.port) == 1
    finally:
        holder.stop()


def test_tokens_as_on_the_gstreamer_path(camera_factory, relay_factory) -> None:
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")}, core="packet")
    base = f"rtsp://127.0.0.1:{relay.rtsp_port}/cam1"
    for url in (base, f"{base}?token=not-a-token", f"rtsp://127.0.0.1:{relay.rtsp_port}/cam2"
                f"?token={relay.token('cam2')}"):
        with pytest.raises(subprocess.CalledProcessError):
            probe_frames(url, 1)
    assert relay.upstream_connections(cam.port) == 0  # refused before any pull
    basic = f"rtsp://viewer:{relay.token('cam1')}@127.0.0.1:{relay.rtsp_port}/cam1"
    reader = GstReader(basic).start()  # the token as the Basic password (rtspsrc: no cut)
    try:
        assert reader.wait_frames(5) >= 5, reader.errors
    finally:
        reader.stop()


def test_udp_is_refused_and_garbage_drops_only_its_connection(
    camera_factory, relay_factory
) -> None:
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")}, core="packet")
    with socket.create_connection(("127.0.0.1", relay.rtsp_port), timeout=5) as s:
        s.sendall(b"\x00\x01garbage that is not RTSP\r\n\r\n")
        assert s.recv(100).startswith(b"RTSP/1.0 400")
    url = relay.rtsp_url("cam1")
    out = subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", "udp", url],
                         capture_output=True, timeout=30)
    assert out.returncode != 0
    assert probe_frames(url, 3)[0]["key_frame"] == 1  # the server still serves


@pytest.mark.fault
def test_one_upstream_for_rtsp_and_webrtc_readers_and_all_resume_after_camera_restart(
    camera_factory, relay_factory, loopback_ice
) -> None:
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")}, core="packet", backoff_initial_s=0.2,
                          backoff_max_s=1)

    async def scenario() -> None:
        readers = [GstReader(relay.rtsp_url("cam1")).start() for _ in range(2)]
        whep = WhepClient(f"{relay.http}/whep/cam1", relay.token("cam1"))
        await whep.start()
        try:
            for r in readers:
                assert await asyncio.to_thread(r.wait_frames, 20) >= 20, r.errors
            assert await whep.wait_frames(20, 15) >= 20
            assert relay.upstream_connections(cam.port) == 1  # WebRTC pulls through the core
            health = relay.health("cam1")
            assert health["rtsp_viewers"] == 2 and health["webrtc_viewers"] == 1
            cam.kill()
            assert relay.wait_state("cam1", "failed", 15)["state"] == "failed"
            assert "camera cam1 offline" in relay.log.read_text()  # the packet core's event
            before = [r.frames for r in readers] + [whep.frames]
            cam.start()
            assert relay.wait_state("cam1", "live", 20)["state"] == "live"
            for r, n in zip(readers, before, strict=False):  # the same readers go on
                assert await asyncio.to_thread(r.wait_frames, n + 15, 20) >= n + 15, r.errors
            assert await whep.wait_frames(before[2] + 15, 30) >= before[2] + 15
            assert relay.upstream_connections(cam.port) == 1
        finally:
            for r in readers:
                r.stop()
            await whep.stop()

    asyncio.run(scenario())


@pytest.mark.fault
def test_reader_churn_then_idle_close(camera_factory, relay_factory) -> None:
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")}, core="packet", idle_close_s=1)
    assert relay.health("cam1")["state"] == "idle"
    holder = GstReader(relay.rtsp_url("cam1")).start()
    try:
        assert holder.wait_frames(5) >= 5, holder.errors
        for _ in range(4):
            churn = [GstReader(relay.rtsp_url("cam1")).start() for _ in range(3)]
            for r in churn:
                assert r.wait_frames(3) >= 3, r.errors
                r.stop()
        n = holder.frames
        assert holder.wait_frames(n + 10) >= n + 10  # the holder never noticed
        deadline = time.monotonic() + 10
        while relay.health("cam1")["rtsp_viewers"] != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert relay.health("cam1")["rtsp_viewers"] == 1
        assert relay.health("cam1")["upstream_connects"] == 1
    finally:
        holder.stop()
    assert relay.wait_state("cam1", "idle", 10)["state"] == "idle"
    assert relay.upstream_connections(cam.port) == 0
    log = relay.log.read_text()
    assert log.count("camera cam1 online") == 1 and log.count("camera cam1 idle") == 1


def test_snapshot_through_the_packet_core(camera_factory, relay_factory) -> None:
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")}, core="packet")
    r = httpx.get(f"{relay.http}/snapshot/cam1.jpg",
                  headers={"Authorization": f"Bearer {relay.token('cam1')}"}, timeout=30)
    assert r.status_code == 200 and r.content[:2] == b"\xff\xd8"
    assert relay.upstream_connections(cam.port) == 1


@pytest.mark.fault
def test_a_reader_that_stops_reading_skips_then_is_dropped_alone(
    camera_factory, relay_factory
) -> None:
    cam = camera_factory(["cam1"], mode="loop", width=1280, height=720, bitrate=4000)
    relay = relay_factory({"cam1": cam.url("cam1")}, core="packet",
                          packet_reader_backlog_kb=64, packet_reader_behind_s=2)
    good = GstReader(relay.rtsp_url("cam1")).start()
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(("127.0.0.1", relay.rtsp_port))
    try:
        assert good.wait_frames(5) >= 5, good.errors
        url = relay.rtsp_url("cam1")
        base = url.split("?")[0]
        for req in (f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\n\r\n",
                    f"SETUP {base}/trackID=0 RTSP/1.0\r\nCSeq: 2\r\n"
                    "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n",
                    f"PLAY {base} RTSP/1.0\r\nCSeq: 3\r\n\r\n"):
            stuck.sendall(req.encode())
            time.sleep(0.2)  # then never read again
        deadline = time.monotonic() + 30
        packet = relay.health("cam1")["packet"]
        while packet["reader_drops"] < 1 and time.monotonic() < deadline:
            time.sleep(0.5)
            packet = relay.health("cam1")["packet"]
        assert packet["reader_skips"] >= 1 and packet["reader_drops"] == 1, packet
        assert packet["rtsp_readers"] == 1  # the good reader
        n = good.frames
        assert good.wait_frames(n + 25) >= n + 25, good.errors  # never held back
    finally:
        stuck.close()
        good.stop()


def test_digest_camera_h265_and_refused_credentials(camera_factory, relay_factory) -> None:
    cam = camera_factory(["cam1"], mode="loop", codec="h265", username="op", password="s3cret")
    relay = relay_factory(
        {"cam1": {"url": cam.url("cam1"), "username": "op", "password": "s3cret"},
         "bad": {"url": cam.url("cam1"), "username": "op", "password": "wrong", "always_on": True}},
        core="packet",
    )
    frames = probe_frames(relay.rtsp_url("cam1"), 3)
    assert frames[0]["key_frame"] == 1 and frames[0]["width"] == 640
    assert relay.health("cam1")["codec"] == "h265"
    health = relay.wait_state("bad", "failed", 20)
    assert health["state"] == "failed" and "credentials" in health["error"]


def test_sub_stream_mount_and_other_paths_redirected(camera_factory, relay_factory) -> None:
    main = camera_factory(["main"], mode="loop")
    sub = camera_factory(["sub"], mode="loop", width=320, height=180)
    relay = relay_factory({"cam1": {"url": main.url("main"), "sub_url": sub.url("sub")}},
                          core="packet")
    token = relay.token("cam1")
    base = f"rtsp://127.0.0.1:{relay.rtsp_port}/cam1"
    assert probe_frames(f"{base}/sub?token={token}", 2)[0]["width"] == 320
    assert probe_frames(f"{base}?token={token}", 2)[0]["width"] == 640
    with socket.create_connection(("127.0.0.1", relay.rtsp_port), timeout=5) as s:
        s.sendall(f"DESCRIBE {base}/recorded?token={token} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode())
        reply = s.recv(4096).decode()
    assert reply.startswith("RTSP/1.0 302")  # to the GStreamer re-serve, token kept
    location = next(x for x in reply.split("\r\n") if x.startswith("Location:"))
    assert "/cam1/recorded?token=" in location and f":{relay.rtsp_port}/" not in location
