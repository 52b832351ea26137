"""Video sent up a cascade: the upper platform's INVITE for a shared channel (live, or a
recorded stretch with ``s=Playback``), answered by having a ``MediaPusher`` (the relay) send
the camera as PS over RTP; its BYE, a revoked share or the cascade stopping end it
(GB/T 28181-2016 9.2, 9.8, 9.9). Every view and its end is audited.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from gb28181 import manscdp, mansrtsp, sdp, sip
from gb28181.transport import Peer
from gb28181.upward import SharedChannel

if TYPE_CHECKING:
    from gb28181.cascade import CascadeClient

log = logging.getLogger(__name__)
#: Offerer's media transport (the upper's SDP) -> what our sender does.
PUSH_MODES = {"udp": "udp", "tcp-passive": "tcp-connect", "tcp-active": "tcp-listen"}
ANSWER_TRANSPORT = {"udp": "udp", "tcp-passive": "tcp-active", "tcp-active": "tcp-passive"}


class PushError(RuntimeError):
    """The relay cannot send the camera (the reason goes to the log and the audit)."""


@dataclass(frozen=True)
class PushHandle:
    push_id: str
    port: int  #: our media port (the sender's source, or our TCP listener)


class MediaPusher(Protocol):
    async def start(self, camera_id: str, host: str, port: int, mode: str, ssrc: int,
                    window: tuple[float, float] | None = None) -> PushHandle:
        """Live, or with ``window`` (unix s) that stretch of the camera's recording."""

    async def ended(self, push_id: str) -> str | None:
        """Why a push ended by itself (``end of recording``), None while it sends."""

    async def records(self, camera_id: str, start: float, end: float
                      ) -> list[tuple[float, float]]:
        """The camera's recorded spans within [start, end] (unix s)."""

    async def control(self, push_id: str, method: str, scale: float | None,
                      npt: float | None) -> None:
        """A recorded push paused, resumed, sped up or moved (MANSRTSP, annex B)."""

    async def stop(self, push_id: str) -> None: ...


@dataclass
class UpwardView:
    call_id: str
    channel: SharedChannel
    push: PushHandle
    peer: Peer
    remote_tag: str  #: the upper's From tag
    local_tag: str
    started: float = field(default_factory=time.monotonic)
    cseq: int = 1
    window: tuple[int, int] | None = None  #: Playback: the recorded stretch asked for
    finished: str | None = None  #: why the recording sent ended (MediaStatus 121 sent)


