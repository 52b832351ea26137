"""A WHEP session's event stream: the relay says when it closed the session, and the hub's
gateway says when the relay died (hub/ui/session_events.py), so a wall's WebRTC tile need
not wait for its stall watch. Real relay process, real aiortc viewer, real sockets."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import HTTPException
from fastapi.responses import StreamingResponse

from hub.ui.session_events import pipe_events
from streams.webrtc.client import WhepClient


async def _events(chunks: AsyncIterable[Any]) -> AsyncIterator[str]:
    """Event names as they come, from a text/event-stream body."""
    text = ""
    async for chunk in chunks:
        text += bytes(chunk).decode() if not isinstance(chunk, str) else chunk
        *whole, text = text.split("\n\n")
        for block in whole:
            for line in block.splitlines():
                if line.startswith("event: "):
                    yield line[len("event: "):]


async def _next(events: AsyncIterator[str], timeout: float = 15) -> str:
    return await asyncio.wait_for(anext(events), timeout)


def test_the_relay_says_when_it_closed_a_session(camera_factory, relay_factory,
                                                 loopback_ice) -> None:
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")})

    async def scenario() -> tuple[str, str, int, int]:
        whep = WhepClient(f"{relay.http}/whep/cam1", relay.token("cam1"))
        await whep.start()
        assert whep.location
        async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=30)) as http, \
                http.stream("GET", f"{whep.location}/events") as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            events = _events(r.aiter_text())
            opened = await _next(events)
            assert await whep.stop() == 200  # DELETE: the relay closes the session
            closed = await _next(events)
            gone = await http.get(f"{whep.location}/events")
            other = await http.get(f"{relay.http}/whep/cam2/{whep.location.rsplit('/', 1)[1]}"
                                   "/events")
        return opened, closed, gone.status_code, other.status_code

    assert asyncio.run(scenario()) == ("open", "closed", 404, 404)


@pytest.mark.fault
def test_the_gateway_says_relay_lost_when_the_relay_is_killed(camera_factory, relay_factory,
                                                              loopback_ice) -> None:
    """kill -9 of the relay under a live view: the gateway's stream ends with relay-lost
    (the media, on UDP, just stops); the relay's refusal of an unknown session passes."""
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")})

    async def scenario() -> tuple[list[str], int, int]:
        whep = WhepClient(f"{relay.http}/whep/cam1", relay.token("cam1"))
        await whep.start()
        assert whep.location and await whep.wait_frames(10, 15) >= 10
        unknown = await pipe_events(f"{relay.http}/whep/cam1/{'0' * 32}/events")
        piped = await pipe_events(f"{whep.location}/events")
        assert isinstance(piped, StreamingResponse)
        events = _events(piped.body_iterator)
        seen = [await _next(events)]
        relay.proc.send_signal(signal.SIGKILL)
        seen.append(await _next(events))
        with pytest.raises(StopAsyncIteration):
            await _next(events)  # and then it ends
        with pytest.raises(HTTPException) as refused:
            await pipe_events(f"{whep.location}/events")
        await whep.pc.close()
        return seen, unknown.status_code, refused.value.status_code

    assert asyncio.run(scenario()) == (["open", "relay-lost"], 404, 502)
