"""The packet core (streams.core: packet) end to end: real synthetic cameras, a real relay
process, real readers (ffprobe, GStreamer rtspsrc, aiortc)."""

from __future__ import annotations

import json
import random
import socket
import struct
import subprocess
from functools import partial

import httpx
import pytest

from devkit.fixtures.streams import GstReader, RawReader
from devkit.fixtures.wait import wait_for


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


def _junk(seed: int) -> list[bytes]:
    """Malformed reader input: broken requests, bad interleaved frames, random bytes."""
    rng = random.Random(seed)
    fixed = [
        b"DESCRIBE rtsp://[::1 RTSP/1.0\r\nCSeq: 1\r\n\r\n",
        b"PLAY rtsp://h/cam1 RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 99999999\r\n\r\n",
        b"OPTIONS * RTSP/1.0\r\nno colon\r\n\r\n",
        b"SETUP rtsp://h/cam1/trackID=0 RTSP/1.0\r\nCSeq: 1\r\n"
        b"Transport: RTP/AVP/TCP;interleaved=999-1000\r\n\r\nPLAY rtsp://h/cam1 RTSP/1.0\r\n"
        b"CSeq: 2\r\n\r\n",
        b"$\x01\xff\xff" + b"\x80" * 100,  # a frame cut short by the reader's EOF
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\xff\xfe" * 9000,  # no header end within MAX_HEAD
    ]
    return fixed + [rng.randbytes(rng.randint(1, 3000)) for _ in range(12)]


@pytest.mark.fault
def test_garbage_from_readers_drops_only_their_connections(camera_factory, relay_factory) -> None:
    """Malformed requests and interleaved frames on real sockets: those connections get an
    answer or are closed, a playing reader's junk RTCP is ignored, and the reader that
    behaves keeps getting frames from the same server process."""
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")}, core="packet")
    holder = RawReader(relay.rtsp_url("cam1")).play()
    noisy = RawReader(relay.rtsp_url("cam1")).play()
    try:
        assert holder.wait_count(50) >= 50
        rng = random.Random(7)  # a playing reader's RTCP that is no RTCP: ignored
        for _ in range(20):
            junk = rng.randbytes(rng.randint(0, 200))
            noisy.sock.sendall(b"$" + bytes([rng.choice([0, 1, 9])])
                               + struct.pack("!H", len(junk)) + junk)
        n = noisy.count(0)
        assert noisy.wait_count(n + 50) >= n + 50
        noisy.sock.sendall(b"\x01\x02 not RTSP \r\n\r\n")  # then no RTSP: dropped
        with pytest.raises(ConnectionError):
            noisy.wait(lambda r: False, 10)
        for junk in _junk(22):
            n = holder.count(0)
            with socket.create_connection(("127.0.0.1", relay.rtsp_port), timeout=10) as s:
                s.sendall(junk)
                s.shutdown(socket.SHUT_WR)
                answer = b""
                while chunk := s.recv(65536):  # answered or not, the server closes it
                    answer += chunk
            assert answer == b"" or answer.startswith(b"RTSP/1.0 "), answer[:80]
            assert holder.wait_count(n + 5) >= n + 5, "the reader stalled"
        assert relay.proc is not None and relay.proc.poll() is None
        assert relay.health("cam1")["rtsp_viewers"] == 1
        assert probe_frames(relay.rtsp_url("cam1"), 3)[0]["key_frame"] == 1
        assert "Traceback" not in relay.log.read_text()
    finally:
        holder.close()
        noisy.close()


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

    def unread() -> int:
        """Bytes the relay sent that wait in the socket (peeked: they stay unread)."""
        try:
            return len(stuck.recv(65536, socket.MSG_PEEK | socket.MSG_DONTWAIT))
        except BlockingIOError:
            return 0

    def grown(since: int) -> int:
        return max(unread() - since, 0)

    try:
        assert good.wait_frames(5) >= 5, good.errors
        url = relay.rtsp_url("cam1")
        base = url.split("?")[0]
        replied = 0
        for req in (f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\n\r\n",
                    f"SETUP {base}/trackID=0 RTSP/1.0\r\nCSeq: 2\r\n"
                    "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n",
                    f"PLAY {base} RTSP/1.0\r\nCSeq: 3\r\n\r\n"):
            stuck.sendall(req.encode())  # one request at a time, then never read again
            replied += wait_for(partial(grown, replied), 10, "the relay's reply", step=0.02)
        packet = relay.wait_health("cam1", lambda h: h["packet"]["reader_drops"] >= 1, 30)["packet"]
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
    assert "camera bad offline" not in relay.log.read_text()  # never online: no event


def test_sub_stream_mount_and_other_paths_passed_through(camera_factory, relay_factory) -> None:
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
    # the GStreamer re-serve answers on the same port (no recordings here: not found)
    assert reply.startswith("RTSP/1.0 404") and "Server: cityhub" not in reply
    with socket.create_connection(("127.0.0.1", relay.rtsp_port), timeout=5) as s:
        s.sendall(f"SETUP {base}/h264?token={token} RTSP/1.0\r\nCSeq: 2\r\n"
                  "Transport: RTP/AVP;unicast;client_port=5000-5001\r\n\r\n".encode())
        assert s.recv(4096).decode().startswith("RTSP/1.0 461")  # UDP would go to loopback
