"""Playback upward (s=Playback with a t= range) on real sockets: a simulated province asks
for a stretch of a shared camera's recording; a real relay that records a synthetic RTSP
camera sends exactly that stretch as PS over RTP, then MediaStatus 121; BYE ends it.
A share without playback, and a bad range, are refused."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element
from zoneinfo import ZoneInfo

import httpx
import pytest

from adapters.xmlsafe import text
from devkit.fixtures.streams import SERVICE
from devkit.fixtures.wait import until, wait_for
from gb28181 import mansrtsp
from gb28181.calls import InviteError
from hub.gb28181.relay_push import RelayPusher
from tests.test_gb28181_cascade import (
    GB_CAM,
    LOCAL,
    SHARED_RTSP,
    World,
    scenario,
    seed,
)
from tests.test_recording import recording, segments


@pytest.fixture
def dsn(store_dsn: str) -> str:
    seed(store_dsn)
    return store_dsn


def _pushes(relay: Any) -> list[dict[str, Any]]:
    return list(httpx.get(f"{relay.http}/gb28181/push", headers=SERVICE, timeout=10).json())


async def _record_info(w: World, channel: str, start: float, end: float
                       ) -> list[tuple[float, float]]:
    """The upper's RecordInfo query, answered in local time (Asia/Shanghai)."""
    zone = ZoneInfo("Asia/Shanghai")

    def local(t: float) -> str:
        return datetime.fromtimestamp(t, zone).replace(tzinfo=None).isoformat(timespec="seconds")

    items = await w.sim.service.ask_list(LOCAL, channel, "RecordInfo", (
        f"<StartTime>{local(start)}</StartTime>\r\n<EndTime>{local(end)}</EndTime>\r\n"
        "<Secrecy>0</Secrecy>\r\n<Type>all</Type>\r\n"), "RecordList")  # all pages
    assert items is not None

    def stamp(item: Element, name: str) -> float:
        return datetime.fromisoformat(text(item, name) or "").replace(tzinfo=zone).timestamp()

    return [(stamp(it, "StartTime"), stamp(it, "EndTime")) for it in items]


def _recorded(camera_factory: Any, relay_factory: Any, tmp_path: Path, seconds: int
              ) -> tuple[Any, tuple[int, int]]:
    """A relay recording cam1 in 2 s segments, and a window of ``seconds`` recorded time
    starting 1 s into its footage (waits until there is that much and more)."""
    root = tmp_path / "rec"
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")}, recording=recording(root, segment_s=2))
    need = seconds // 2 + 2
    wait_for(lambda: len(segments(root, "cam1")) >= need, timeout=20 + 7 * need,
             what=f"{2 * need} s of footage")
    start = int(segments(root, "cam1")[0]["start"]) + 1
    return relay, (start, start + seconds)


async def _playback_shared(w: World, pusher: RelayPusher) -> None:
    """The cascade registered, with cam1 shared to the upper for playback too."""
    client = await w.start_client(pusher)
    await w.q("UPDATE gb_upper_shares SET playback = true WHERE camera_id = 'cam1'"
              " RETURNING 1")
    await asyncio.wait_for(client.registered.wait(), 10)


