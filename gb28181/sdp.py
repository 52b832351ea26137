"""The SDP GB/T 28181 uses for INVITE (RFC 4566 plus ``y=`` SSRC and ``f=`` media format).

Generic SDP libraries reject or drop ``y=``/``f=`` lines; the subset here is a handful
of lines, read leniently (unknown lines kept aside) and written exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_SDP = 8192


class SdpError(ValueError):
    pass


@dataclass
class MediaOffer:
    host: str
    port: int
    transport: str = "udp"  #: udp / tcp-passive / tcp-active (the offerer's side)
    ssrc: str = ""  #: 10 digits: 0 live / 1 playback, 5 from the domain, 4 serial
    session: str = "Play"
    owner: str = "0"
    direction: str = "recvonly"
    payloads: dict[int, str] = field(default_factory=lambda: {96: "PS/90000"})
    extra: list[str] = field(default_factory=list)
    #: ``t=`` start and end (s since 1970, as GB/T 28181 Playback uses it); (0, 0) for live
    times: tuple[int, int] = (0, 0)
    uri: str = ""  #: ``u=`` (Playback: ``<channel>:0``)


def make_ssrc(domain: str, serial: int, playback: bool = False) -> str:
    return f"{1 if playback else 0}{domain[3:8].rjust(5, '0')}{serial % 10000:04d}"


def build(o: MediaOffer) -> bytes:
    proto = "RTP/AVP" if o.transport == "udp" else "TCP/RTP/AVP"
    lines = ["v=0", f"o={o.owner} 0 0 IN IP4 {o.host}", f"s={o.session}", f"c=IN IP4 {o.host}",
             *([f"u={o.uri}"] if o.uri else []), f"t={o.times[0]} {o.times[1]}",
             f"m=video {o.port} {proto} {' '.join(str(p) for p in o.payloads)}",
             f"a={o.direction}"]
    lines += [f"a=rtpmap:{p} {name}" for p, name in o.payloads.items()]
    if o.transport != "udp":
        lines += [f"a=setup:{o.transport.split('-')[1]}", "a=connection:new"]
    lines += o.extra
    if o.ssrc:
        lines.append(f"y={o.ssrc}")
    return ("\r\n".join(lines) + "\r\n").encode()


def parse(data: bytes) -> MediaOffer:
    if len(data) > MAX_SDP:
        raise SdpError(f"SDP of {len(data)} bytes exceeds {MAX_SDP}")
    text = data.decode("utf-8", errors="replace")
    o = MediaOffer(host="", port=0, payloads={})
    media_host, proto, setup = "", "RTP/AVP", ""
    for raw in text.replace("\r\n", "\n").split("\n"):
        kind, eq, value = raw.strip().partition("=")
        if not eq or len(kind) != 1:
            continue
        if kind == "o":
            o.owner = value.split(" ", 1)[0][:64]
        elif kind == "s":
            o.session = value[:64]
        elif kind == "t":
            o.times = _times(value)
        elif kind == "u":
            o.uri = value.strip()[:128]
        elif kind == "c":
            parts = value.split()
            if len(parts) == 3:
                media_host = parts[2].split("/")[0]
        elif kind == "m":
            parts = value.split()
            if len(parts) < 3 or parts[0] != "video" or not parts[1].isdigit():
                raise SdpError(f"unsupported m= line {value[:60]!r}")
            o.port, proto = int(parts[1]), parts[2].upper()
        elif kind == "a" and value.startswith("rtpmap:"):
            pt, _, name = value[7:].partition(" ")
            if pt.isdigit():
                o.payloads[int(pt)] = name.strip()[:32]
        elif kind == "a" and value.startswith("setup:"):
            setup = value[6:].strip().lower()
        elif kind == "a" and value in ("recvonly", "sendonly", "sendrecv", "inactive"):
            o.direction = value
        elif kind == "y":
            o.ssrc = value.strip()[:10]
        elif kind == "f" or (kind == "a" and value.startswith("downloadspeed:")):
            o.extra.append(raw.strip()[:128])  # f=: media format; 2022 Download speed
    if not media_host or not 0 < o.port < 65536:
        raise SdpError("SDP without a media address and port")
    o.host = media_host
    o.transport = "udp" if "TCP" not in proto else f"tcp-{setup or 'passive'}"
    return o


def _times(value: str) -> tuple[int, int]:
    parts = value.split()
    if len(parts) != 2 or not all(p.isdigit() and len(p) <= 12 for p in parts):
        raise SdpError(f"bad t= line {value[:40]!r}")
    return int(parts[0]), int(parts[1])
