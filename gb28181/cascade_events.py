"""The cascade's unasked traffic to an upper platform: its SUBSCRIBEs (Catalog, Alarm),
NOTIFYs of shared-channel changes, and alarms of shared cameras (GB/T 28181-2016 9.4, 9.11).

Alarms are the store's events on a shared camera from the department sharing it (a
device's MESSAGE Alarm, analytics, health): sent as MESSAGE Alarm, or as NOTIFY in the
upper's alarm subscription when it has one (filtered by its priority range and methods).
Catalog changes (share added or revoked, channel status, name or position) are found by
comparing the shared channels every ``events_poll_s`` and sent to catalog subscriptions.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from core.periodic import every
from gb28181 import manscdp, sip
from gb28181.transport import Peer
from gb28181.upward import (
    SharedChannel,
    Subscription,
    UpwardAlarm,
    alarm_body,
    alarm_filter,
    catalog_changes,
)

if TYPE_CHECKING:
    from gb28181.cascade import CascadeClient

log = logging.getLogger(__name__)
#: Events are committed out of received_at order by concurrent writers: look back this far.
OVERLAP = timedelta(seconds=10)
MAX_SUBSCRIPTION_S = 86400
_CONTACT = re.compile(r"<([^>]{1,256})>")


class UpwardEvents:
    def __init__(self, client: CascadeClient) -> None:
        self.c = client
        self.subs: dict[str, Subscription] = {}
        self.alarms_sent = 0
        self._view: dict[str, manscdp.CatalogItem] | None = None
        self._cursor: datetime | None = None
        self._seen: dict[str, datetime] = {}

    @property
    def _loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    # -- SUBSCRIBE ---------------------------------------------------------------------

    async def subscribe(self, msg: sip.SipMessage, peer: Peer) -> None:
        try:
            doc = manscdp.read(msg.body)
            expires = min(sip.expires_of(msg, 3600), MAX_SUBSCRIPTION_S)
        except (manscdp.BodyError, sip.SipError) as exc:
            self.c.bad_inputs += 1
            log.warning("cascade %s: unreadable SUBSCRIBE: %s", self.c.s.upper_id, exc)
            await self.c.endpoint.send(sip.response(msg, 400, "Bad Request"), peer)
            return
        if doc.root != "Query" or doc.cmd not in ("Catalog", "Alarm"):
            await self.c.endpoint.send(sip.response(msg, 489, "Bad Event"), peer)
            return
        sub = self.subs.get(msg.call_id)
        if expires == 0:
            self.subs.pop(msg.call_id, None)
        elif sub is None:
            contact = _CONTACT.search(msg.get("contact") or "")
            sub = Subscription(
                msg.call_id, doc.cmd, msg.get("event") or doc.cmd, peer,
                contact.group(1) if contact else self.c.upper_uri, msg.tag_of("from") or "",
                sip.new_tag(), self._loop_time + expires)
            self.subs[msg.call_id] = sub
        else:
            sub.expires_at = self._loop_time + expires
        if doc.cmd == "Alarm" and sub is not None:
            sub.priorities, sub.methods = alarm_filter(doc)
        body = manscdp.response(doc.cmd, doc.sn, self.c.s.local_id, "<Result>OK</Result>\r\n")
        out = sip.response(msg, 200, "OK", body, manscdp.CONTENT_TYPE,
                           sub.local_tag if sub else None)
        out.headers += [("expires", str(expires)), ("contact", f"<{self.c.uri}>")]
        await self.c.endpoint.send(out, peer)
        await self.c.dir.audit(self.c.s.upper_id, "gb_cascade_subscribe", None,
                               {"cmd": doc.cmd, "expires": expires, "call_id": msg.call_id})
        log.info("cascade %s: %s subscription for %d s", self.c.s.upper_id, doc.cmd, expires)

    def _notify(self, sub: Subscription, body: bytes) -> sip.SipMessage:
        sub.cseq += 1
        left = max(0, int(sub.expires_at - self._loop_time))
        return sip.request(
            "NOTIFY", sub.target, via_host=self.c.s.local_host, via_port=self.c.s.local_port,
            transport=sub.peer.transport, from_uri=self.c.uri, from_tag=sub.local_tag,
            to_uri=self.c.upper_uri, to_tag=sub.remote_tag, call_id=sub.call_id, cseq=sub.cseq,
            body=body, content_type=manscdp.CONTENT_TYPE,
            extra=[("event", sub.event), ("subscription-state", f"active;expires={left}")])

    async def _deliver(self, sub: Subscription, body: bytes, attempts: int = 3) -> bool:
        for _ in range(attempts):
            reply = await self.c.endpoint.request(self._notify(sub, body), sub.peer)
            if reply is not None and reply.status == 200:
                return True
            if reply is not None and reply.status == 481:  # the upper forgot the dialog
                self.subs.pop(sub.call_id, None)
                return False
        return False

    # -- the poll ------------------------------------------------------------------------

    async def run(self, every_s: float) -> None:
        """Poll until cancelled; a store away (a database restarting) is tried next tick."""
        await every(every_s, self.tick, f"cascade {self.c.s.upper_id}: upward events",
                    at_once=True)

    async def tick(self) -> None:
        now = self._loop_time
        for call_id, sub in list(self.subs.items()):
            if sub.expires_at <= now:
                del self.subs[call_id]
                log.info("cascade %s: %s subscription expired", self.c.s.upper_id, sub.cmd)
        await self.c.media.check_playbacks()
        if not self.c.registered.is_set():
            return
        await self.catalog_changes()
        await self.alarms()

    async def catalog_changes(self) -> int:
        """NOTIFY catalog subscriptions of what changed in the shared channels."""
        view = {c.channel_id: self.c.item_of(c) for c in await self.c.dir.shared(self.c.s.upper_id)}
        before, self._view = self._view, view
        if before is None:
            return 0
        changes = catalog_changes(before, view)
        subs = [s for s in self.subs.values() if s.cmd == "Catalog"]
        if not changes or not subs:
            return 0
        per = self.c.s.per_page
        for sub in subs:
            for i in range(0, len(changes), per):
                body = manscdp.catalog_notify(self.c.next_sn(), self.c.s.local_id,
                                              changes[i:i + per])
                if not await self._deliver(sub, body):
                    log.warning("cascade %s: catalog NOTIFY not delivered", self.c.s.upper_id)
                    break
        await self.c.dir.audit(self.c.s.upper_id, "gb_cascade_catalog_notify", None, {
            "changes": [f"{it.event} {it.id}" for it in changes]})
        return len(changes)

    async def alarms(self) -> int:
        """Alarms of shared cameras since the last poll, each sent once."""
        if self._cursor is None:
            _, self._cursor = await self.c.dir.alarms_since(self.c.s.upper_id, None)
            return 0
        found, cursor = await self.c.dir.alarms_since(self.c.s.upper_id,
                                                      self._cursor - OVERLAP)
        fresh = [a for a in found if a.event_id not in self._seen]
        sent = 0
        for alarm in fresh:
            self._seen[alarm.event_id] = alarm.received_at or cursor
            sent += await self._send_alarm(alarm)
        self._cursor = max(self._cursor, cursor)
        floor = self._cursor - OVERLAP
        self._seen = {k: v for k, v in self._seen.items() if v > floor}
        return sent

    async def _send_alarm(self, alarm: UpwardAlarm) -> bool:
        body = alarm_body(self.c.next_sn(), alarm, self.c.s.zone)
        subs = [s for s in self.subs.values() if s.cmd == "Alarm"]
        if subs:  # subscribed: NOTIFY to the subscriptions that want it, nothing else
            wanted = [s for s in subs if s.wants(alarm)]
            ok = all([await self._deliver(s, body) for s in wanted]) if wanted else False
            how = "notify"
        else:
            wanted, how = [], "message"
            ok = await self.c.send_message(body)
        if how == "message" or wanted:
            self.alarms_sent += ok
            await self.c.dir.audit(self.c.s.upper_id, "gb_cascade_alarm", _channel(alarm), {
                "event": alarm.event_id, "kind": alarm.kind, "priority": alarm.priority,
                "via": how, "delivered": ok})
        return ok


def _channel(alarm: UpwardAlarm) -> SharedChannel:
    return SharedChannel(alarm.channel_id, alarm.camera_id, alarm.department, "")
