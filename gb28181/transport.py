"""SIP over UDP and TCP on one port (asyncio): inbound messages to a handler, outbound
requests matched to their responses (retransmitted on UDP, RFC 3261 timer A style).

A peer is ``Peer(transport, host, port)``; TCP replies go back on the connection the
request came on, and a request to a TCP peer without a connection opens one.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gb28181 import sip

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Peer:
    transport: str  #: "UDP" or "TCP"
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.transport.lower()}:{self.host}:{self.port}"


Handler = Callable[[sip.SipMessage, Peer], Awaitable[None]]
BadInput = Callable[[Peer, str], None]


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, endpoint: SipEndpoint) -> None:
        self.endpoint = endpoint

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.endpoint._inbound(data, Peer("UDP", addr[0], addr[1]))


class SipEndpoint:
    """One SIP listening point (UDP + TCP, same port) with client transactions."""

    def __init__(self, handler: Handler, on_bad: BadInput | None = None,
                 host: str = "127.0.0.1", port: int = 5060) -> None:
        self.handler, self.on_bad = handler, on_bad
        self.host, self.port = host, port
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp_server: asyncio.Server | None = None
        self._tcp: dict[tuple[str, int], asyncio.StreamWriter] = {}
        self._pending: dict[tuple[str, int], asyncio.Future[sip.SipMessage]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, udp: bool = True, tcp: bool = True) -> None:
        """Listen on ``port`` for UDP and TCP alike. Port 0: the port UDP is given, tried
        again with another while a TCP socket on this host already holds it."""
        any_port = self.port == 0
        for attempt in range(1, 6):
            try:
                return await self._listen(udp, tcp)
            except OSError as exc:
                if not (any_port and udp and tcp) or exc.errno != errno.EADDRINUSE or attempt == 5:
                    raise
                await self.close()
                self.port = 0

    async def _listen(self, udp: bool, tcp: bool) -> None:
        loop = asyncio.get_running_loop()
        if udp:
            self._udp, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=(self.host, self.port))
            self.port = self._udp.get_extra_info("sockname")[1]
        if tcp:
            self._tcp_server = await asyncio.start_server(self._serve_tcp, self.host, self.port)

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp_server is not None:
            self._tcp_server.close()
        for w in list(self._tcp.values()):
            w.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.sleep(0)  # the sockets close on the next loop turn: the port is free after

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                         ) -> None:
        addr = writer.get_extra_info("peername")
        await self._read_tcp(reader, writer, Peer("TCP", addr[0], addr[1]))

    async def _read_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        peer: Peer) -> None:
        self._tcp[(peer.host, peer.port)] = writer
        framer = sip.TcpFramer()
        try:
            while data := await reader.read(65536):
                try:
                    frames = framer.feed(data)
                except sip.SipError as exc:
                    self._bad(peer, str(exc))
                    break  # the stream cannot be resynchronised: drop the connection
                for frame in frames:
                    self._inbound(frame, peer)
        except (ConnectionError, OSError):
            pass
        finally:
            self._tcp.pop((peer.host, peer.port), None)
            writer.close()

    def _bad(self, peer: Peer, reason: str) -> None:
        log.warning("sip: bad input from %s: %s", peer, reason)
        if self.on_bad is not None:
            self.on_bad(peer, reason)

    def _inbound(self, data: bytes, peer: Peer) -> None:
        if not data.strip():
            return  # CRLF keepalive
        try:
            msg = sip.parse(data)
        except sip.SipError as exc:
            self._bad(peer, str(exc))
            return
        if not msg.is_request:
            fut = self._pending.get((msg.call_id, msg.cseq[0]))
            if fut is not None and not fut.done() and msg.status >= 200:
                fut.set_result(msg)
            return
        task = asyncio.ensure_future(self._handle(msg, peer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, msg: sip.SipMessage, peer: Peer) -> None:
        try:
            await self.handler(msg, peer)
        except Exception:  # one device's bad request must not stop the service
            log.exception("sip: handling %s from %s failed", msg.method, peer)
            if msg.method != "ACK":
                await self.send(sip.response(msg, 500, "Server Internal Error"), peer)

    async def send(self, msg: sip.SipMessage, peer: Peer) -> None:
        data = msg.encode()
        if peer.transport == "UDP":
            if self._udp is not None:
                self._udp.sendto(data, (peer.host, peer.port))
            return
        writer = self._tcp.get((peer.host, peer.port))
        if writer is None:
            reader, writer = await asyncio.open_connection(peer.host, peer.port)
            task = asyncio.ensure_future(self._read_tcp(reader, writer, peer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            self._tcp[(peer.host, peer.port)] = writer
        writer.write(data)
        await writer.drain()

    async def request(self, msg: sip.SipMessage, peer: Peer, timeout: float = 4.0
                      ) -> sip.SipMessage | None:
        """Send a request and wait for its final response (None on timeout)."""
        key = (msg.call_id, msg.cseq[0])
        fut: asyncio.Future[sip.SipMessage] = asyncio.get_running_loop().create_future()
        self._pending[key] = fut
        try:
            await self.send(msg, peer)
            interval, waited = 0.5, 0.0
            while waited < timeout:
                step = min(interval, timeout - waited)
                try:
                    return await asyncio.wait_for(asyncio.shield(fut), step)
                except TimeoutError:
                    waited += step
                    interval = min(interval * 2, 4.0)
                    if peer.transport == "UDP":
                        await self.send(msg, peer)  # retransmit (same branch: same txn)
            return None
        except (ConnectionError, OSError) as exc:
            log.info("sip: %s to %s failed: %s", msg.method, peer, exc)
            return None
        finally:
            self._pending.pop(key, None)
