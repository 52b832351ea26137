"""The SIP service's protocol logic: registrar with digest, keepalive watchdog, catalog
assembly, DeviceInfo/DeviceStatus and alarms. State goes to a ``Directory``."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree.ElementTree import Element
from zoneinfo import ZoneInfo

from adapters.xmlsafe import child, local
from core import digest
from core.periodic import every
from gb28181 import devctl, manscdp, sip
from gb28181.calls import Calls
from gb28181.directory import Directory
from gb28181.transport import Peer, SipEndpoint

log = logging.getLogger(__name__)


@dataclass
class ServiceSettings:
    platform_id: str  #: the 20-digit SIP ID of this platform
    domain: str  #: SIP domain (the first 10 digits of the platform ID, by convention)
    host: str = "127.0.0.1"
    port: int = 5060
    realm: str | None = None  #: digest realm; the domain when unset
    nonce_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    nonce_max_age_s: float = 300.0
    algorithm: str = "MD5"
    expires_min_s: int = 1
    expires_max_s: int = 86400
    keepalive_s: int = 60  #: interval devices are told (and assumed) to use
    missed_keepalives: int = 3
    catalog_timeout_s: float = 10.0  #: a catalog not complete by then is applied partially
    instance: str = field(default_factory=lambda: secrets.token_hex(4))
    zone: str = "Asia/Shanghai"


@dataclass
class _Pages:
    """A list answer (RecordInfo...) assembled over several MESSAGEs by SumNum."""

    tag: str  #: the list element (RecordList)
    items: list[Element] = field(default_factory=list)
    fut: asyncio.Future[list[Element]] | None = None

    def add(self, doc: manscdp.Doc) -> None:
        found = child(doc.el, self.tag)
        self.items += [it for it in (found if found is not None else []) if local(it.tag) == "Item"]
        try:
            total = int(manscdp.text_of(doc, "SumNum") or "0")
        except ValueError:
            total = 0
        if len(self.items) >= total and self.fut is not None and not self.fut.done():
            self.fut.set_result(self.items)


@dataclass
class _Catalog:
    total: int | None
    items: dict[str, manscdp.CatalogItem]
    started: float


class SipService:
    def __init__(self, settings: ServiceSettings, directory: Directory) -> None:
        self.s, self.dir = settings, directory
        self.endpoint = SipEndpoint(self.handle, self._bad, settings.host, settings.port)
        self._catalogs: dict[tuple[str, int], _Catalog] = {}
        self._sn = secrets.randbelow(10**5)
        self._watch: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.calls = Calls(settings, directory, self.endpoint, self.next_sn)
        self._subscriptions: dict[str, tuple[str, int]] = {}  #: call-id -> (from tag, CSeq)
        #: (call-id, NotifyType) of MediaStatus notifications (121: end of a playback file)
        self.media_status: list[tuple[str, str]] = []
        #: (target ID, SN) -> the answer awaited by ``ask`` / the pages by ``ask_list``
        self._answers: dict[tuple[str, int], asyncio.Future[manscdp.Doc]] = {}
        self._pages: dict[tuple[str, int], _Pages] = {}
        self.bad_inputs = 0

    @property
    def uri(self) -> str:
        return f"sip:{self.s.platform_id}@{self.s.domain}"

    async def start(self) -> None:
        await self.endpoint.start()
        self.s.port = self.endpoint.port
        self._watch = asyncio.ensure_future(self._watchdog())
        log.info("sip: platform %s listening on %s:%d (udp+tcp)", self.s.platform_id,
                 self.s.host, self.s.port)

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        for task in list(self._tasks):
            task.cancel()
        await self.endpoint.close()

    def _bad(self, peer: Peer, reason: str) -> None:
        self.bad_inputs += 1

    # -- inbound ----------------------------------------------------------------

    async def handle(self, msg: sip.SipMessage, peer: Peer) -> None:
        if msg.method == "REGISTER":
            await self._register(msg, peer)
        elif msg.method in ("MESSAGE", "NOTIFY"):
            await self._message(msg, peer)
        elif msg.method == "ACK":
            return
        elif msg.method == "BYE":
            await self.endpoint.send(sip.response(msg, 200, "OK"), peer)
            if self.calls.dialogs.pop(msg.call_id, None) is not None:
                await self.dir.session_closed(msg.call_id, "BYE from the device")
        elif msg.method == "OPTIONS":
            await self.endpoint.send(sip.response(msg, 200, "OK"), peer)
        else:
            await self.endpoint.send(sip.response(msg, 405, "Method Not Allowed"), peer)

    async def _refuse(self, msg: sip.SipMessage, peer: Peer, device_id: str, reason: str
                      ) -> None:
        log.warning("sip: REGISTER of %r from %s refused: %s", device_id[:32], peer, reason)
        await self.dir.refused(device_id[:32], peer, reason)
        await self.endpoint.send(sip.response(msg, 403, "Forbidden"), peer)

    async def _register(self, msg: sip.SipMessage, peer: Peer) -> None:
        device_id = msg.user_of("from")
        record = await self.dir.device(device_id) if device_id.isdigit() else None
        if record is None or not record.enabled:
            await self._refuse(msg, peer, device_id, "unknown or disabled device ID")
            return
        if record.allow_from and not _allowed(peer.host, record.allow_from):
            await self._refuse(msg, peer, device_id, f"address {peer.host} not allowed")
            return
        auth = msg.get("authorization")
        realm = self.s.realm or self.s.domain
        if auth is None:
            await self._challenge(msg, peer, realm)
            return
        p = digest.params(auth)
        if not digest.nonce_fresh(self.s.nonce_secret, p.get("nonce", ""), self.s.nonce_max_age_s):
            await self._challenge(msg, peer, realm, stale=True)
            return
        if p.get("username") != device_id or not record.password or not digest.verify(
                auth, "REGISTER", record.password):
            await self._refuse(msg, peer, device_id, "wrong password")
            return
        expires = sip.expires_of(msg)
        if expires == 0:
            await self.dir.unregister(device_id, "unregistered by the device")
            await self.endpoint.send(self._ok_register(msg, 0), peer)
            log.info("sip: %s unregistered", device_id)
            return
        expires = max(self.s.expires_min_s, min(expires, self.s.expires_max_s))
        await self.dir.register(device_id, peer, expires, self.s.instance)
        await self.endpoint.send(self._ok_register(msg, expires), peer)
        log.info("sip: %s registered from %s for %d s", device_id, peer, expires)
        task = asyncio.ensure_future(self.query_all(device_id, peer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _challenge(self, msg: sip.SipMessage, peer: Peer, realm: str,
                         stale: bool = False) -> None:
        out = sip.response(msg, 401, "Unauthorized")
        nonce = digest.make_nonce(self.s.nonce_secret)
        out.headers.append(("www-authenticate",
                            digest.challenge(realm, nonce, self.s.algorithm, stale)))
        await self.endpoint.send(out, peer)

    def _ok_register(self, msg: sip.SipMessage, expires: int) -> sip.SipMessage:
        out = sip.response(msg, 200, "OK")
        if contact := msg.get("contact"):
            out.headers.append(("contact", contact))
        out.headers.append(("expires", str(expires)))
        # GB/T 28181 time sync (9.10): devices set their clock from the Date header.
        now = datetime.now(ZoneInfo(self.s.zone)).replace(tzinfo=None)
        out.headers.append(("date", now.isoformat(timespec="milliseconds")))
        return out

    async def _message(self, msg: sip.SipMessage, peer: Peer) -> None:
        device_id = msg.user_of("from")
        if (dialog := self.calls.dialogs.get(msg.call_id)) is not None:
            device_id = dialog.device_id  # in a call: From is the channel (MediaStatus)
        reg = await self.dir.registration(device_id) if device_id.isdigit() else None
        if reg is None:
            # Not registered (or expired): 403 makes a device register again.
            await self.endpoint.send(sip.response(msg, 403, "Forbidden"), peer)
            return
        try:
            doc = manscdp.read(msg.body)
        except manscdp.BodyError as exc:
            self.bad_inputs += 1
            log.warning("sip: %s from %s: unreadable body: %s", msg.method, device_id, exc)
            await self.endpoint.send(sip.response(msg, 400, "Bad Request"), peer)
            return
        await self.endpoint.send(sip.response(msg, 200, "OK"), peer)
        if doc.root == "Response" and (pages := self._pages.get((doc.device_id, doc.sn))):
            pages.add(doc)
            return
        waiting = self._answers.pop((doc.device_id, doc.sn), None)
        if doc.root == "Response" and waiting is not None and not waiting.done():
            waiting.set_result(doc)
            return
        if doc.cmd == "MediaStatus":
            kind = manscdp.text_of(doc, "NotifyType") or ""
            self.media_status.append((msg.call_id, kind[:8]))
            log.info("sip: %s MediaStatus %s (call %s)", device_id, kind[:8], msg.call_id[:32])
            return
        await self._document(device_id, doc, msg.body, peer, reg.online)

    async def _document(self, device_id: str, doc: manscdp.Doc, body: bytes, peer: Peer,
                        online: bool) -> None:
        cmd = doc.cmd
        if cmd == "Keepalive":
            if await self.dir.seen(device_id, peer):
                log.info("sip: %s back online (keepalive)", device_id)
        elif cmd == "Catalog" and doc.root == "Notify":
            await self.dir.seen(device_id, peer)
            _total, items = manscdp.catalog(doc)
            await self.dir.catalog_events(device_id, items)
        elif cmd == "Catalog":
            await self._catalog_page(device_id, doc)
        elif cmd in ("DeviceInfo", "DeviceStatus"):
            await self.dir.details(device_id, cmd, manscdp.fields(doc))
        elif cmd == "Alarm" and doc.root == "Notify":
            await self.dir.alarm(device_id, body)
        else:
            log.info("sip: %s sent %s/%s (ignored)", device_id, doc.root, cmd[:32])

    async def _catalog_page(self, device_id: str, doc: manscdp.Doc) -> None:
        total, items = manscdp.catalog(doc)
        key = (device_id, doc.sn)
        cat = self._catalogs.setdefault(key, _Catalog(total, {}, time.monotonic()))
        cat.total = total if total is not None else cat.total
        for it in items:
            cat.items[it.id] = it
        if cat.total is not None and len(cat.items) >= cat.total:
            del self._catalogs[key]
            await self.dir.catalog(device_id, list(cat.items.values()), complete=True)
            log.info("sip: %s catalog complete: %d channels", device_id, len(cat.items))

    # -- outbound ---------------------------------------------------------------

    def next_sn(self) -> int:
        self._sn = (self._sn + 1) % 10**9
        return self._sn

    async def send_message(self, device_id: str, peer: Peer, body: bytes) -> bool:
        msg = sip.request(
            "MESSAGE", f"sip:{device_id}@{peer.host}:{peer.port}", via_host=self.s.host,
            via_port=self.s.port, transport=peer.transport, from_uri=self.uri,
            from_tag=sip.new_tag(), to_uri=f"sip:{device_id}@{self.s.domain}",
            call_id=secrets.token_hex(10), cseq=1, body=body,
            content_type=manscdp.CONTENT_TYPE)
        reply = await self.endpoint.request(msg, peer)
        return reply is not None and reply.status == 200

    async def query(self, device_id: str, cmd: str, peer: Peer | None = None) -> bool:
        """Send a Query (Catalog / DeviceInfo / DeviceStatus) to a registered device."""
        if peer is None:
            reg = await self.dir.registration(device_id)
            if reg is None:
                return False
            peer = reg.peer
        return await self.send_message(device_id, peer,
                                       manscdp.query(cmd, self.next_sn(), device_id))

    async def control(self, device_id: str, target: str, inner: str) -> bool:
        """A DeviceControl MESSAGE (``gb28181.devctl``) to a device or one of its channels;
        True when the device accepted it (200)."""
        reg = await self.dir.registration(device_id)
        if reg is None or not reg.online:
            return False
        return await self.send_message(device_id, reg.peer,
                                       devctl.control(self.next_sn(), target, inner))

    async def ask(self, device_id: str, target: str, cmd: str, extra: str = "",
                  timeout: float = 5.0) -> manscdp.Doc | None:
        """A Query whose Response is awaited (e.g. PTZPosition); None when unanswered."""
        reg = await self.dir.registration(device_id)
        if reg is None or not reg.online:
            return None
        sn = self.next_sn()
        fut: asyncio.Future[manscdp.Doc] = asyncio.get_running_loop().create_future()
        self._answers[(target, sn)] = fut
        try:
            if not await self.send_message(device_id, reg.peer,
                                           manscdp.query(cmd, sn, target, extra)):
                return None
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            return None
        finally:
            self._answers.pop((target, sn), None)

    async def ask_list(self, device_id: str, target: str, cmd: str, extra: str, tag: str,
                       timeout: float = 8.0) -> list[Element] | None:
        """A Query answered by a list over several MESSAGEs (RecordInfo: ``RecordList``);
        the items once SumNum arrived, None when nothing came in time."""
        reg = await self.dir.registration(device_id)
        if reg is None or not reg.online:
            return None
        sn = self.next_sn()
        pages = _Pages(tag, fut=asyncio.get_running_loop().create_future())
        self._pages[(target, sn)] = pages
        try:
            if not await self.send_message(device_id, reg.peer,
                                           manscdp.query(cmd, sn, target, extra)):
                return None
            assert pages.fut is not None
            return await asyncio.wait_for(pages.fut, timeout)
        except TimeoutError:
            return pages.items or None  # partial: what came
        finally:
            self._pages.pop((target, sn), None)

    async def subscribe(self, device_id: str, cmd: str, expires: int = 3600, extra: str = "",
                        call_id: str | None = None) -> tuple[int, str]:
        """SUBSCRIBE to a registered device's ``Catalog`` or ``Alarm`` (9.11); the same
        ``call_id`` refreshes (0 ends it). (final status, 0 when unanswered; call-id)."""
        reg = await self.dir.registration(device_id)
        if reg is None:
            return 0, ""
        call_id = call_id or secrets.token_hex(10)
        tag, cseq = self._subscriptions.get(call_id, (sip.new_tag(), 0))
        self._subscriptions[call_id] = (tag, cseq + 1)
        peer = reg.peer
        msg = sip.request(
            "SUBSCRIBE", f"sip:{device_id}@{peer.host}:{peer.port}", via_host=self.s.host,
            via_port=self.s.port, transport=peer.transport, from_uri=self.uri, from_tag=tag,
            to_uri=f"sip:{device_id}@{self.s.domain}", call_id=call_id, cseq=cseq + 1,
            body=manscdp.query(cmd, self.next_sn(), device_id, extra),
            content_type=manscdp.CONTENT_TYPE,
            extra=[("event", cmd), ("expires", str(expires)),
                   ("contact", f"<sip:{self.s.platform_id}@{self.s.host}:{self.s.port}>")])
        reply = await self.endpoint.request(msg, peer)
        if expires == 0:
            self._subscriptions.pop(call_id, None)
        return (reply.status if reply is not None else 0), call_id

    async def query_all(self, device_id: str, peer: Peer) -> None:
        for cmd in ("DeviceInfo", "Catalog", "DeviceStatus"):
            if not await self.query(device_id, cmd, peer):
                log.info("sip: %s did not accept the %s query", device_id, cmd)

    # -- watchdog ---------------------------------------------------------------

    async def _watchdog(self) -> None:
        tick = max(0.2, min(1.0, self.s.keepalive_s / 4))
        await every(tick, self.sweep, "sip: watchdog sweep")  # a store away: next tick

    async def sweep(self) -> None:
        now = datetime.now(UTC)
        for reg in await self.dir.online():
            silent = (now - reg.last_seen).total_seconds()
            if reg.expires_at <= now:
                await self.dir.offline(reg.device_id, "registration expired")
            elif silent > reg.keepalive_s * self.s.missed_keepalives:
                await self.dir.offline(
                    reg.device_id, f"no keepalive for {silent:.0f} s "
                                   f"({self.s.missed_keepalives} intervals)")
        stale = time.monotonic() - self.s.catalog_timeout_s
        for key, cat in list(self._catalogs.items()):
            if cat.started < stale:
                del self._catalogs[key]
                # Incomplete: add and update what came, but retire nothing.
                await self.dir.catalog(key[0], list(cat.items.values()), complete=False)
                log.warning("sip: %s catalog incomplete (%d of %s): nothing retired", key[0],
                            len(cat.items), cat.total)


def _allowed(host: str, networks: tuple[str, ...]) -> bool:
    try:
        addr = ipaddress.ip_address(host)
        return any(addr in ipaddress.ip_network(n, strict=False) for n in networks)
    except ValueError:
        return False
