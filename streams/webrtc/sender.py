"""The per-viewer RTP send loop for passthrough video, in place of aiortc's ``_run_rtp``.

Why: for each packet aiortc's loop builds an ``RtpPacket``, its header extensions and their
bytes, keeps the packet object for NACKs and awaits three coroutines down to ``sendto``; at 50
viewers of one camera that Python was most of the relay's WebRTC cost (issue #22). Here a
frame's shared payloads (``SharedPackets``) get a header made once per frame, with only the
sequence number and marker written per packet, are SRTP-protected with the DTLS transport's
session and go to the ICE pair's socket, in one task wake-up per frame.

aiortc keeps everything else: ICE, DTLS and the SRTP keys, RTCP in and out. Sender reports
count from the packet/octet counters this loop keeps in the sender; NACKs are answered
(RTX when negotiated) from this loop's history of the last frames sent; PLI/FIR go to aiortc
as before (a passthrough cannot make a keyframe; viewers start on the cached GOP's).

It relies on aiortc 1.x internals (the sender's private fields, the DTLS transport's
``_tx_srtp``, aioice's nominated pair); where one is missing the sender keeps aiortc's own
loop, with a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections import deque
from collections.abc import Awaitable, Callable
from struct import pack
from typing import Any

from aiortc import clock
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcdtlstransport import State
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpsender import RTCEncodedFrame, RTCRtpSender, random_sequence_number
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from aiortc.rtp import HeaderExtensions, RtpPacket, wrap_rtx
from aiortc.utils import random32

log = logging.getLogger(__name__)

_P = "_RTCRtpSender__"  # aiortc's name-mangled private fields
#: The sender fields used: events its stop() waits on, what its RTCP reports read, the
#: negotiated mid / header extensions / RTX payload type.
FIELDS = ("rtp_started", "rtp_exited", "mid", "rtp_header_extensions_map", "rtx_payload_type",
          "packet_count", "octet_count", "ntp_timestamp", "rtp_timestamp")
ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
HISTORY_FRAMES = 64  #: frames kept for NACKs (aiortc keeps 128 packets: ~2 s of P-frames)

NextFrame = Callable[[RTCRtpCodecParameters], Awaitable[RTCEncodedFrame]]


def supported(sender: RTCRtpSender) -> bool:
    return all(hasattr(sender, _P + f) for f in FIELDS) and callable(
        getattr(sender, "_run_rtp", None)
    )


def guard_rtcp(dtls: Any) -> None:
    """Drop RTCP that aiortc's parser chokes on instead of losing the viewer's transport:
    aiortc 1.16 routes a REMB by unpacking as many SSRCs as it claims (``struct.error`` past
    the end ends its DTLS receive loop, and the session with it)."""
    handle = dtls._handle_rtcp_data

    async def guarded(data: bytes) -> None:
        try:
            await handle(data)
        except struct.error:
            log.debug("webrtc: malformed RTCP dropped")

    dtls._handle_rtcp_data = guarded


class _Wire:
    """Where a viewer's packets go: the SRTP session and the ICE pair's datagram socket."""

    def __init__(self, sender: RTCRtpSender) -> None:
        self.dtls = sender.transport
        self.connection = self.dtls.transport._connection  # aioice.Connection
        self.dtls._tx_srtp.protect  # noqa: B018 - fail now (AttributeError), not per frame
        guard_rtcp(self.dtls)

    def ready(self) -> tuple[Callable[[bytes], bytes], Callable[[bytes, Any], None], Any]:
        """(protect, sendto, address) for this frame; ConnectionError when not connected."""
        pair = self.connection._nominated.get(1)
        if self.dtls._state != State.CONNECTED or pair is None or pair.protocol.transport is None:
            raise ConnectionError("not connected")
        return self.dtls._tx_srtp.protect, pair.protocol.transport.sendto, pair.remote_addr


class FrameSender:
    """One viewer's RTP stream: frames from ``next_frame``, sent straight to the wire."""

    def __init__(self, sender: RTCRtpSender, next_frame: NextFrame) -> None:
        self.sender = sender
        self.next_frame = next_frame
        self.aiortc_run = sender._run_rtp  # the fallback
        self.seq = random_sequence_number()
        self.rtx_seq = random_sequence_number()
        self.ts_origin = random32()
        self.history: deque[tuple[int, int, list[bytes]]] = deque(maxlen=HISTORY_FRAMES)
        self.held = 0  #: packets in ``history``
        self.pt = 0

    def _get(self, name: str) -> Any:
        return getattr(self.sender, _P + name)

    def _add(self, name: str, value: int) -> None:
        setattr(self.sender, _P + name, self._get(name) + value)

    def _extensions(self) -> HeaderExtensions:
        ext = HeaderExtensions()
        ext.mid = self._get("mid")
        ext.abs_send_time = (clock.current_ntp_time() >> 14) & 0x00FFFFFF
        return ext

    def _header_tail(self, timestamp: int) -> tuple[int, bytes]:
        """(first byte, header after the sequence number) of this frame's packets: as
        ``RtpPacket.serialize`` makes them with the negotiated extensions."""
        profile, value = self._get("rtp_header_extensions_map").set(self._extensions())
        tail = pack("!LL", timestamp, self.sender._ssrc)
        if value:
            return 0x90, tail + pack("!HH", profile, len(value) >> 2) + value
        return 0x80, tail

    def send(self, frame: RTCEncodedFrame, wire: _Wire) -> None:
        """One frame's packets to the wire, and the counters the sender reports carry."""
        protect, sendto, addr = wire.ready()
        timestamp = (self.ts_origin + frame.timestamp) & 0xFFFFFFFF
        first, tail = self._header_tail(timestamp)
        payloads, seq, pt, octets = frame.payloads, self.seq, self.pt, 0
        last = len(payloads) - 1
        for i, payload in enumerate(payloads):
            sendto(protect(b"".join((pack("!BBH", first, pt | (i == last) << 7, seq), tail,
                                     payload))), addr)
            seq = (seq + 1) & 0xFFFF
            octets += len(payload)
        self._remember(self.seq, timestamp, payloads)
        self.seq = seq
        self._add("packet_count", len(payloads))
        self._add("octet_count", octets)
        setattr(self.sender, _P + "ntp_timestamp", clock.current_ntp_time())
        setattr(self.sender, _P + "rtp_timestamp", timestamp)

    def _remember(self, seq: int, timestamp: int, payloads: list[bytes]) -> None:
        if len(self.history) == self.history.maxlen:
            self.held -= len(self.history[0][2])
        self.history.append((seq, timestamp, payloads))
        self.held += len(payloads)

    def find(self, seq: int) -> RtpPacket | None:
        """The packet ``seq`` as first sent, if still held."""
        back = (self.seq - seq) & 0xFFFF  # 1 = the last packet sent
        if not 0 < back <= self.held:
            return None
        for first, timestamp, payloads in reversed(self.history):
            i = (seq - first) & 0xFFFF
            if i < len(payloads):
                packet = RtpPacket(self.pt, int(i == len(payloads) - 1), seq, timestamp,
                                   self.sender._ssrc, payloads[i])
                packet.extensions = self._extensions()
                return packet
        return None

    async def retransmit(self, seq: int) -> None:
        """Stands in for ``RTCRtpSender._retransmit`` (a NACK from the viewer)."""
        packet = self.find(seq)
        if packet is None:
            return
        rtx = self._get("rtx_payload_type")
        if rtx is not None:
            packet = wrap_rtx(packet, rtx, self.rtx_seq, self.sender._rtx_ssrc)
            self.rtx_seq = (self.rtx_seq + 1) & 0xFFFF
        data = packet.serialize(self._get("rtp_header_extensions_map"))
        with contextlib.suppress(ConnectionError):  # NACKs racing the viewer's leaving
            await self.sender.transport._send_rtp(data)

    async def run(self, codec: RTCRtpCodecParameters) -> None:
        """Stands in for ``RTCRtpSender._run_rtp``: until cancelled or disconnected."""
        try:
            wire = _Wire(self.sender)
        except AttributeError:
            log.warning("aiortc's transports lack the fields the relay's send loop uses: "
                        "this viewer's packets go through aiortc's own loop")
            vars(self.sender).pop("_retransmit")  # aiortc's own again, with its history
            return await self.aiortc_run(codec)
        self._get("rtp_started").set()
        self.pt = codec.payloadType or 0  # a negotiated codec always has one
        try:
            while True:
                self.send(await self.next_frame(codec), wire)
        except (asyncio.CancelledError, ConnectionError, MediaStreamError):
            pass
        except Exception:  # stop() waits for rtp_exited: never leave without it
            log.exception("webrtc: the RTP send loop failed")
        finally:
            track = self.sender.track
            if track is not None:
                track.stop()
            self._get("rtp_exited").set()


