"""MANSRTSP (GB/T 28181-2016 annex B): playback control sent in the call as SIP ``INFO``
with ``Content-Type: Application/MANSRTSP``: ``PAUSE`` (``PauseTime: now``), ``PLAY``
(resume: ``Range: npt=now-``), ``PLAY`` with ``Scale`` (speed) or ``Range: npt=<s>-`` (seek
to s seconds from the start of the requested window). Written exactly, read leniently."""

from __future__ import annotations

from dataclasses import dataclass

CONTENT_TYPE = "Application/MANSRTSP"
MAX_BODY = 1024
#: Speeds a device is asked for (GB/T 28181 lists 0.25 to 4; NVRs commonly go to 8).
SCALES = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


class MansrtspError(ValueError):
    pass


@dataclass(frozen=True)
class Command:
    method: str  #: PLAY or PAUSE (TEARDOWN is read, though BYE ends a call)
    cseq: int
    scale: float | None = None
    npt: float | None = None  #: seek to this offset (s); None: resume where paused


def pause(cseq: int) -> bytes:
    return _lines("PAUSE", cseq, ["PauseTime: now"])


def play(cseq: int, scale: float | None = None, npt: float | None = None) -> bytes:
    """Resume (no argument), change speed (``scale``) and/or seek (``npt`` seconds)."""
    extra = [f"Scale: {scale:g}"] if scale is not None else []
    extra.append(f"Range: npt={npt:g}-" if npt is not None else "Range: npt=now-")
    return _lines("PLAY", cseq, extra)


def _lines(method: str, cseq: int, extra: list[str]) -> bytes:
    return ("\r\n".join([f"{method} RTSP/1.0", f"CSeq: {cseq}", *extra]) + "\r\n\r\n").encode()


def parse(body: bytes) -> Command:
    if len(body) > MAX_BODY:
        raise MansrtspError(f"MANSRTSP body of {len(body)} bytes")
    lines = body.decode("utf-8", errors="replace").replace("\r\n", "\n").strip().split("\n")
    method, _, version = lines[0].partition(" ")
    if method not in ("PLAY", "PAUSE", "TEARDOWN") or not version.startswith("RTSP/"):
        raise MansrtspError(f"not a MANSRTSP request: {lines[0][:40]!r}")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    try:
        cseq = int(headers.get("cseq", "0"))
        scale = float(headers["scale"]) if "scale" in headers else None
        npt = _npt(headers.get("range", ""))
    except ValueError:
        raise MansrtspError("bad CSeq, Scale or Range") from None
    if scale is not None and not 0 < scale <= 64:
        raise MansrtspError(f"scale {scale} out of range")
    return Command(method, cseq, scale, npt)


def _npt(value: str) -> float | None:
    """``npt=12.5-`` -> 12.5; ``npt=now-`` or nothing -> None."""
    start = value.removeprefix("npt=").split("-", 1)[0].strip()
    if not start or start == "now":
        return None
    seconds = float(start)
    if seconds < 0:
        raise ValueError(seconds)
    return seconds
