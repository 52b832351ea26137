"""The gateway rides out a relay restart (hub.ui.relay_wait), on real sockets."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import websockets

from core.net import free_port
from hub.ui.relay_wait import reach

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(OK)
    await writer.drain()
    writer.close()


def test_a_refused_request_is_tried_again_until_the_relay_listens() -> None:
    async def run() -> tuple[int, int]:
        port, tries = free_port(), 0
        server: asyncio.Server | None = None

        async def attempt() -> httpx.Response:
            nonlocal tries, server
            tries += 1
            if tries == 3:  # the relay is back by the third try
                server = await asyncio.start_server(_answer, "127.0.0.1", port)
            async with httpx.AsyncClient() as client:
                return await client.post(f"http://127.0.0.1:{port}/whep/cam1", content=b"v=0")

        r = await reach(attempt, wait_s=10)
        assert server is not None
        server.close()
        return r.status_code, tries

    assert asyncio.run(run()) == (200, 3)


def test_a_relay_that_stays_down_is_given_up_on_after_the_wait() -> None:
    async def run() -> int:
        port, tries = free_port(), 0

        async def attempt() -> httpx.Response:
            nonlocal tries
            tries += 1
            async with httpx.AsyncClient() as client:
                return await client.get(f"http://127.0.0.1:{port}/healthz")

        with pytest.raises(httpx.ConnectError):
            await reach(attempt, wait_s=0.3)
        return tries

    assert asyncio.run(run()) >= 2


def test_a_websocket_refused_is_tried_again_and_a_failure_after_connecting_is_not() -> None:
    async def run() -> tuple[int, int]:
        port, tries = free_port(), 0
        server: asyncio.Server | None = None

        async def attempt() -> object:
            nonlocal tries, server
            tries += 1
            if tries == 2:  # listening now, but it is no WebSocket server
                server = await asyncio.start_server(_answer, "127.0.0.1", port)
            return await websockets.connect(f"ws://127.0.0.1:{port}/fmp4/cam1", open_timeout=5)

        with pytest.raises(websockets.InvalidStatus):
            await reach(attempt, wait_s=10)
        tries_then = tries
        assert server is not None
        server.close()
        return tries_then, tries

    assert asyncio.run(run()) == (2, 2)