def without_rate_feedback(transceiver: RTCRtpTransceiver) -> None:
    """Answer without what drives bandwidth estimation (goog-remb, abs-send-time): the relay
    passes the camera's bitrate through and cannot act on an estimate, and each viewer's REMB
    (aiortc sends one per packet group while it sees overuse) costs the relay an RTCP receive.
    NACK and PLI stay. Call between setRemoteDescription and createAnswer."""
    if not hasattr(transceiver, "_codecs") or not hasattr(transceiver, "_headerExtensions"):
        return  # another aiortc: its default answer
    for codec in transceiver._codecs:
        codec.rtcpFeedback = [f for f in codec.rtcpFeedback if f.type != "goog-remb"]
    transceiver._headerExtensions = [
        e for e in transceiver._headerExtensions if e.uri != ABS_SEND_TIME
    ]


def take_over(sender: RTCRtpSender, next_frame: NextFrame) -> FrameSender | None:
    """Have ``sender`` send with a ``FrameSender`` (before its ``send()``); None (and aiortc's
    own loop) when this aiortc lacks what it needs."""
    if not supported(sender):
        log.warning("aiortc's RTCRtpSender lacks the fields the relay's send loop uses: "
                    "each viewer's packets go through aiortc's own loop")
        return None
    frames = FrameSender(sender, next_frame)
    setattr(sender, "_run_rtp", frames.run)  # noqa: B010
    setattr(sender, "_retransmit", frames.retransmit)  # noqa: B010
    return frames
