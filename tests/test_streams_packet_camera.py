"""The packet core's camera actor against a real (refusing) socket: its health transitions
and events match the GStreamer core's stream (streams/core/stream.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from core.net import free_port
from streams.config import StreamsConfig
from streams.core.health import StreamEvent
from streams.packet.camera import PacketCamera


async def _until(check: Callable[[], bool], timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return check()


def test_an_unreachable_camera_fails_without_an_offline_event_and_retries_when_wanted_again(
) -> None:
    """Never online: ``failed`` with the reason, no event (it never went offline); released
    during its backoff it stops waiting (no retry for nobody) and, wanted again, retries
    at once instead of after the backoff."""
    events: list[StreamEvent] = []

    async def scenario() -> None:
        settings = StreamsConfig(backoff_initial_s=30, backoff_max_s=30, connect_timeout_s=2)
        camera = PacketCamera("cam", f"rtsp://127.0.0.1:{free_port()}/cam",
                              lambda: (None, None), settings, on_event=events.append)
        camera.start()
        try:
            release = camera.acquire()
            assert await _until(lambda: camera.state == "failed")
            assert "unreachable" in (camera.last_error or "")
            release()
            await asyncio.sleep(0.2)
            assert camera.state == "failed" and camera.upstream_connects == 1
            camera.acquire()
            assert await _until(lambda: camera.upstream_connects == 2, 3)  # not 30 s later
        finally:
            await camera.close()

    asyncio.run(scenario())
    assert events == []


def test_an_event_handler_that_raises_does_not_stop_the_camera() -> None:
    async def scenario() -> None:
        def broken(_event: StreamEvent) -> None:
            raise RuntimeError("consumer bug")

        camera = PacketCamera("cam", "rtsp://127.0.0.1:9/cam", lambda: (None, None),
                              StreamsConfig(), on_event=broken)
        camera._online = True  # a live camera that now goes idle
        camera._set_state("idle")
        assert camera.state == "idle" and not camera._online

    asyncio.run(scenario())
