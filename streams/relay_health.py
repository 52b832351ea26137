"""The relay's health report: each stream's own health, with what only the relay knows of
it (viewers per transport, the packet core's upstream, the transcoder's load)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from streams.core.transcode import SUFFIX as TRANSCODED

if TYPE_CHECKING:
    from streams.core.stream import CameraStream
    from streams.packet.camera import PacketCamera
    from streams.relay import Relay


def report(relay: Relay) -> list[dict[str, object]]:
    out = []
    rtsp = relay.rtsp.sessions_per_camera() if relay.rtsp else {}
    for stream in (*relay.streams.values(), *relay.subs.values(), *_transcoding(relay)):
        h = stream.health()
        h["rtsp_viewers"] = rtsp.get(stream.camera_id, 0)
        packet = relay.packet_cameras.get(stream.camera_id)
        if packet is not None:
            _merge_packet_health(h, packet)
        h["webrtc_viewers"] = relay.whep.count(stream.camera_id)
        h["fmp4_viewers"] = relay.fmp4_viewers.get(stream.camera_id, 0)
        stats = relay.transcode_stats.get(stream.camera_id.removesuffix(TRANSCODED))
        if stream.camera_id.endswith(TRANSCODED) and stats is not None:
            h["transcode"] = stats.health()
        out.append(h)
    return out


def _transcoding(relay: Relay) -> list[CameraStream]:
    """The ``h264`` profiles that ran (an H.264 camera's idle one is no health entry)."""
    return [s for s in relay.transcodes.values() if s.upstream_connects or s.wanted()]


def _merge_packet_health(h: dict[str, object], packet: PacketCamera) -> None:
    """A packet-core camera's health: the state and rates of its one upstream (the
    GStreamer stream behind it pulls through the packet core), its RTSP readers."""
    p = packet.health()
    h["packet"] = p
    for key in ("state", "error", "fps", "bitrate_bps", "upstream_connects"):
        h[key] = p[key]
    h["codec"] = p["codec"] or h.get("codec")
    h["rtsp_viewers"] = p["rtsp_readers"]
