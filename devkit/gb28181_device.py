"""A simulated GB/T 28181 device (IPC or NVR): registers with digest, keeps alive,
answers Catalog / DeviceInfo / DeviceStatus queries (the catalog split over several
MESSAGEs, names in GB2312), sends alarms, live video, and its recordings (Playback /
Download with MANSRTSP control: ``gb28181_playback``). Real SIP on real sockets."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import gi

from adapters.xmlsafe import child, text
from core import digest
from devkit.gb28181_playback import RecordedPlay
from devkit.synthetic import CameraSpec
from devkit.synthetic_clip import encode_clip, read_access_units
from gb28181 import devctl, manscdp, mansrtsp, sdp, sip
from gb28181.transport import Peer, SipEndpoint
from streams.gb28181.sender import PsRtpSender

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

log = logging.getLogger(__name__)


def channel_ids(device_id: str, n: int) -> list[str]:
    """Channel IDs under a device: same centre code, type 131 (camera), serial 1..n."""
    return [f"{device_id[:10]}131{int(device_id[13:]) % 10**4:04d}{i:03d}" for i in range(1, n + 1)]


@dataclass
class DeviceSim:
    device_id: str
    password: str
    server: Peer  #: the platform's SIP address
    server_id: str
    domain: str
    channels: list[manscdp.CatalogItem] = field(default_factory=list)
    expires: int = 3600
    keepalive_s: float = 60.0
    per_page: int = 2
    host: str = "127.0.0.1"
    port: int = 0
    units: list[bytes] = field(default_factory=list)  #: access units looped as live video
    codec: str = "h264"
    fps: int = 25

    def __post_init__(self) -> None:
        self.endpoint = SipEndpoint(self._handle, host=self.host, port=self.port)
        self.tag = sip.new_tag()
        self.call_id = secrets.token_hex(10)
        self.cseq = 0
        self.registered = asyncio.Event()
        self.last_status: int | None = None
        self.queries: list[str] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.keepalives_sent = 0
        self.streams: dict[str, asyncio.Task[None]] = {}  #: call-id -> media task
        self._offers: dict[str, tuple[sdp.MediaOffer, asyncio.Future[PsRtpSender]]] = {}
        #: call-id -> (the INVITE, our To tag, the platform's address): for our own BYE
        self.calls: dict[str, tuple[sip.SipMessage, str, Peer]] = {}
        self.plays: dict[str, RecordedPlay] = {}  #: call-id -> a recording being played
        self.byes_sent: list[str] = []  #: calls we ended (end of the recording)
        self.sent_frames = 0
        self.ptz: list[devctl.PtzInstruction] = []  #: PTZCmd instructions received
        self.position = (0.0, 0.0, 1.0)  #: pan, tilt (degrees), zoom (times)
        self.recording: dict[str, tuple[bool, int]] = {}  #: channel -> (on, stream number)
        now = time.time()  #: its recordings (same for every channel): the last three hours
        self.records = [(now - 3 * 3600, now - 2 * 3600), (now - 2 * 3600 + 60, now - 3600),
                        (now - 3000, now - 600)]

    @property
    def uri(self) -> str:
        return f"sip:{self.device_id}@{self.domain}"

    async def start(self) -> None:
        await self.endpoint.start(udp=self.server.transport == "UDP",
                                  tcp=self.server.transport == "TCP")
        self.port = self.endpoint.port

    async def close(self) -> None:
        for t in [*self._tasks, *self.streams.values()]:
            t.cancel()
        await self.endpoint.close()

    def _request(self, method: str, body: bytes = b"", **kw: Any) -> sip.SipMessage:
        self.cseq += 1
        return sip.request(
            method, f"sip:{self.server_id}@{self.domain}", via_host=self.host,
            via_port=self.port, transport=self.server.transport, from_uri=self.uri,
            from_tag=self.tag, to_uri=(self.uri if method == "REGISTER"
                                       else f"sip:{self.server_id}@{self.domain}"),
            call_id=self.call_id if method == "REGISTER" else secrets.token_hex(10),
            cseq=self.cseq, body=body,
            content_type=manscdp.CONTENT_TYPE if body else None, **kw)

    async def register(self, expires: int | None = None, password: str | None = None) -> int:
        """REGISTER (answering the 401); returns the final status (0 on no answer)."""
        exp = self.expires if expires is None else expires
        contact = [("contact", f"<sip:{self.device_id}@{self.host}:{self.port}>"),
                   ("expires", str(exp))]
        reply = await self.endpoint.request(self._request("REGISTER", extra=contact), self.server)
        if reply is not None and reply.status == 401:
            auth = digest.authorization(reply.get("www-authenticate") or "", "REGISTER",
                                        f"sip:{self.server_id}@{self.domain}", self.device_id,
                                        self.password if password is None else password)
            msg = self._request("REGISTER", extra=[*contact, ("authorization", auth)])
            reply = await self.endpoint.request(msg, self.server)
        self.last_status = reply.status if reply else 0
        if self.last_status == 200 and exp > 0:
            self.registered.set()
        else:
            self.registered.clear()
        return self.last_status

    async def keepalive(self) -> int:
        body = manscdp.notify("Keepalive", self.cseq, self.device_id, "<Status>OK</Status>\r\n")
        reply = await self.endpoint.request(self._request("MESSAGE", body), self.server)
        self.keepalives_sent += 1
        return reply.status if reply else 0

    def run_keepalive(self) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(self.keepalive_s)
                if await self.keepalive() == 403:  # the platform forgot us: register again
                    await self.register()
        self._tasks.append(asyncio.ensure_future(loop()))

    async def alarm(self, channel: str, method: int = 5, alarm_type: int = 2,
                    priority: int = 1, description: str = "移动侦测报警") -> int:
        now = datetime.now().replace(microsecond=0).isoformat()
        extra = (f"<AlarmPriority>{priority}</AlarmPriority>\r\n<AlarmMethod>{method}"
                 f"</AlarmMethod>\r\n<AlarmTime>{now}</AlarmTime>\r\n<AlarmDescription>"
                 f"{description}</AlarmDescription>\r\n<Info><AlarmType>{alarm_type}"
                 "</AlarmType></Info>\r\n")
        body = manscdp.notify("Alarm", self.cseq, channel, extra)
        reply = await self.endpoint.request(self._request("MESSAGE", body), self.server)
        return reply.status if reply else 0

    async def send_body(self, body: bytes) -> int:
        reply = await self.endpoint.request(self._request("MESSAGE", body), self.server)
        return reply.status if reply else 0

    async def _handle(self, msg: sip.SipMessage, peer: Peer) -> None:
        if msg.method in ("INVITE", "ACK", "BYE"):
            await self._call(msg, peer)
            return
        if msg.method == "INFO":
            await self._info(msg, peer)
            return
        if msg.method != "MESSAGE":
            await self.endpoint.send(sip.response(msg, 405, "Method Not Allowed"), peer)
            return
        doc = manscdp.read(msg.body)
        await self.endpoint.send(sip.response(msg, 200, "OK"), peer)
        self.queries.append(doc.cmd)
        if doc.root == "Control":
            await self._control(doc)
        elif doc.cmd == "PTZPosition":
            pan, tilt, zoom = self.position
            await self.send_body(manscdp.response("PTZPosition", doc.sn, doc.device_id,
                f"<Pan>{pan:.2f}</Pan>\r\n<Tilt>{tilt:.2f}</Tilt>\r\n<Zoom>{zoom:.2f}</Zoom>\r\n"))
        elif doc.cmd == "RecordInfo":
            await self._record_info(doc)
        elif doc.cmd == "Catalog":
            for page in manscdp.catalog_pages(doc.sn, self.device_id, self.channels,
                                              self.per_page):
                await self.send_body(page)
        elif doc.cmd == "DeviceInfo":
            await self.send_body(manscdp.response("DeviceInfo", doc.sn, self.device_id,
                "<Result>OK</Result>\r\n<DeviceName>模拟设备</DeviceName>\r\n"
                "<Manufacturer>cityhub</Manufacturer>\r\n<Model>SIM-1</Model>\r\n"
                f"<Firmware>1.0</Firmware>\r\n<Channel>{len(self.channels)}</Channel>\r\n"))
        elif doc.cmd == "DeviceStatus":
            await self.send_body(manscdp.response("DeviceStatus", doc.sn, self.device_id,
                "<Result>OK</Result>\r\n<Online>ONLINE</Online>\r\n<Status>OK</Status>\r\n"
                "<Encode>ON</Encode>\r\n<Record>OFF</Record>\r\n"))


    async def _record_info(self, doc: manscdp.Doc, zone: str = "Asia/Shanghai") -> None:
        """Its recordings in the asked window, two per MESSAGE (as NVRs page them)."""
        start = devctl.unix_time(manscdp.text_of(doc, "StartTime"), zone) or 0.0
        end = devctl.unix_time(manscdp.text_of(doc, "EndTime"), zone) or time.time()
        found = [(a, b) for a, b in self.records if b > start and a < end]
        items = [f"<Item><DeviceID>{doc.device_id}</DeviceID><Name>录像{i}</Name>"
                 f"<StartTime>{devctl.local_time(a, zone)}</StartTime>"
                 f"<EndTime>{devctl.local_time(b, zone)}</EndTime><Secrecy>0</Secrecy>"
                 "<Type>time</Type></Item>\r\n" for i, (a, b) in enumerate(found, 1)]
        for i in range(0, max(len(items), 1), 2):
            page = items[i:i + 2]
            await self.send_body(manscdp.response(
                "RecordInfo", doc.sn, doc.device_id, f"<SumNum>{len(items)}</SumNum>\r\n"
                f'<RecordList Num="{len(page)}">\r\n{"".join(page)}</RecordList>\r\n'))

    async def _control(self, doc: manscdp.Doc) -> None:
        """DeviceControl: PTZCmd (kept, decoded), PTZPreciseCtrl (moves there), RecordCmd."""
        if cmd := manscdp.text_of(doc, "PTZCmd"):
            self.ptz.append(devctl.decode(cmd))
        if (precise := child(doc.el, "PTZPreciseCtrl")) is not None:
            pan, tilt, zoom = (float(text(precise, k) or d)
                               for k, d in (("Pan", 0), ("Tilt", 0), ("Zoom", 1)))
            self.position = (pan, tilt, zoom)
        if rec := manscdp.text_of(doc, "RecordCmd"):
            stream = int(manscdp.text_of(doc, "StreamNumber") or 0)
            self.recording[doc.device_id] = (rec == "Record", stream)
            await self.send_body(manscdp.response("DeviceControl", doc.sn, doc.device_id,
                                                  "<Result>OK</Result>\r\n"))

    # -- live video ---------------------------------------------------------------

    async def _call(self, msg: sip.SipMessage, peer: Peer) -> None:
        if msg.method == "INVITE":
            await self._invited(msg, peer)
        elif msg.method == "ACK" and msg.call_id in self._offers:
            offer, ready = self._offers.pop(msg.call_id)
            self.streams[msg.call_id] = asyncio.ensure_future(
                self._media(offer, ready, msg.call_id))
        elif msg.method == "BYE":
            await self.endpoint.send(sip.response(msg, 200, "OK"), peer)
            self.calls.pop(msg.call_id, None)
            task = self.streams.pop(msg.call_id, None)
            if task is not None:
                task.cancel()

    async def _info(self, msg: sip.SipMessage, peer: Peer) -> None:
        """MANSRTSP in a playback call: 200 when applied, 481 for no such call."""
        play = self.plays.get(msg.call_id)
        if play is None:
            await self.endpoint.send(sip.response(msg, 481, "Call Does Not Exist"), peer)
            return
        try:
            play.control(mansrtsp.parse(msg.body))
        except mansrtsp.MansrtspError:
            await self.endpoint.send(sip.response(msg, 400, "Bad Request"), peer)
            return
        await self.endpoint.send(sip.response(msg, 200, "OK"), peer)

    def _recorded(self, offer: sdp.MediaOffer) -> RecordedPlay | None:
        """A Playback / Download offer's window as a RecordedPlay (None: live)."""
        if offer.session not in ("Playback", "Download"):
            return None
        speed = next((float(x.split(":", 1)[1]) for x in offer.extra
                      if x.startswith("a=downloadspeed:")), 1.0)
        return RecordedPlay(self.units, self.codec, self.fps, *offer.times,
                            scale=speed if offer.session == "Download" else 1.0)

    async def _end_of_file(self, call_id: str) -> None:
        """MediaStatus 121 in the call, then BYE (both in the INVITE's dialog)."""
        call = self.calls.pop(call_id, None)
        if call is None:
            return
        invite, tag, peer = call
        channel = invite.user_of("to")
        for method, body in (("MESSAGE", manscdp.notify("MediaStatus", 1, channel,
                                                         "<NotifyType>121</NotifyType>\r\n")),
                             ("BYE", b"")):
            self.cseq += 1
            out = sip.request(
                method, f"sip:{self.server_id}@{peer.host}:{peer.port}", via_host=self.host,
                via_port=self.endpoint.port, transport=peer.transport,
                from_uri=f"sip:{channel}@{self.domain}", from_tag=tag,
                to_uri=f"sip:{self.server_id}@{self.domain}", to_tag=invite.tag_of("from"),
                call_id=call_id, cseq=self.cseq, body=body,
                content_type=manscdp.CONTENT_TYPE if body else None)
            await self.endpoint.request(out, peer)
        self.byes_sent.append(call_id)
        self.streams.pop(call_id, None)

    async def _invited(self, msg: sip.SipMessage, peer: Peer) -> None:
        offer = sdp.parse(msg.body)
        if not self.units:
            await self.endpoint.send(sip.response(msg, 488, "Not Acceptable Here"), peer)
            return
        await self.endpoint.send(sip.response(msg, 100, "Trying"), peer)
        ready: asyncio.Future[PsRtpSender] = asyncio.get_running_loop().create_future()
        port = 15060
        if offer.transport == "tcp-active":  # the platform connects to us
            async def accepted(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
                sender = PsRtpSender(int(offer.ssrc or "0"), self.codec)
                sender.tcp_accepted(w)
                if not ready.done():
                    ready.set_result(sender)
            server = await asyncio.start_server(accepted, self.host, 0)
            port = server.sockets[0].getsockname()[1]
        answer = sdp.MediaOffer(
            host=self.host, port=port, ssrc=offer.ssrc, owner=self.device_id,
            direction="sendonly", payloads={96: "PS/90000"},
            transport={"tcp-active": "tcp-passive", "tcp-passive": "tcp-active"}.get(
                offer.transport, "udp"))
        self._offers[msg.call_id] = (offer, ready)
        tag = sip.new_tag()
        self.calls[msg.call_id] = (msg, tag, peer)
        if (play := self._recorded(offer)) is not None:
            self.plays[msg.call_id] = play
            answer.session, answer.times, answer.uri = offer.session, offer.times, offer.uri
        out = sip.response(msg, 200, "OK", sdp.build(answer), "APPLICATION/SDP", tag)
        out.headers.append(("contact", f"<sip:{self.device_id}@{self.host}:{self.port}>"))
        await self.endpoint.send(out, peer)

    async def _media(self, offer: sdp.MediaOffer, ready: asyncio.Future[PsRtpSender],
                     call_id: str = "") -> None:
        ssrc = int(offer.ssrc or "0")
        if offer.transport == "udp":
            sender = PsRtpSender(ssrc, self.codec)
            sender.udp(offer.host, offer.port)
        elif offer.transport == "tcp-passive":  # the platform listens: we connect
            sender = PsRtpSender(ssrc, self.codec)
            await sender.tcp_connect(offer.host, offer.port)
        else:
            sender = await ready
        if (play := self.plays.get(call_id)) is not None:
            try:
                await play.run(sender, lambda: self._end_of_file(call_id))
            except (ConnectionError, OSError) as exc:
                log.info("sim %s: playback ended: %s", self.device_id, exc)
            finally:
                sender.close()
            return
        try:
            loop = asyncio.get_running_loop()
            # Like a real camera, the stream starts wherever the encoder is in its GOP.
            first = int(time.time() * self.fps) % len(self.units)
            start, i = loop.time(), 0
            while True:
                au = self.units[(first + i) % len(self.units)]
                await sender.send(au, (i * 90000 // self.fps) & 0xFFFFFFFF)
                self.sent_frames += 1
                i += 1
                await asyncio.sleep(max(0.0, start + i / self.fps - loop.time()))
        except (ConnectionError, OSError) as exc:
            log.info("sim %s: media ended: %s", self.device_id, exc)
        finally:
            sender.close()


def make_channels(device_id: str, n: int, lat: float = 30.66, lon: float = 104.06
                  ) -> list[manscdp.CatalogItem]:
    return [manscdp.CatalogItem(id=cid, name=f"模拟通道{i}", status="ON",
                                civil_code=device_id[:6], parent=device_id,
                                manufacturer="cityhub", model="SIM-1",
                                lat=lat + i * 0.001, lon=lon + i * 0.001)
            for i, cid in enumerate(channel_ids(device_id, n), start=1)]



def run_cli(args: argparse.Namespace) -> int:
    """``cityhub simulate gb28181-device``: register, keep alive, answer, stream until killed."""
    Gst.init(None)
    host, _, port = args.server.rpartition(":")
    password = args.password or os.environ.get("CITYHUB_GB_PASSWORD", "")
    spec = CameraSpec(name=f"gb-{args.device_id[-6:]}", codec=args.codec)
    units = read_access_units(encode_clip(spec), args.codec)

    async def main() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        sim = DeviceSim(args.device_id, password,
                        Peer(args.sip_transport.upper(), host or "127.0.0.1", int(port)),
                        args.platform_id, args.platform_id[:10],
                        channels=make_channels(args.device_id, args.channels),
                        keepalive_s=args.keepalive, units=units, codec=args.codec, fps=spec.fps)
        await sim.start()
        while (status := await sim.register()) != 200 and not stop.is_set():
            log.warning("gb28181-device %s: REGISTER answered %s; retrying", args.device_id,
                        status)
            await asyncio.sleep(5)
        if status == 200:
            print(f"gb28181-device {args.device_id}: registered", flush=True)
        sim.run_keepalive()
        await stop.wait()
        await sim.register(expires=0)
        await sim.close()

    asyncio.run(main())
    return 0
