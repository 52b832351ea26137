"""The camera's video track from its SDP (aiortc's parser), and the SDP readers get."""

from __future__ import annotations

from dataclasses import dataclass

from aiortc import sdp as aiortc_sdp

from streams.core.media import SUPPORTED_CODECS


class SdpError(ValueError):
    """The camera's SDP has no usable video track."""


@dataclass(frozen=True)
class VideoTrack:
    codec: str  # "h264" | "h265"
    payload_type: int
    clock_rate: int
    fmtp: str  # "a=fmtp" parameters as the camera sent them ("" if none)
    control: str  # the track's a=control ("" if none)


def video_track(text: str) -> VideoTrack:
    """The first H.264/H.265 video track of a camera's SDP."""
    try:
        desc = aiortc_sdp.SessionDescription.parse(text)
    except (ValueError, IndexError, KeyError) as exc:
        raise SdpError(f"unreadable SDP: {exc}") from exc
    controls = _controls(text)
    for index, media in enumerate(desc.media):
        if media.kind != "video":
            continue
        for codec in media.rtp.codecs:
            name = codec.mimeType.split("/")[-1].lower()
            if name in SUPPORTED_CODECS:
                fmtp = ";".join(
                    k if v is None else f"{k}={v}" for k, v in (codec.parameters or {}).items()
                )
                return VideoTrack(
                    name, codec.payloadType or 96, codec.clockRate or 90000, fmtp,
                    controls[index] if index < len(controls) else "",
                )
        names = [c.mimeType for c in media.rtp.codecs]
        raise SdpError(f"unsupported codec {names} (the packet core passes H.264 and H.265)")
    raise SdpError("camera offers no video track")


def _controls(text: str) -> list[str]:
    """``a=control`` of each media section (aiortc does not keep it)."""
    out: list[str] = []
    for line in text.splitlines():
        if line.startswith("m="):
            out.append("")
        elif line.startswith("a=control:") and out:
            out[-1] = line[len("a=control:"):].strip()
    return out


def reader_sdp(track: VideoTrack, host: str) -> bytes:
    """The SDP a reader gets: the camera's video track alone, at control ``trackID=0``."""
    encoding = {"h264": "H264", "h265": "H265"}[track.codec]
    pt = track.payload_type
    lines = [
        "v=0",
        f"o=- 0 0 IN IP4 {host}",
        "s=cityhub",
        "t=0 0",
        "a=control:*",
        "a=range:npt=now-",
        f"m=video 0 RTP/AVP {pt}",
        "c=IN IP4 0.0.0.0",
        f"a=rtpmap:{pt} {encoding}/{track.clock_rate}",
    ]
    if track.fmtp:
        lines.append(f"a=fmtp:{pt} {track.fmtp}")
    lines.append("a=control:trackID=0")
    return ("\r\n".join(lines) + "\r\n").encode()
