"""Cascade to an upper (superior) platform: this hub as a lower platform of the province.

One ``CascadeClient`` per upper platform: REGISTER with digest (401 -> Authorization),
re-REGISTER before expiry, Keepalive MESSAGE every interval, register again after
``max_missed`` unanswered keepalives or a 403; answer the upper's Catalog / DeviceInfo /
DeviceStatus queries with the channels shared to it, and its INVITE for a shared channel
by having a ``MediaPusher`` (the relay) send the camera as PS over RTP; BYE stops it.
What is shared, the audit log and state live behind ``CascadeDirectory`` (the store).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from core import digest
from gb28181 import manscdp, sip
from gb28181.cascade_events import UpwardEvents
from gb28181.cascade_media import MediaPusher, PushError, UpwardMedia
from gb28181.transport import Peer, SipEndpoint
from gb28181.upward import SharedChannel, UpwardAlarm, record_info_pages, record_window

__all__ = ["CascadeClient", "CascadeDirectory", "SharedChannel", "UpperSettings", "UpwardAlarm"]

log = logging.getLogger(__name__)


@dataclass
class UpperSettings:
    upper_id: str  #: the upper platform's SIP server ID
    domain: str  #: its SIP domain
    host: str
    port: int
    local_id: str  #: our ID as the upper knows it
    username: str
    password: str = field(repr=False)  #: unsealed for the digest answer only; never logged
    transport: str = "udp"  #: udp / tcp (signalling)
    expires_s: int = 3600
    keepalive_s: float = 60.0
    max_missed: int = 3
    local_host: str = "127.0.0.1"  #: our SIP address for this cascade
    local_port: int = 0
    media_host: str = "127.0.0.1"  #: the address our SDP answer announces
    retry_s: float = 5.0  #: between failed REGISTERs
    catalog_retry_s: float = 2.0  #: first pause before a catalog page is sent again
    message_timeout_s: float = 4.0  #: how long a MESSAGE to the upper waits for its answer
    per_page: int = 4  #: catalog items per MESSAGE
    name: str = "cityhub"
    zone: str = "Asia/Shanghai"  #: the city's zone (AlarmTime is local time)
    events_poll_s: float = 1.0  #: how often shared-channel changes and alarms are looked for


class CascadeDirectory(Protocol):
    async def shared(self, upper_id: str) -> list[SharedChannel]: ...

    async def shared_channel(self, upper_id: str, channel_id: str) -> SharedChannel | None: ...

    async def audit(self, upper_id: str, action: str, channel: SharedChannel | None,
                    detail: dict[str, object]) -> None: ...

    async def state(self, upper_id: str, **fields: object) -> None: ...

    async def alarms_since(self, upper_id: str, since: datetime | None
                           ) -> tuple[list[UpwardAlarm], datetime]:
        """Events of shared cameras received after ``since`` (oldest first) and the newest
        ``received_at`` among them; ``since`` None: none, and the store's time now."""


