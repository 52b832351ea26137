"""Drives one paho client from an asyncio event loop, with no network thread.

paho's socket callbacks register its socket with the loop (the way Home Assistant drives
paho): reads and writes happen when the socket is ready, and a small task runs paho's
keep-alive. paho calls some of them from the thread that connects (an executor), so every
change to the loop is handed to the loop's own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho


class LoopDriver:
    """Registers a paho client's socket with the loop ``bind()`` was called in."""

    def __init__(self, client: paho.Client) -> None:
        self.paho = client
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread = 0
        self._sock: Any = None
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write

    def bind(self) -> asyncio.AbstractEventLoop:
        """Called in the loop that is to drive the client (``connect()``)."""
        self.loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        return self.loop

    @property
    def running(self) -> asyncio.AbstractEventLoop:
        """The bound loop: paho opens sockets only while connected, so it is set."""
        if self.loop is None:
            raise RuntimeError("MQTT client not connected")
        return self.loop

    def call(self, fn: Callable[[], None]) -> None:
        """``fn()`` in the loop's thread: now when already there, else soon."""
        if threading.get_ident() == self._thread:
            fn()
        else:
            self.running.call_soon_threadsafe(fn)

    async def keep_alive(self) -> None:
        """paho's timers (PINGREQ, retries), once a second, until cancelled."""
        while True:
            await asyncio.sleep(1.0)
            self.paho.loop_misc()

    def release(self) -> None:
        """The loop stops watching the current socket (the client is closing)."""
        self._on_socket_close(self.paho, None, self._sock)

    def _on_socket_open(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self._sock = sock
        self.call(lambda: self.running.add_reader(sock, self._readable))

    def _on_socket_close(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        if sock is None or self.loop is None:
            return

        def drop() -> None:
            with contextlib.suppress(Exception):
                self.running.remove_reader(sock)
                self.running.remove_writer(sock)

        self.call(drop)

    def _on_register_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        self.call(lambda: self.running.add_writer(sock, self._writable))

    def _on_unregister_write(self, client: paho.Client, userdata: Any, sock: Any) -> None:
        def drop() -> None:
            with contextlib.suppress(Exception):
                self.running.remove_writer(sock)

        self.call(drop)

    def _readable(self) -> None:
        self.paho.loop_read(max_packets=100)

    def _writable(self) -> None:
        self.paho.loop_write()
