"""A GB/T 28181 device's own recordings played to cityhub's viewers, on real sockets: the
relay's ``/{camera}/device`` RTSP mount has the SIP service INVITE the simulated NVR with
``s=Playback`` (``u=``, ``t=``), receives its MPEG-PS over RTP and serves it (ffprobe
decodes it); the NVR's BYE at the end of the window ends the viewer's stream; RTSP
PAUSE / PLAY Range / Scale reach the NVR as MANSRTSP INFO; the viewer leaving BYEs it.
A token without playback, or for other footage, is refused before any INVITE. The 2022
edition's Download. The hub's API: a playback grant is needed, every playback audited."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from devkit.fixtures.ffprobe import ffprobe
from devkit.fixtures.hubapi import HubApi
from devkit.fixtures.streams import SECRET, RawReader
from devkit.fixtures.wait import wait_for
from devkit.gb28181_device import DeviceSim, make_channels
from gb28181 import mansrtsp
from gb28181.transport import Peer
from hub.gb28181.store import PgDirectory, add_device
from streams.auth.tokens import issue_play_token, verify_play_token
from streams.gb28181.device_session import Channel, DeviceRecording
from tests.test_gb28181_live import TOKEN, Side, clip, source_url
from tests.test_gb28181_live import side as side  # noqa: F401  (the fixture)
from tests.test_gb28181_service import DEV1, DOMAIN, PLATFORM


class _Reader(RawReader):
    """A bare-socket RTSP reader that pauses, seeks and changes speed in its session."""

    def start(self) -> None:
        """DESCRIBE, SETUP (gst-rtsp-server's ``stream=0``, interleaved), PLAY."""
        described = self.request("DESCRIBE", self.url, "Accept: application/sdp\r\n")
        assert described.status == 200, described.status
        self.base = described.header("content-base", self.url.split("?")[0] + "/")
        setup = self.request("SETUP", self.base + "stream=0",
                             "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n")
        assert setup.status == 200, setup.status
        self.session = setup.header("session").split(";")[0]
        assert self.send("PLAY", Range="npt=0-") == 200

    def send(self, method: str, **headers: str) -> int:
        """A request in the session, while media flows; its status."""
        extra = "".join(f"{k}: {v}\r\n" for k, v in {"Session": self.session, **headers}.items())
        return self.request(method, self.base, extra).status


async def _device(side: Side, transport: str) -> DeviceSim:
    sim = DeviceSim(DEV1, "secret1", Peer(transport, "127.0.0.1", side.service.s.port),
                    PLATFORM, DOMAIN, channels=make_channels(DEV1, 1), units=clip(), fps=25)
    await sim.start()
    assert await sim.register() == 200
    side.sim = sim
    return sim


def _url(relay: Any, camera: str, start: int, end: int, protocols: tuple[str, ...] = (
        "rtsp", "playback"), window: tuple[float, float] | None = None) -> str:
    token = issue_play_token(SECRET, camera, "tester", ttl_s=600, protocols=protocols,
                             window=window or (start, end))
    return (f"rtsp://127.0.0.1:{relay.rtsp_port}/{camera}/device?start={start}&end={end}"
            f"&token={token}")


def _probe(url: str) -> subprocess.CompletedProcess[str]:
    """ffprobe the whole stream: it returns only when the stream ends (RTCP BYE)."""
    return subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-count_frames",
                           "-show_streams", "-of", "json", url],
                          capture_output=True, text=True, timeout=60)


def test_mansrtsp_bodies_read_back() -> None:
    for body, expected in (
            (mansrtsp.pause(3), mansrtsp.Command("PAUSE", 3)),
            (mansrtsp.play(4), mansrtsp.Command("PLAY", 4)),
            (mansrtsp.play(5, scale=2.0), mansrtsp.Command("PLAY", 5, scale=2.0)),
            (mansrtsp.play(6, npt=120.5), mansrtsp.Command("PLAY", 6, npt=120.5))):
        assert mansrtsp.parse(body) == expected
    assert mansrtsp.play(5, scale=0.5).startswith(b"PLAY RTSP/1.0\r\nCSeq: 5\r\nScale: 0.5\r\n")
    for bad in (b"GET / HTTP/1.1\r\n\r\n", b"PLAY RTSP/1.0\r\nScale: -2\r\n\r\n",
                b"PLAY RTSP/1.0\r\nRange: npt=abc-\r\n\r\n", b"PLAY RTSP/1.0\r\n" * 200):
        try:
            mansrtsp.parse(bad)
        except mansrtsp.MansrtspError:
            continue
        raise AssertionError(f"accepted {bad[:30]!r}")