@pytest.mark.parametrize("transport", ["udp", "tcp-active"])
def test_playback_of_a_recorded_stretch_ends_with_media_status_121(
        dsn: str, camera_factory: Any, relay_factory: Any, tmp_path: Path,
        transport: str) -> None:
    relay, window = _recorded(camera_factory, relay_factory, tmp_path, 3)  # 3 s recorded
    pusher = RelayPusher(lambda _camera: relay.http, SERVICE)

    async def body(w: World) -> None:
        await _playback_shared(w, pusher)
        # What is recorded in the window (RecordInfo), as a province asks before playing.
        listed = await _record_info(w, SHARED_RTSP, window[0] - 3600, window[1])
        assert listed == sorted(listed) and all(a < b <= window[1] for a, b in listed)
        assert listed[0][0] <= window[0] and any(b > window[0] for _, b in listed)
        assert await _record_info(w, GB_CAM, *window) == []  # shared live only: nothing
        dialog, sink = await w.sim.play(SHARED_RTSP, transport, window)
        try:
            assert dialog.answer.session == "Playback" and dialog.answer.times == window
            assert dialog.ssrc.startswith("1")  # a playback SSRC

            async def finished() -> bool:
                return (dialog.call_id, "121") in w.sim.service.media_status
            assert await until(finished, 30), sink.frames
            # The stretch, not live: 3 s at 15 fps from the keyframe before its start.
            assert 30 <= sink.frames <= 75 and sink.keyframes >= 3, sink.frames
            assert sink.codecs == {"h264"}
            view = await w.q("SELECT detail->'playback' FROM audit_log"
                             " WHERE action = 'gb_cascade_view'")
            assert view == [([window[0], window[1]],)]
            assert await w.sim.stop(dialog)  # the upper's BYE after 121
            assert await until(lambda: asyncio.to_thread(lambda: not _pushes(relay)), 10)
        finally:
            sink.close()
        # Shared live only: the recording is refused (403), and so is a reversed range.
        with pytest.raises(InviteError, match="403"):
            await w.sim.play(GB_CAM, transport, window)
        with pytest.raises(InviteError, match="488"):
            await w.sim.play(SHARED_RTSP, transport, (window[1], window[0]))
        reasons = await w.q("SELECT detail->>'reason' FROM audit_log"
                            " WHERE action = 'gb_cascade_invite_refused' ORDER BY seq")
        assert [r[0][:20] for r in reasons] == ["playback not shared", "bad playback range t"]
    scenario(dsn, body)


def test_the_upper_pauses_speeds_up_and_seeks_a_playback_with_mansrtsp(
        dsn: str, camera_factory: Any, relay_factory: Any, tmp_path: Path) -> None:
    relay, window = _recorded(camera_factory, relay_factory, tmp_path, 8)  # 120 frames at 1x
    pusher = RelayPusher(lambda _camera: relay.http, SERVICE)

    async def body(w: World) -> None:
        await _playback_shared(w, pusher)
        dialog, sink = await w.sim.play(SHARED_RTSP, "udp", window)

        def push() -> dict[str, Any]:
            return _pushes(relay)[0]
        try:
            await until(lambda: sink.frames >= 5, 20, "five frames at the upper")
            assert await w.sim.steer(dialog, mansrtsp.pause(1)) == 200
            assert await until(lambda: asyncio.to_thread(lambda: push()["paused"]), 10)
            paused_at = sink.frames
            await asyncio.sleep(1.0)  # the point: nothing is sent while paused
            assert sink.frames <= paused_at + 3  # at most what was on the wire
            # Resume at 4x from 6 s into the window: only its last 2 s (and the GOP before).
            assert await w.sim.steer(dialog, mansrtsp.play(2, scale=4.0, npt=6.0)) == 200
            assert await until(lambda: asyncio.to_thread(lambda: push()["scale"] == 4.0), 10)

            async def finished() -> bool:
                return (dialog.call_id, "121") in w.sim.service.media_status
            assert await until(finished, 30), sink.frames
            assert sink.frames < 100, sink.frames  # 6 s of the 8 were skipped
            assert await w.sim.steer(dialog, b"JUMP RTSP/1.0\r\nCSeq: 3\r\n\r\n") == 400
            assert await w.sim.stop(dialog)
        finally:
            sink.close()
        steps = await w.q("SELECT detail->>'method', detail->>'scale', detail->>'status'"
                          " FROM audit_log WHERE action = 'gb_cascade_playback_control'"
                          " ORDER BY seq")
        assert steps == [("PAUSE", None, "200"), ("PLAY", "4.0", "200")]
    scenario(dsn, body)
