"""RTSP over TCP: messages and ``$``-interleaved frames on one byte stream (RFC 2326 §10.12).

Only the framing the packet core needs: split a received buffer into interleaved frames and
whole RTSP messages, parse a message's start line and headers, format a message. Malformed
input raises :class:`WireError` (the caller drops the connection), never anything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DOLLAR = 0x24
MAX_HEAD = 16 * 1024  #: longest RTSP start line + headers accepted
MAX_BODY = 64 * 1024  #: longest RTSP body (an SDP) accepted
METHODS = frozenset(
    {"OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER",
     "SET_PARAMETER", "ANNOUNCE", "RECORD", "REDIRECT"}
)


class WireError(ValueError):
    """The peer sent bytes that are neither an interleaved frame nor an RTSP message."""


@dataclass
class Message:
    """An RTSP request (``method``, ``url``) or response (``status``, ``reason``)."""

    method: str = ""
    url: str = ""
    status: int = 0
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


def parse_head(head: bytes) -> Message:
    """Start line and headers of one message (without the blank line)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WireError("RTSP header is not UTF-8") from exc
    lines = text.split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) != 3:
        raise WireError(f"bad RTSP start line {lines[0][:80]!r}")
    msg = Message()
    if parts[0].startswith("RTSP/"):
        if not parts[1].isdigit() or len(parts[1]) != 3:
            raise WireError(f"bad RTSP status {parts[1][:20]!r}")
        msg.status, msg.reason = int(parts[1]), parts[2]
    elif parts[0] in METHODS and parts[2].startswith("RTSP/"):
        msg.method, msg.url = parts[0], parts[1]
    else:
        raise WireError(f"bad RTSP start line {lines[0][:80]!r}")
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise WireError(f"bad RTSP header {line[:80]!r}")
        key = name.strip().lower()
        old = msg.headers.get(key)  # repeated (WWW-Authenticate: Digest, then Basic): all kept
        msg.headers[key] = value.strip() if old is None else f"{old}\n{value.strip()}"
    return msg


def split(buf: bytearray) -> tuple[list[tuple[int, int]], list[Message], int]:
    """Complete items at the start of ``buf``: interleaved frames as (start, end) offsets of
    the whole frame (``$``, channel, length, packet), RTSP messages, and the bytes consumed.

    Offsets, not copies: the caller slices (or rewrites in place) what it forwards.
    """
    frames: list[tuple[int, int]] = []
    msgs: list[Message] = []
    n, i = len(buf), 0
    while i < n:
        if buf[i] == DOLLAR:
            if n - i < 4:
                break
            end = i + 4 + ((buf[i + 2] << 8) | buf[i + 3])
            if end > n:
                break
            frames.append((i, end))
            i = end
            continue
        head_end = buf.find(b"\r\n\r\n", i, i + MAX_HEAD + 4)
        if head_end < 0:
            if n - i > MAX_HEAD or not _may_start_message(buf, i):
                raise WireError("expected an RTSP message or an interleaved frame")
            break
        msg = parse_head(bytes(buf[i:head_end]))
        length = msg.header("content-length", "0")
        if not length.isdigit() or int(length) > MAX_BODY:
            raise WireError(f"bad Content-Length {length[:20]!r}")
        body_end = head_end + 4 + int(length)
        if body_end > n:
            break
        msg.body = bytes(buf[head_end + 4 : body_end])
        msgs.append(msg)
        i = body_end
    return frames, msgs, i


def _may_start_message(buf: bytearray, i: int) -> bool:
    """Whether the incomplete bytes at ``i`` can still become an RTSP start line."""
    word = bytes(buf[i : i + 14]).split(b" ", 1)[0]
    if not word:
        return True
    return any(
        m.startswith(word) or word.startswith(m)
        for m in (b"RTSP/", *(x.encode() for x in METHODS))
    )


def response(status: int, reason: str, cseq: str, headers: dict[str, str] | None = None,
             body: bytes = b"") -> bytes:
    lines = [f"RTSP/1.0 {status} {reason}", f"CSeq: {cseq}", "Server: cityhub"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def request(method: str, url: str, cseq: int, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {url} RTSP/1.0", f"CSeq: {cseq}", "User-Agent: cityhub"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