def test_device_recording_plays_to_its_end_and_refusals(side: Side, relay_factory: Any
                                                         ) -> None:
    sim = side.call(_device(side, "UDP"))
    channel = sim.channels[0].id
    relay = relay_factory({channel: source_url(side, channel, "udp")})
    start = int(sim.records[-1][0]) + 60
    end = start + 4
    # Refused before any INVITE: no playback in the token; footage outside its window.
    for url in (_url(relay, channel, start, end, protocols=("rtsp",)),
                _url(relay, channel, start, end, window=(start - 100, start - 50))):
        refused = _probe(url)
        assert refused.returncode != 0 and not refused.stdout.strip("{}\n ")
    assert side.call(side.sessions()) == []

    began = time.monotonic()
    probe = _probe(_url(relay, channel, start, end))
    assert probe.returncode == 0, probe.stderr
    video = json.loads(probe.stdout)["streams"][0]
    assert video["codec_name"] == "h264" and (video["width"], video["height"]) == (640, 360)
    assert 90 <= int(video["nb_read_frames"]) <= 110, video["nb_read_frames"]
    assert time.monotonic() - began < 30  # ended by the device, not by a timeout
    [play] = sim.plays.values()
    assert (play.start, play.end) == (start, end)
    # gst-rtsp-server's seeks to 0 (prepare, first PLAY) go to the device: nothing lost
    assert {(c.method, c.npt, c.scale) for c in play.commands} == {("PLAY", 0.0, None)}
    [call] = wait_for(lambda: sim.byes_sent)  # MediaStatus 121, then the device's BYE
    assert (call, "121") in side.service.media_status
    [(call_id, transport, ssrc, ended_at, reason)] = side.call(side.sessions())
    assert (call_id, transport, ssrc[0]) == (call, "udp", "1")
    assert ended_at is not None and reason == "BYE from the device"


def test_pause_seek_speed_reach_the_device_as_mansrtsp_and_leaving_byes(
        side: Side, relay_factory: Any) -> None:
    """SIP over TCP, media over TCP (the relay listens)."""
    sim = side.call(_device(side, "TCP"))
    channel = sim.channels[0].id
    relay = relay_factory({channel: source_url(side, channel, "tcp-passive")})
    start = int(sim.records[-1][0]) + 60
    url = _url(relay, channel, start, start + 120)
    client = _Reader(url)
    try:
        client.start()
        assert client.wait_count(10) >= 10
        [play] = sim.plays.values()
        assert client.send("PAUSE") == 200
        wait_for(lambda: [c for c in play.commands if c.method == "PAUSE"])
        assert not play.running.is_set()
        assert client.send("PLAY", Range="npt=30-") == 200
        wait_for(lambda: [c for c in play.commands if c.npt == 30.0])
        assert play.running.is_set() and play.position >= 29 * 25
        assert client.send("PLAY", Scale="2.0") == 200
        wait_for(lambda: play.scale == 2.0)
        before = client.count(0)
        assert client.wait_count(before + 10) >= before + 10  # still flowing
        assert client.send("TEARDOWN") == 200
    finally:
        client.close()
    wait_for(lambda: not sim.calls)  # the relay's BYE
    [(_c, transport, _s, ended_at, reason)] = wait_for(
        lambda: [s for s in side.call(side.sessions()) if s[3] is not None])
    assert transport == "tcp-passive" and reason == "relay ended the stream"
    assert sim.byes_sent == []


