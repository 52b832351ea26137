"""A simulated upper (superior) platform for cascade tests: the province's platform.

It is our own registrar (``gb28181.service.SipService``) over an in-memory directory that
knows one lower platform (this hub) and its password: it accepts REGISTER with digest,
answers keepalives (403 once it forgot us, e.g. after a restart), sends Catalog /
DeviceInfo / DeviceStatus queries after a REGISTER, INVITEs a channel to an RTP port of
its own (UDP, or TCP with RFC 4571 framing) and counts the packets and the video frames
demultiplexed from the PS. Real SIP on real sockets.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from gb28181.calls import Dialog
from gb28181.directory import DeviceRecord, Registration
from gb28181.manscdp import CatalogItem, read, text_of
from gb28181.service import ServiceSettings, SipService
from gb28181.sip import SipMessage
from gb28181.transport import Peer
from streams.gb28181.ps import PsDemuxer, PsError
from streams.gb28181.rtp import FrameAssembler, Rfc4571Reader

log = logging.getLogger(__name__)


@dataclass
class MemoryDirectory:
    """The ``Directory`` of a simulated upper: one lower platform, state in memory."""

    lower_id: str
    password: str
    regs: dict[str, Registration] = field(default_factory=dict)
    catalogs: list[list[CatalogItem]] = field(default_factory=list)  #: complete catalogs
    answers: dict[str, dict[str, object]] = field(default_factory=dict)  #: DeviceInfo, DeviceStatus
    refusals: list[str] = field(default_factory=list)
    alarms: list[bytes] = field(default_factory=list)  #: Alarm bodies (MESSAGE or NOTIFY)
    catalog_notes: list[CatalogItem] = field(default_factory=list)  #: catalog NOTIFY items
    register_count: int = 0

    async def device(self, device_id: str) -> DeviceRecord | None:
        if device_id != self.lower_id:
            return None
        return DeviceRecord(device_id, "province", "province", self.password)

    async def register(self, device_id: str, peer: Peer, expires_s: int, instance: str) -> bool:
        now = datetime.now(UTC)
        was = self.regs.get(device_id)
        self.regs[device_id] = Registration(device_id, peer, now + timedelta(seconds=expires_s),
                                            60, now, True)
        self.register_count += 1
        return was is None or not was.online

    async def unregister(self, device_id: str, reason: str) -> None:
        self.regs.pop(device_id, None)

    async def seen(self, device_id: str, peer: Peer) -> bool:
        reg = self.regs.get(device_id)
        if reg is not None:
            self.regs[device_id] = Registration(reg.device_id, peer, reg.expires_at,
                                                reg.keepalive_s, datetime.now(UTC), True)
        return reg is not None and not reg.online

    async def registration(self, device_id: str) -> Registration | None:
        return self.regs.get(device_id)

    async def online(self, instance: str | None = None) -> list[Registration]:
        return [r for r in self.regs.values() if r.online]

    async def offline(self, device_id: str, reason: str) -> None:
        self.regs.pop(device_id, None)

    async def catalog(self, device_id: str, items: list[CatalogItem], complete: bool) -> None:
        self.catalogs.append(items)

    async def catalog_events(self, device_id: str, items: list[CatalogItem]) -> None:
        self.catalog_notes.extend(items)

    async def details(self, device_id: str, kind: str, data: dict[str, object]) -> None:
        self.answers[kind] = data

    async def alarm(self, device_id: str, body: bytes) -> None:
        self.alarms.append(body)

    async def session_opened(self, call_id: str, device_id: str, channel_id: str, ssrc: str,
                             transport: str, peer: str, instance: str) -> None:
        return None

    async def session_closed(self, call_id: str, reason: str) -> None:
        return None

    async def refused(self, device_id: str, peer: Peer, reason: str) -> None:
        self.refusals.append(reason)


class MediaSink:
    """An RTP port of the upper: counts packets and PS video frames (UDP or TCP)."""

    def __init__(self, transport: str = "udp", host: str = "127.0.0.1") -> None:
        self.transport, self.host = transport, host
        self.packets = self.frames = self.keyframes = 0
        self.codecs: set[str] = set()
        self._asm, self._demux, self._framer = FrameAssembler(), PsDemuxer(), Rfc4571Reader()
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None
        self._server: asyncio.Server | None = None
        self.port = 0

    async def open(self) -> int:
        if self.transport == "udp":
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._sock.bind((self.host, 0))
            self._sock.setblocking(False)
            self.port = self._sock.getsockname()[1]
            self._task = asyncio.ensure_future(self._read_udp())
        elif self.transport == "tcp-passive":  # we listen; the lower connects
            self._server = await asyncio.start_server(self._read_tcp, self.host, 0)
            self.port = self._server.sockets[0].getsockname()[1]
        else:  # tcp-active: we connect once the answer names the lower's port
            self.port = 9  # what we announce; nobody connects to it
        return self.port

    async def connect(self, host: str, port: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        self._task = asyncio.ensure_future(self._read_tcp(reader, writer))

    def _take(self, packet: bytes) -> None:
        self.packets += 1
        for frame in self._asm.push(packet):
            try:
                out = self._demux.feed(frame)
            except PsError:
                continue
            if out is not None:
                self.frames += 1
                self.keyframes += out.keyframe
                self.codecs.add(out.codec)

    async def _read_udp(self) -> None:
        assert self._sock is not None
        loop = asyncio.get_running_loop()
        while True:
            self._take(await loop.sock_recv(self._sock, 65536))

    async def _read_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                        ) -> None:
        try:
            while data := await reader.read(65536):
                for packet in self._framer.feed(data):
                    self._take(packet)
        finally:
            writer.close()

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._sock is not None:
            self._sock.close()
        if self._server is not None:
            self._server.close()


class UpperSim:
    """The simulated province platform: a registrar plus media sinks for its INVITEs."""

    def __init__(self, upper_id: str, domain: str, lower_id: str, password: str,
                 host: str = "127.0.0.1", port: int = 0, keepalive_s: int = 60) -> None:
        self.directory = MemoryDirectory(lower_id, password)
        self.service = SipService(
            ServiceSettings(upper_id, domain, host=host, port=port, keepalive_s=keepalive_s),
            self.directory)
        self.lower_id = lower_id

    @property
    def port(self) -> int:
        return self.service.s.port

    def ignore_catalog_pages(self, count: int) -> None:
        """Leave the next ``count`` Catalog response MESSAGEs unanswered, as a busy
        province platform does (the lower must send them again)."""
        handle, left = self.service.handle, [count]

        async def deaf(msg: SipMessage, peer: Peer) -> None:
            if left[0] > 0 and msg.method == "MESSAGE" and b"<CmdType>Catalog<" in msg.body \
                    and b"<Response>" in msg.body:
                left[0] -= 1
                return
            await handle(msg, peer)
        self.service.endpoint.handler = deaf

    async def start(self) -> None:
        await self.service.start()

    async def close(self) -> None:
        await self.service.close()

    async def catalog(self) -> bool:
        return await self.service.query(self.lower_id, "Catalog")

    async def play(self, channel_id: str, transport: str = "udp",
                   window: tuple[int, int] | None = None) -> tuple[Dialog, MediaSink]:
        """INVITE ``channel_id`` (live, or its recording in ``window``: Playback) to a new
        media sink (InviteError when refused)."""
        sink = MediaSink(transport)
        port = await sink.open()
        try:
            dialog = await self.service.calls.invite(self.lower_id, channel_id, sink.host, port,
                                               transport, window)
        except Exception:
            sink.close()
            raise
        if transport == "tcp-active":
            await sink.connect(dialog.answer.host, dialog.answer.port)
        return dialog, sink

    async def subscribe(self, cmd: str, expires: int = 3600, extra: str = "",
                        call_id: str | None = None) -> tuple[int, str]:
        """SUBSCRIBE to the lower platform's Catalog or Alarm: (status, call-id)."""
        return await self.service.subscribe(self.lower_id, cmd, expires, extra, call_id)

    async def steer(self, dialog: Dialog, body: bytes) -> int:
        """MANSRTSP (``gb28181.mansrtsp``) in a playback call: the lower's final status."""
        return await self.service.calls.info(dialog.call_id, body)

    async def stop(self, dialog: Dialog) -> bool:
        return await self.service.calls.bye(dialog.call_id, "upper stopped watching")


def run_cli(args: argparse.Namespace) -> int:
    """``cityhub simulate gb28181-upper``: accept the hub's cascade, list its catalog."""
    password = args.password or os.environ.get("CITYHUB_GB_PASSWORD", "")
    host, _, port = args.listen.rpartition(":")

    async def main() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        sim = UpperSim(args.upper_id, args.upper_id[:10], args.lower_id, password,
                       host or "127.0.0.1", int(port or 5062))
        await sim.start()
        print(f"gb28181-upper {args.upper_id}: listening on {sim.service.s.host}:{sim.port}",
              flush=True)
        seen = alarms = 0
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass
            for items in sim.directory.catalogs[seen:]:
                print(f"catalog: {len(items)} channels: "
                      + ", ".join(f"{it.id} {it.name}" for it in items), flush=True)
            seen = len(sim.directory.catalogs)
            for body in sim.directory.alarms[alarms:]:
                doc = read(body)
                print(f"alarm: {doc.device_id} {text_of(doc, 'AlarmDescription') or ''}",
                      flush=True)
            alarms = len(sim.directory.alarms)
        await sim.close()

    asyncio.run(main())
    return 0