class CascadeClient:
    def __init__(self, settings: UpperSettings, directory: CascadeDirectory,
                 pusher: MediaPusher) -> None:
        self.s, self.dir, self.pusher = settings, directory, pusher
        self.endpoint = SipEndpoint(self.handle, self._bad, settings.local_host,
                                    settings.local_port)
        self.upper = Peer(settings.transport.upper(), settings.host, settings.port)
        self.registered = asyncio.Event()
        self.registrations = 0  #: successful REGISTERs (refreshes included)
        self.granted = settings.expires_s  #: the Expires the upper granted
        self.bad_inputs = 0
        self._tag, self._call_id, self._cseq = sip.new_tag(), secrets.token_hex(10), 0
        self._task: asyncio.Task[None] | None = None
        self._catalog: asyncio.Task[int] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._other_id_logged = False
        self._sn = secrets.randbelow(10**5)
        self.events = UpwardEvents(self)
        self.media = UpwardMedia(self)

    @property
    def uri(self) -> str:
        return f"sip:{self.s.local_id}@{self.s.local_id[:10]}"

    @property
    def upper_uri(self) -> str:
        return f"sip:{self.s.upper_id}@{self.s.domain}"

    async def start(self) -> None:
        await self.endpoint.start(udp=self.upper.transport == "UDP", tcp=True)
        self.s.local_port = self.endpoint.port
        self._task = asyncio.ensure_future(self._run())
        self.spawn(self.events.run(self.s.events_poll_s))
        log.info("cascade %s: %s:%d (%s) as %s from port %d", self.s.upper_id, self.s.host,
                 self.s.port, self.s.transport, self.s.local_id, self.s.local_port)

    async def close(self, unregister: bool = True) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.media.close()
        if unregister and self.registered.is_set():
            await self.register(expires=0)
        for t in list(self._tasks):
            t.cancel()
        await self.endpoint.close()

    def _bad(self, peer: Peer, reason: str) -> None:
        self.bad_inputs += 1

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- registration and keepalive ------------------------------------------------

    def _request(self, method: str, body: bytes = b"", extra: list[tuple[str, str]] | None = None
                 ) -> sip.SipMessage:
        self._cseq += 1
        register = method == "REGISTER"
        return sip.request(
            method, self.upper_uri, via_host=self.s.local_host, via_port=self.s.local_port,
            transport=self.upper.transport, from_uri=self.uri, from_tag=self._tag,
            to_uri=self.uri if register else self.upper_uri,
            call_id=self._call_id if register else secrets.token_hex(10), cseq=self._cseq,
            body=body, content_type=manscdp.CONTENT_TYPE if body else None, extra=extra)

    async def register(self, expires: int | None = None) -> int:
        """REGISTER, answering a 401/407 challenge; the final status (0: no answer)."""
        exp = self.s.expires_s if expires is None else expires
        head = [("contact", f"<sip:{self.s.local_id}@{self.s.local_host}:{self.s.local_port}>"),
                ("expires", str(exp))]
        reply = await self.endpoint.request(self._request("REGISTER", extra=head), self.upper)
        if reply is not None and reply.status in (401, 407):
            challenge = reply.get("www-authenticate") or reply.get("proxy-authenticate") or ""
            auth = digest.authorization(challenge, "REGISTER", self.upper_uri, self.s.username,
                                        self.s.password)
            name = "authorization" if reply.status == 401 else "proxy-authorization"
            reply = await self.endpoint.request(
                self._request("REGISTER", extra=[*head, (name, auth)]), self.upper)
        status = reply.status if reply is not None else 0
        if status == 200 and exp > 0:
            self.registered.set()
            self.registrations += 1
            await self.dir.state(self.s.upper_id, registered=True, last_error=None)
            log.info("cascade %s: registered for %d s", self.s.upper_id, exp)
            self.granted = sip.expires_of(reply, exp) if reply is not None else exp
        else:
            self.registered.clear()
            why = "unregistered" if exp == 0 else f"REGISTER answered {status or 'nothing'}"
            await self.dir.state(self.s.upper_id, registered=False, last_error=why)
            if exp:
                log.warning("cascade %s: %s", self.s.upper_id, why)
        return status

    async def keepalive(self) -> int:
        body = manscdp.notify("Keepalive", self._cseq, self.s.local_id, "<Status>OK</Status>\r\n")
        reply = await self.endpoint.request(self._request("MESSAGE", body), self.upper,
                                            timeout=min(4.0, self.s.keepalive_s))
        return reply.status if reply is not None else 0

    async def _run(self) -> None:
        while True:
            try:
                if await self.register() != 200:
                    await asyncio.sleep(self.s.retry_s)
                    continue
                why = await self._keep()
            except (OSError, sip.SipError) as exc:  # the upper unreachable: try again later
                why = str(exc)
                self.registered.clear()
                await asyncio.sleep(self.s.retry_s)
            log.info("cascade %s: registering again: %s", self.s.upper_id, why)

    async def _keep(self) -> str:
        """Keep alive until a re-REGISTER is due; returns why."""
        loop = asyncio.get_running_loop()
        refresh_at = loop.time() + max(1.0, self.granted * 0.8)
        missed = 0
        while True:
            await asyncio.sleep(max(0.0, min(self.s.keepalive_s, refresh_at - loop.time())))
            if loop.time() >= refresh_at:
                return "registration refresh"
            status = await self.keepalive()
            if status == 200:
                missed = 0
                await self.dir.state(self.s.upper_id, last_keepalive_at=time.time())
            elif status in (401, 403, 404):
                return f"keepalive answered {status}"
            else:
                missed += 1
                if missed >= self.s.max_missed:
                    return f"{missed} keepalives unanswered"
            await self.media.recheck()

    # -- requests from the upper ------------------------------------------------------

    def _from_upper(self, msg: sip.SipMessage, peer: Peer) -> bool:
        if msg.user_of("from") == self.s.upper_id:
            return True
        if peer.host == self.s.host:  # quirk: an upper announcing another platform ID
            if not self._other_id_logged:
                log.warning("cascade %s: the upper calls itself %r", self.s.upper_id,
                            msg.user_of("from")[:32])
                self._other_id_logged = True
            return True
        return False

    async def handle(self, msg: sip.SipMessage, peer: Peer) -> None:
        if msg.method == "ACK":
            return
        if not self._from_upper(msg, peer):
            await self.endpoint.send(sip.response(msg, 403, "Forbidden"), peer)
            return
        if msg.method == "MESSAGE":
            await self._message(msg, peer)
        elif msg.method == "INVITE":
            await self.media.invite(msg, peer)
        elif msg.method == "BYE":
            await self.media.bye(msg, peer)
        elif msg.method == "INFO":
            await self.media.info(msg, peer)
        elif msg.method == "SUBSCRIBE":
            await self.events.subscribe(msg, peer)
        elif msg.method == "OPTIONS":
            await self.endpoint.send(sip.response(msg, 200, "OK"), peer)
        else:
            await self.endpoint.send(sip.response(msg, 405, "Method Not Allowed"), peer)

    def next_sn(self) -> int:
        self._sn = (self._sn + 1) % 10**9
        return self._sn

    async def send_message(self, body: bytes) -> bool:
        """A MESSAGE to the upper (3 attempts); True when it answered 200."""
        return await self._send(body)

    def item_of(self, c: SharedChannel) -> manscdp.CatalogItem:
        """A shared channel as the upper's catalog lists it (under us)."""
        return manscdp.CatalogItem(
            id=c.channel_id, name=c.name, status=c.status, parent=self.s.local_id,
            civil_code=c.civil_code or self.s.local_id[:6], manufacturer=c.manufacturer or
            "cityhub", model=c.model or "cityhub", lat=c.lat, lon=c.lon)

    async def _message(self, msg: sip.SipMessage, peer: Peer) -> None:
        try:
            doc = manscdp.read(msg.body)
        except manscdp.BodyError as exc:
            self.bad_inputs += 1
            log.warning("cascade %s: unreadable MESSAGE body: %s", self.s.upper_id, exc)
            await self.endpoint.send(sip.response(msg, 400, "Bad Request"), peer)
            return
        await self.endpoint.send(sip.response(msg, 200, "OK"), peer)
        if doc.root != "Query":
            return
        if doc.cmd == "Catalog":
            self._answer_catalog(doc.sn)
        elif doc.cmd == "RecordInfo":
            self.spawn(self.send_record_info(doc))
        elif doc.cmd in ("DeviceInfo", "DeviceStatus"):
            self.spawn(self._send_details(doc))
        else:
            log.info("cascade %s: query %s not answered", self.s.upper_id, doc.cmd[:32])

    async def _send(self, body: bytes, attempts: int = 3) -> bool:
        for _ in range(attempts):
            reply = await self.endpoint.request(self._request("MESSAGE", body), self.upper,
                                                timeout=self.s.message_timeout_s)
            if reply is not None and reply.status == 200:
                return True
        return False

    async def send_catalog(self, sn: int) -> int:
        """The shared channels as Catalog pages (SumNum); returns the items delivered.

        A page the upper does not take is sent again after a growing pause, until every
        page is delivered (a busy province platform drops MESSAGEs) or a newer Catalog
        query takes over; ``catalog_sent`` of ``catalog_total`` shows how far it got."""
        shared = await self.dir.shared(self.s.upper_id)
        items = [self.item_of(c) for c in shared]
        pages = manscdp.catalog_pages(sn, self.s.local_id, items, self.s.per_page)
        sent, pause = 0, self.s.catalog_retry_s
        for i, page in enumerate(pages):
            while not await self._send(page):
                await self.dir.state(self.s.upper_id, catalog_at=time.time(),
                                     catalog_sent=sent, catalog_total=len(items))
                log.warning("cascade %s: catalog page %d of %d not taken; again in %.0f s",
                            self.s.upper_id, i + 1, len(pages), pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, self.s.retry_s * 12)
            sent = min(len(items), (i + 1) * self.s.per_page)
        await self.dir.state(self.s.upper_id, catalog_at=time.time(), catalog_sent=sent,
                             catalog_total=len(items))
        await self.dir.audit(self.s.upper_id, "gb_cascade_catalog", None, {
            "channels": [c.channel_id for c in shared], "delivered": sent})
        log.info("cascade %s: catalog %d of %d delivered", self.s.upper_id, sent, len(items))
        return sent

    def _answer_catalog(self, sn: int) -> None:
        """One catalog push at a time: a newer query replaces one still being retried."""
        if self._catalog is not None:
            self._catalog.cancel()
        self._catalog = asyncio.ensure_future(self.send_catalog(sn))
        self._tasks.add(self._catalog)
        self._catalog.add_done_callback(self._tasks.discard)

    async def send_record_info(self, doc: manscdp.Doc) -> int:
        """What is recorded of a shared channel in the asked window (playback shares only;
        others get an empty list); returns the spans listed."""
        channel = await self.dir.shared_channel(self.s.upper_id, doc.device_id)
        window = record_window(doc, self.s.zone)
        spans: list[tuple[float, float]] = []
        if channel is not None and channel.playback and window is not None:
            try:
                spans = await self.pusher.records(channel.camera_id, *window)
            except PushError as exc:
                log.warning("cascade %s: RecordInfo %s: %s", self.s.upper_id,
                            channel.channel_id, exc)
        answered = channel or SharedChannel(doc.device_id[:32], "", "", doc.device_id[:32])
        for page in record_info_pages(doc.sn, answered, spans, self.s.zone, self.s.per_page):
            if not await self._send(page):
                break
        await self.dir.audit(self.s.upper_id, "gb_cascade_record_info", channel, {
            "channel": doc.device_id[:32], "window": list(window) if window else None,
            "spans": len(spans), "allowed": bool(channel and channel.playback)})
        return len(spans)

    async def _send_details(self, doc: manscdp.Doc) -> None:
        if doc.device_id != self.s.local_id and await self.dir.shared_channel(
                self.s.upper_id, doc.device_id) is None:
            log.info("cascade %s: %s for %s (not ours or not shared)", self.s.upper_id, doc.cmd,
                     doc.device_id[:32])
            return
        if doc.cmd == "DeviceInfo":
            count = len(await self.dir.shared(self.s.upper_id))
            extra = (f"<Result>OK</Result>\r\n<DeviceName>{self.s.name}</DeviceName>\r\n"
                     "<Manufacturer>cityhub</Manufacturer>\r\n<Model>cityhub</Model>\r\n"
                     f"<Firmware>1</Firmware>\r\n<Channel>{count}</Channel>\r\n")
        else:
            extra = ("<Result>OK</Result>\r\n<Online>ONLINE</Online>\r\n<Status>OK</Status>\r\n"
                     "<Encode>ON</Encode>\r\n<Record>OFF</Record>\r\n")
        await self._send(manscdp.response(doc.cmd, doc.sn, doc.device_id, extra))