def test_download_2022_at_download_speed(side: Side) -> None:
    sim = side.call(_device(side, "UDP"))
    start = int(sim.records[-1][0]) + 60
    ch = Channel(DEV1, sim.channels[0].id, f"http://127.0.0.1:{side.control_port}", TOKEN)
    rec = DeviceRecording(ch, start, start + 4, download_speed=4)
    frames: list[Any] = []
    began = time.monotonic()
    assert rec.open(10) == "h264"
    rec.attach(frames.append)
    assert rec.ended.wait(20) and "ended the call" in rec.end_reason
    assert time.monotonic() - began < 3.5  # 4 s of recording at 4x
    assert len(frames) >= 90 and frames[0].keyframe
    [play] = sim.plays.values()
    assert play.scale == 4.0 and play.commands == []
    wait_for(lambda: [s for s in side.call(side.sessions()) if s[4] == "BYE from the device"])


def test_hub_gives_device_playback_only_with_a_playback_grant_and_audits_it(
        hub_api: HubApi) -> None:
    box = hub_api.runtime.credentials
    dev = "34020000001180000009"
    channel = make_channels(dev, 1)[0].id
    with hub_api.owner() as conn:
        conn.execute("INSERT INTO sites (id, name, department_id) VALUES ('p1', 'P1', 'police')")
        add_device(conn, box, dev, "police", "p1", "nvr-password-xyz")
        conn.execute("INSERT INTO cameras (id, name, site_id, department_id, source_system)"
                     " VALUES ('pcam9', 'RTSP cam', 'p1', 'police', 'safecity')")

    async def catalog() -> None:
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(hub_api.owner_dsn, open=False)
        await pool.open()
        await PgDirectory(pool, box, "Asia/Shanghai").catalog(dev, make_channels(dev, 1),
                                                              complete=True)
        await pool.close()
    asyncio.run(catalog())
    c, path = hub_api.client, f"/api/v1/gb28181/channels/{channel}/playback"
    now = int(time.time())
    body = {"start": now - 1800, "end": now - 1700}
    r = c.post(path, json=body, headers=hub_api.headers("police"))
    assert r.status_code == 200, r.text
    out = r.json()
    stretch = f"/{channel}/device?start={now - 1800}&end={now - 1700}"
    assert out["rtsp_url"].endswith(stretch) and out["rtsp_url"].startswith("rtsp://")
    assert out["playback_url"].startswith("ws") and out["playback_url"].endswith(
        f"/playback{stretch}")
    grant = verify_play_token(hub_api.runtime.play_secret, out["token"], channel, "playback")
    assert grant.window == (now - 1800, now - 1700) and grant.allows("rtsp")
    assert c.post("/api/v1/gb28181/channels/pcam9/playback", json=body,
                  headers=hub_api.headers("police")).status_code == 404  # not a GB channel
    assert c.post(path, json={"start": now, "end": now - 5},
                  headers=hub_api.headers("police")).status_code == 422
    # Traffic may watch it live (a video grant) but not play its recordings back.
    expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    g = c.post("/api/v1/grants", headers=hub_api.headers("police"), json={
        "grantee": "traffic", "resources": ["video"], "purpose": "junction watch",
        "cameras": [channel], "expires_at": expires})
    assert g.status_code in (200, 201), g.text
    traffic = hub_api.headers("traffic")
    assert c.post(f"/api/v1/cameras/{channel}/play", json={"protocols": ["rtsp"]},
                  headers=traffic).status_code == 200
    denied = c.post(path, json=body, headers=traffic)
    assert denied.status_code == 403, denied.text
    # A playback grant of one hour of footage: the stretch is clipped to it.
    lo = datetime.fromtimestamp(now - 1750, UTC)
    g = c.post("/api/v1/grants", headers=hub_api.headers("police"), json={
        "grantee": "traffic", "resources": ["video", "playback"], "purpose": "incident review",
        "cameras": [channel], "expires_at": expires, "playback_from": lo.isoformat(),
        "playback_to": (lo + timedelta(hours=1)).isoformat()})
    assert g.status_code in (200, 201), g.text
    ok = c.post(path, json=body, headers=traffic)
    assert ok.status_code == 200, ok.text
    assert (ok.json()["start"], ok.json()["end"]) == (now - 1750, now - 1700)
    with hub_api.owner() as conn:
        audited = [d for a, d in conn.execute("SELECT action, detail FROM audit_log ORDER BY seq")
                   if a == "video.playback.authorize" and d.get("source") == "device"]
    assert [(d["device"], d["channel"], d["start"], d["end"]) for d in audited] == [
        (dev, channel, now - 1800, now - 1700), (dev, channel, now - 1750, now - 1700)]