class UpwardMedia:
    """The cascade's media calls from its upper platform, by Call-ID."""

    def __init__(self, client: CascadeClient) -> None:
        self.c = client
        self.views: dict[str, UpwardView] = {}
        self._inviting: set[str] = set()  #: INVITEs being answered (the relay starting)

    async def bye(self, msg: sip.SipMessage, peer: Peer) -> None:
        known = msg.call_id in self.views
        await self.c.endpoint.send(sip.response(msg, 200, "OK") if known else
                                   sip.response(msg, 481, "Call Does Not Exist"), peer)
        if known:
            await self.end(msg.call_id, "BYE from the upper platform")

    async def close(self) -> None:
        for call_id in list(self.views):
            await self.end(call_id, "cascade stopped")

    async def info(self, msg: sip.SipMessage, peer: Peer) -> None:
        """MANSRTSP in a playback call (annex B): pause, resume, speed, seek; audited."""
        view = self.views.get(msg.call_id)
        status, phrase, cmd = 200, "OK", None
        if view is None:
            status, phrase = 481, "Call Does Not Exist"
        elif view.window is None:
            status, phrase = 488, "Not Acceptable Here"  # a live call has nothing to steer
        else:
            try:
                cmd = mansrtsp.parse(msg.body)
                if cmd.method != "TEARDOWN":  # BYE ends a call
                    await self.c.pusher.control(view.push.push_id, cmd.method, cmd.scale,
                                                cmd.npt)
            except mansrtsp.MansrtspError as exc:
                self.c.bad_inputs += 1
                status, phrase = 400, "Bad Request"
                log.warning("cascade %s: bad MANSRTSP: %s", self.c.s.upper_id, exc)
            except PushError as exc:
                status, phrase = 500, "Server Internal Error"
                log.warning("cascade %s: MANSRTSP not passed on: %s", self.c.s.upper_id, exc)
        await self.c.endpoint.send(sip.response(msg, status, phrase), peer)
        if view is not None and cmd is not None:
            await self.c.dir.audit(self.c.s.upper_id, "gb_cascade_playback_control",
                                   view.channel, {"call_id": msg.call_id, "method": cmd.method,
                                                  "scale": cmd.scale, "npt": cmd.npt,
                                                  "status": status})

    async def invite(self, msg: sip.SipMessage, peer: Peer) -> None:
        if msg.call_id in self.views:  # a retransmitted INVITE: the 200 went already
            return
        if msg.call_id in self._inviting:  # retransmitted while the relay starts: one push
            await self.c.endpoint.send(sip.response(msg, 100, "Trying"), peer)
            return
        self._inviting.add(msg.call_id)
        try:
            await self._new_invite(msg, peer)
        finally:
            self._inviting.discard(msg.call_id)

    async def _new_invite(self, msg: sip.SipMessage, peer: Peer) -> None:
        channel_id = sip.uri_user(msg.uri) or msg.user_of("to")
        channel = await self.c.dir.shared_channel(self.c.s.upper_id, channel_id)
        if channel is None:
            await self.c.dir.audit(self.c.s.upper_id, "gb_cascade_invite_refused", None,
                                 {"channel": channel_id[:32], "reason": "not shared"})
            await self.c.endpoint.send(sip.response(msg, 404, "Not Found"), peer)
            return
        try:
            offer = sdp.parse(msg.body)
        except sdp.SdpError as exc:
            self.c.bad_inputs += 1
            await self.c.endpoint.send(sip.response(msg, 400, "Bad Request"), peer)
            log.warning("cascade %s: INVITE with bad SDP: %s", self.c.s.upper_id, exc)
            return
        window = None
        if offer.session.lower() == "playback":
            window, refusal = _playback_window(offer, channel)
            if refusal is not None:
                await self.c.dir.audit(self.c.s.upper_id, "gb_cascade_invite_refused", channel,
                                     {"reason": refusal[2]})
                await self.c.endpoint.send(sip.response(msg, refusal[0], refusal[1]), peer)
                return
        await self.c.endpoint.send(sip.response(msg, 100, "Trying"), peer)
        ssrc = offer.ssrc if offer.ssrc.isdigit() else sdp.make_ssrc(
            self.c.s.domain, 0, playback=window is not None)
        try:
            push = await self.c.pusher.start(channel.camera_id, offer.host, offer.port,
                                           PUSH_MODES[offer.transport], int(ssrc),
                                           (float(window[0]), float(window[1]))
                                           if window else None)
        except PushError as exc:
            await self.c.dir.audit(self.c.s.upper_id, "gb_cascade_invite_refused", channel,
                                 {"reason": str(exc)[:200]})
            await self.c.endpoint.send(sip.response(msg, 503, "Service Unavailable"), peer)
            return
        await self._answer(msg, peer, offer, ssrc, channel, push, window)

    async def _answer(self, msg: sip.SipMessage, peer: Peer, offer: sdp.MediaOffer, ssrc: str,
                      channel: SharedChannel, push: PushHandle,
                      window: tuple[int, int] | None) -> None:
        answer = sdp.MediaOffer(
            host=self.c.s.media_host, port=push.port, transport=ANSWER_TRANSPORT[offer.transport],
            ssrc=ssrc, owner=channel.channel_id, direction="sendonly", payloads={96: "PS/90000"},
            session=offer.session, times=offer.times)
        tag = sip.new_tag()
        out = sip.response(msg, 200, "OK", sdp.build(answer), "APPLICATION/SDP", tag)
        out.headers.append(("contact", f"<sip:{channel.channel_id}@{self.c.s.local_host}:"
                                       f"{self.c.s.local_port}>"))
        self.views[msg.call_id] = UpwardView(msg.call_id, channel, push, peer,
                                             msg.tag_of("from") or "", tag, window=window)
        await self.c.dir.audit(self.c.s.upper_id, "gb_cascade_view", channel, {
            "call_id": msg.call_id, "to": f"{offer.host}:{offer.port}",
            "transport": offer.transport, "ssrc": ssrc,
            **({"playback": list(window)} if window else {})})
        await self.c.endpoint.send(out, peer)
        log.info("cascade %s: %s %s (camera %s) -> %s:%d %s", self.c.s.upper_id,
                 "playback" if window else "live", channel.channel_id, channel.camera_id,
                 offer.host, offer.port, offer.transport)

    async def end(self, call_id: str, reason: str) -> None:
        view = self.views.pop(call_id, None)
        if view is None:
            return
        try:
            await self.c.pusher.stop(view.push.push_id)
        except PushError as exc:
            log.warning("cascade %s: stopping %s: %s", self.c.s.upper_id, call_id, exc)
        await self.c.dir.audit(self.c.s.upper_id, "gb_cascade_view_end", view.channel, {
            "call_id": call_id, "reason": reason,
            "seconds": round(time.monotonic() - view.started, 1)})

    def in_view(self, view: UpwardView, method: str, body: bytes = b"") -> sip.SipMessage:
        """A request of ours in an upward call (BYE, MESSAGE MediaStatus)."""
        view.cseq += 1
        return sip.request(
            method, self.c.upper_uri, via_host=self.c.s.local_host, via_port=self.c.s.local_port,
            transport=view.peer.transport,
            from_uri=f"sip:{view.channel.channel_id}@{self.c.s.local_id[:10]}",
            from_tag=view.local_tag, to_uri=self.c.upper_uri, to_tag=view.remote_tag,
            call_id=view.call_id, cseq=view.cseq, body=body,
            content_type=manscdp.CONTENT_TYPE if body else None)

    async def check_playbacks(self) -> None:
        """A recorded stretch sent to its end: MediaStatus 121 in the call (9.9); the upper
        then sends BYE."""
        for view in list(self.views.values()):
            if view.window is None or view.finished is not None:
                continue
            try:
                why = await self.c.pusher.ended(view.push.push_id)
            except PushError as exc:
                log.warning("cascade %s: playback %s: %s", self.c.s.upper_id, view.call_id, exc)
                continue
            if why is None:
                continue
            view.finished = why
            body = manscdp.notify("MediaStatus", self.c.next_sn(), view.channel.channel_id,
                                  "<NotifyType>121</NotifyType>\r\n")
            reply = await self.c.endpoint.request(self.in_view(view, "MESSAGE", body), view.peer)
            log.info("cascade %s: playback %s ended (%s); MediaStatus 121 %s", self.c.s.upper_id,
                     view.channel.channel_id, why, "answered" if reply else "unanswered")

    async def recheck(self) -> None:
        """A share revoked ends the views it allowed (BYE to the upper)."""
        for call_id, view in list(self.views.items()):
            if await self.c.dir.shared_channel(self.c.s.upper_id, view.channel.channel_id) is None:
                await self.end(call_id, "share revoked")
                self.c.spawn(self.c.endpoint.request(self.in_view(view, "BYE"), view.peer,
                                                  timeout=2.0))


#: The longest recorded stretch one Playback INVITE may ask for.
MAX_PLAYBACK_S = 24 * 3600


def _playback_window(offer: sdp.MediaOffer, channel: SharedChannel
                     ) -> tuple[tuple[int, int] | None, tuple[int, str, str] | None]:
    """(window, None), or (None, (status, phrase, why)) when it cannot be served."""
    if not channel.playback:  # shared live only: recordings are a separate right
        return None, (403, "Forbidden", "playback not shared")
    start, end = offer.times
    if not 0 < start < end or end - start > MAX_PLAYBACK_S:
        return None, (488, "Not Acceptable Here", f"bad playback range t={start} {end}")
    return (start, end), None
