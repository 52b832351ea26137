"""Playback upward (s=Playback with a t= range) on real sockets: a simulated province asks
for a stretch of a shared camera's recording; a real relay that records a synthetic RTSP
camera sends exactly that stretch as PS over RTP, then MediaStatus 121; BYE ends it.
A share without playback, and a bad range, are refused."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from adapters.xmlsafe import text
from devkit.fixtures.streams import SERVICE
from devkit.fixtures.wait import until, wait_for
from gb28181.service import InviteError
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
    assert w.upper is not None
    zone = ZoneInfo("Asia/Shanghai")

    def local(t: float) -> str:
        return datetime.fromtimestamp(t, zone).replace(tzinfo=None).isoformat(timespec="seconds")

    items = await w.upper.service.ask_list(LOCAL, channel, "RecordInfo", (
        f"<StartTime>{local(start)}</StartTime>\r\n<EndTime>{local(end)}</EndTime>\r\n"
        "<Secrecy>0</Secrecy>\r\n<Type>all</Type>\r\n"), "RecordList")  # all pages
    assert items is not None
    return [tuple(datetime.fromisoformat(text(it, k) or "").replace(tzinfo=zone).timestamp()
                  for k in ("StartTime", "EndTime")) for it in items]  # type: ignore[misc]


@pytest.mark.parametrize("transport", ["udp", "tcp-active"])
def test_playback_of_a_recorded_stretch_ends_with_media_status_121(
        dsn: str, camera_factory: Any, relay_factory: Any, tmp_path: Path,
        transport: str) -> None:
    root = tmp_path / "rec"
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")}, recording=recording(root, segment_s=2))
    wait_for(lambda: len(segments(root, "cam1")) >= 3, timeout=40, what="6 s of footage")
    first = segments(root, "cam1")[0]
    window = (int(first["start"]) + 1, int(first["start"]) + 4)  # 3 s of recorded time
    pusher = RelayPusher(lambda _camera: relay.http, SERVICE)

    async def body(w: World) -> None:
        client = await w.start_client(pusher)
        await w.q("UPDATE gb_upper_shares SET playback = true WHERE camera_id = 'cam1'"
                  " RETURNING 1")
        await asyncio.wait_for(client.registered.wait(), 10)
        assert w.upper is not None
        # What is recorded in the window (RecordInfo), as a province asks before playing.
        listed = await _record_info(w, SHARED_RTSP, window[0] - 3600, window[1])
        assert listed == sorted(listed) and all(a < b <= window[1] for a, b in listed)
        assert listed[0][0] <= window[0] and any(b > window[0] for _, b in listed)
        assert await _record_info(w, GB_CAM, *window) == []  # shared live only: nothing
        dialog, sink = await w.upper.play(SHARED_RTSP, transport, window)
        try:
            assert dialog.answer.session == "Playback" and dialog.answer.times == window
            assert dialog.ssrc.startswith("1")  # a playback SSRC

            async def finished() -> bool:
                assert w.upper is not None
                return (dialog.call_id, "121") in w.upper.service.media_status
            assert await until(finished, 30), sink.frames
            # The stretch, not live: 3 s at 15 fps from the keyframe before its start.
            assert 30 <= sink.frames <= 75 and sink.keyframes >= 3, sink.frames
            assert sink.codecs == {"h264"}
            view = await w.q("SELECT detail->'playback' FROM audit_log"
                             " WHERE action = 'gb_cascade_view'")
            assert view == [([window[0], window[1]],)]
            assert await w.upper.stop(dialog)  # the upper's BYE after 121
            assert await until(lambda: asyncio.to_thread(lambda: not _pushes(relay)), 10)
        finally:
            sink.close()
        # Shared live only: the recording is refused (403), and so is a reversed range.
        with pytest.raises(InviteError, match="403"):
            await w.upper.play(GB_CAM, transport, window)
        with pytest.raises(InviteError, match="488"):
            await w.upper.play(SHARED_RTSP, transport, (window[1], window[0]))
        reasons = await w.q("SELECT detail->>'reason' FROM audit_log"
                            " WHERE action = 'gb_cascade_invite_refused' ORDER BY seq")
        assert [r[0][:20] for r in reasons] == ["playback not shared", "bad playback range t"]
    scenario(dsn, body)