def _device_ws(relay: Any, camera: str, start: int, end: int,
               protocols: tuple[str, ...] = ("playback",),
               window: tuple[float, float] | None = None) -> str:
    token = issue_play_token(SECRET, camera, "tester", ttl_s=600, protocols=protocols,
                             window=window or (start, end))
    return (f"ws://127.0.0.1:{relay.http_port}/playback/{camera}/device"
            f"?start={start}&end={end}&token={token}")


class _Browser:
    """The relay's device playback WebSocket, read as a browser's player reads it."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    def send(self, **cmd: object) -> None:
        self.ws.send(json.dumps(cmd))

    def timeline(self, frames: int) -> tuple[dict[str, Any], bytes]:
        """The next ``init``, then its init segment and ``frames`` media segments."""
        while (hello := self.said())["type"] != "init":
            continue
        data = self.ws.recv(20)
        assert isinstance(data, bytes) and data[4:8] == b"ftyp"
        for _ in range(frames):
            segment = self.ws.recv(20)
            assert isinstance(segment, bytes) and segment[4:8] == b"moof", segment[:40]
            data += segment
        return hello, data

    def said(self) -> dict[str, Any]:
        """The next JSON message (media before it passed over)."""
        while not isinstance(msg := self.ws.recv(30), str):
            continue
        return json.loads(msg)

    def quiet(self, within: int) -> int:
        """Media segments before a second passes without one (at most ``within``)."""
        for n in range(within + 1):
            try:
                self.ws.recv(1.0)
            except TimeoutError:
                return n
        raise AssertionError(f"media still flowing after {within} segments")


def _fmp4(tmp_path: Path, name: str, data: bytes) -> list[dict[str, Any]]:
    (tmp_path / name).write_bytes(data)
    probe = ffprobe(tmp_path / name, "stream=codec_name,width,height:packet=flags")
    assert [(s["codec_name"], s["width"], s["height"]) for s in probe["streams"]] == [
        ("h264", 640, 360)]
    return probe["packets"]


def test_device_recording_plays_in_a_browser_over_fmp4_websocket(
        side: Side, relay_factory: Any, tmp_path: Path) -> None:
    """Init segment (H.264) then media; pause stops the device and the media, resume goes
    on in the same timeline; a seek is MANSRTSP Range (before the call's start, a new
    INVITE), a speed Scale; bad input is answered; the device's BYE at the end of its
    recording is the browser's ``end``; leaving BYEs the device."""
    sim = side.call(_device(side, "UDP"))
    channel = sim.channels[0].id
    relay = relay_factory({channel: source_url(side, channel, "udp")})
    start = int(sim.records[-1][0]) + 60
    for url, code in ((_device_ws(relay, channel, start, start + 120, ("rtsp", "fmp4")), 4401),
                      (_device_ws(relay, channel, start, start + 120,
                                  window=(start - 100, start - 50)), 4403)):
        with connect(url) as refused, pytest.raises(ConnectionClosed) as closed:
            refused.recv(10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == code
    assert sim.plays == {}  # refused before any INVITE

    with connect(_device_ws(relay, channel, start, start + 120), max_size=1 << 24) as ws:
        browser = _Browser(ws)
        browser.send(type="play", at=start + 10.5, speed=1)  # INVITE t=<start + 10> <end>
        hello, data = browser.timeline(30)
        assert hello["mime"].startswith('video/mp4; codecs="avc1.') and hello["start"] == start + 10
        packets = _fmp4(tmp_path, "a.mp4", data)
        assert packets[0]["flags"].startswith("K") and len(packets) >= 25
        [play] = sim.plays.values()
        assert (play.start, play.end) == (start + 10, start + 120)

        browser.send(type="pause")
        wait_for(lambda: [c for c in play.commands if c.method == "PAUSE"], what="PAUSE")
        browser.quiet(within=10)  # what was on its way, then nothing
        assert not play.running.is_set()
        held = play.position
        browser.send(type="resume")
        wait_for(play.running.is_set, what="PLAY to resume")
        for _ in range(10):  # the same timeline goes on: no new init
            assert isinstance(browser.ws.recv(20), bytes)
        assert play.position > held

        browser.send(type="play", at=start + 30, speed=1)  # npt: seconds from the INVITE's start
        hello, data = browser.timeline(10)
        assert hello["start"] == start + 30 and play.commands[-1].npt == 20.0
        assert 19 * 25 <= play.position <= 30 * 25
        assert _fmp4(tmp_path, "b.mp4", data)[0]["flags"].startswith("K")

        browser.send(type="play", at=start + 40, speed=2)
        hello, _ = browser.timeline(10)
        assert (hello["start"], hello["speed"]) == (start + 40, 2.0) and play.scale == 2.0
        assert [(c.method, c.npt, c.scale) for c in play.commands] == [
            ("PAUSE", None, None), ("PLAY", None, None), ("PLAY", 20.0, None),
            ("PLAY", 30.0, 2.0)]

        browser.send(type="play", at="soon")  # bad input: said, the session goes on
        assert "at (unix s)" in browser.said()["error"]
        browser.send(type="play", at=start + 2, speed=1)  # before the call: a new INVITE
        hello, _ = browser.timeline(10)
        assert hello["start"] == start + 2
        assert [(p.start, p.end) for p in sim.plays.values()] == [
            (start + 10, start + 120), (start + 2, start + 120)]
        assert len(sim.calls) == 1  # the first call BYEd

    # A short stretch: the device's BYE at its end is the browser's "end".
    with connect(_device_ws(relay, channel, start + 300, start + 303)) as ws:
        ws.send(json.dumps({"type": "play", "at": start + 300, "speed": 1}))
        browser = _Browser(ws)
        said = [browser.said()["type"]]
        while said[-1] != "end":
            said.append(browser.said()["type"])
        assert said == ["init", "end"]
    wait_for(lambda: not sim.calls, what="the relay's BYE")


def _admitted(url: str, at: int) -> tuple[ClientConnection, dict[str, Any]] | None:
    """A device playback WebSocket that plays from ``at`` (socket and its ``init``), or None
    when the relay refused it (its cap)."""
    ws = connect(url, max_size=1 << 24)
    browser = _Browser(ws)
    try:
        browser.send(type="play", at=at, speed=1)
        hello, _ = browser.timeline(3)
    except ConnectionClosed:
        ws.close()
        return None
    return ws, hello


def test_device_playbacks_beyond_the_relays_cap_are_refused(side: Side, relay_factory: Any
                                                           ) -> None:
    """``recording.device_playback_max``: one browser more than the cap is closed with 4503
    and a reason, before any INVITE; the place a browser leaves is taken again."""
    sim = side.call(_device(side, "UDP"))
    channel = sim.channels[0].id
    relay = relay_factory({channel: source_url(side, channel, "udp")},
                          recording={"device_playback_max": 1})
    start = int(sim.records[-1][0]) + 60
    url = _device_ws(relay, channel, start, start + 120)
    first = _admitted(url, start + 10)
    assert first is not None and first[1]["start"] == start + 10, first
    with connect(url) as refused, pytest.raises(ConnectionClosed) as closed:
        refused.recv(10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4503, closed.value
    assert closed.value.rcvd.reason == "too many device playbacks on this relay (max 1)"
    assert len(sim.plays) == 1  # the refused browser cost the device nothing
    first[0].close()
    again = wait_for(lambda: _admitted(url, start + 20), what="a place freed")
    assert again is not None and again[1]["start"] == start + 20, again
    again[0].close()
