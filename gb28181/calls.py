"""Calls this platform places on devices: INVITE (live, playback, download), INFO with
MANSRTSP inside a playback, and BYE. Kept apart from the registrar and queries
(``gb28181.service``), which own the SIP endpoint and hand it here."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gb28181 import mansrtsp, sdp, sip
from gb28181.directory import Directory
from gb28181.transport import Peer, SipEndpoint

if TYPE_CHECKING:
    from gb28181.service import ServiceSettings

log = logging.getLogger(__name__)


class InviteError(RuntimeError):
    """The device did not accept the INVITE (the reason says how)."""


@dataclass
class Dialog:
    call_id: str
    device_id: str
    channel_id: str
    peer: Peer
    from_tag: str
    to_tag: str
    ssrc: str
    answer: sdp.MediaOffer
    cseq: int = 1


class Calls:
    """The open calls (dialogs by Call-ID) and the requests that open, steer and end them."""

    def __init__(self, settings: ServiceSettings, directory: Directory, endpoint: SipEndpoint,
                 next_sn: Callable[[], int]) -> None:
        self.s, self.dir, self.endpoint, self._next_sn = settings, directory, endpoint, next_sn
        self.dialogs: dict[str, Dialog] = {}

    @property
    def uri(self) -> str:
        return f"sip:{self.s.platform_id}@{self.s.domain}"

    async def invite(self, device_id: str, channel_id: str, host: str, port: int,
                     transport: str = "udp", window: tuple[int, int] | None = None,
                     download_speed: int | None = None) -> Dialog:
        """Ask a channel for live video (or, with ``window`` (start, end in s since 1970),
        its recording: ``s=Playback``; with ``download_speed`` too, the 2022 edition's
        ``s=Download`` at that many times real time) to ``host:port`` as PS over RTP;
        raises InviteError."""
        reg = await self.dir.registration(device_id)
        if reg is None or not reg.online:
            raise InviteError(f"device {device_id} is not registered")
        ssrc = sdp.make_ssrc(self.s.domain, self._next_sn(), playback=window is not None)
        offer = self._offer(channel_id, host, port, transport, ssrc, window, download_speed)
        tag, call_id = sip.new_tag(), secrets.token_hex(10)
        peer = reg.peer
        msg = sip.request(
            "INVITE", f"sip:{channel_id}@{peer.host}:{peer.port}", via_host=self.s.host,
            via_port=self.s.port, transport=peer.transport, from_uri=self.uri, from_tag=tag,
            to_uri=f"sip:{channel_id}@{self.s.domain}", call_id=call_id, cseq=1,
            body=sdp.build(offer), content_type="APPLICATION/SDP",
            extra=[("contact", f"<{self.uri}>"), ("subject", f"{channel_id}:{ssrc},"
                                                             f"{self.s.platform_id}:0")])
        reply = await self.endpoint.request(msg, peer, timeout=6.0)
        if reply is None:
            raise InviteError(f"{device_id}/{channel_id}: no answer to INVITE")
        if reply.status != 200:
            raise InviteError(f"{device_id}/{channel_id}: INVITE answered {reply.status}")
        try:
            answer = sdp.parse(reply.body)
        except sdp.SdpError as exc:
            raise InviteError(f"{device_id}/{channel_id}: bad SDP answer: {exc}") from None
        dialog = Dialog(call_id, device_id, channel_id, peer, tag, reply.tag_of("to") or "",
                        answer.ssrc or ssrc, answer)
        await self.endpoint.send(self._in_dialog("ACK", dialog), peer)
        self.dialogs[call_id] = dialog
        await self.dir.session_opened(call_id, device_id, channel_id, dialog.ssrc, transport,
                                      f"{host}:{port}", self.s.instance)
        log.info("sip: INVITE %s/%s -> %s:%d %s ssrc %s", device_id, channel_id, host, port,
                 transport, dialog.ssrc)
        return dialog

    def _offer(self, channel_id: str, host: str, port: int, transport: str, ssrc: str,
               window: tuple[int, int] | None, download_speed: int | None) -> sdp.MediaOffer:
        """The SDP offer of a live (``s=Play``), playback or download call."""
        session = "Play" if not window else "Download" if download_speed else "Playback"
        return sdp.MediaOffer(host=host, port=port, transport=transport, ssrc=ssrc,
                              owner=self.s.platform_id,
                              payloads={96: "PS/90000", 98: "H264/90000", 99: "H265/90000"},
                              session=session, times=window or (0, 0),
                              uri=f"{channel_id}:0" if window else "",
                              extra=[f"a=downloadspeed:{download_speed}"]
                              if window and download_speed else [])

    def _in_dialog(self, method: str, d: Dialog) -> sip.SipMessage:
        if method != "ACK":
            d.cseq += 1
        return sip.request(
            method, f"sip:{d.channel_id}@{d.peer.host}:{d.peer.port}", via_host=self.s.host,
            via_port=self.s.port, transport=d.peer.transport, from_uri=self.uri,
            from_tag=d.from_tag, to_uri=f"sip:{d.channel_id}@{self.s.domain}",
            call_id=d.call_id, cseq=d.cseq, to_tag=d.to_tag)

    async def info(self, call_id: str, body: bytes) -> int:
        """A MANSRTSP command (``gb28181.mansrtsp``) in a playback call: the device's final
        status (0: unanswered or no such call)."""
        dialog = self.dialogs.get(call_id)
        if dialog is None:
            return 0
        msg = self._in_dialog("INFO", dialog)
        msg.body = body
        msg.headers.append(("content-type", mansrtsp.CONTENT_TYPE))
        reply = await self.endpoint.request(msg, dialog.peer, timeout=3.0)
        return reply.status if reply is not None else 0

    async def bye(self, call_id: str, reason: str = "no viewers") -> bool:
        dialog = self.dialogs.pop(call_id, None)
        if dialog is None:
            return False
        await self.endpoint.request(self._in_dialog("BYE", dialog), dialog.peer, timeout=2.0)
        await self.dir.session_closed(call_id, reason)
        return True
