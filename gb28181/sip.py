"""The SIP subset GB/T 28181 uses (RFC 3261): parse, frame on TCP, build replies.

Hostile input raises ``SipError`` with a reason; nothing here trusts a length,
a header count or an encoding the peer announced.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

MAX_MESSAGE = 64 * 1024  #: a Catalog page is a few kB; anything bigger is refused
MAX_HEADERS = 64
COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
           "l": "content-length", "c": "content-type", "k": "supported", "s": "subject"}
_REQUEST = re.compile(r"^([A-Z]{3,12}) (\S{1,512}) SIP/2\.0$")
_STATUS = re.compile(r"^SIP/2\.0 (\d{3}) ?(.{0,128})$")
_URI_USER = re.compile(r"sips?:([^@;>\s]{1,64})@?([^;>\s]*)")


class SipError(ValueError):
    """A message that is not SIP as far as this service is concerned."""


@dataclass
class SipMessage:
    method: str | None = None  #: request method (None for a response)
    uri: str = ""
    status: int = 0
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return self.method is not None

    def get(self, name: str, default: str | None = None) -> str | None:
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k == name]

    def set(self, name: str, value: str) -> None:
        name = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k != name]
        self.headers.append((name, value))

    @property
    def call_id(self) -> str:
        return self.get("call-id") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        raw = (self.get("cseq") or "").split()
        try:
            return int(raw[0]), (raw[1] if len(raw) > 1 else "")
        except (IndexError, ValueError):
            return 0, ""

    def user_of(self, header: str) -> str:
        """The user part of the From/To URI (a GB/T 28181 20-digit ID)."""
        return uri_user(self.get(header) or "")

    def tag_of(self, header: str) -> str | None:
        m = re.search(r";\s*tag=([^;\s>]+)", self.get(header) or "")
        return m.group(1) if m else None

    def encode(self) -> bytes:
        first = (f"{self.method} {self.uri} SIP/2.0" if self.method
                 else f"SIP/2.0 {self.status} {self.reason}")
        lines = [first]
        for k, v in self.headers:
            if k != "content-length":
                lines.append(f"{_canon(k)}: {v}")
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def uri_user(uri: str) -> str:
    """The user part of a SIP URI (``sip:<id>@host``), or ''."""
    m = _URI_USER.search(uri)
    return m.group(1) if m else ""


def _canon(name: str) -> str:
    special = {"call-id": "Call-ID", "cseq": "CSeq", "www-authenticate": "WWW-Authenticate"}
    return special.get(name) or "-".join(p.capitalize() for p in name.split("-"))


def parse(data: bytes) -> SipMessage:
    """One whole SIP message (a UDP datagram, or a frame cut by ``TcpFramer``)."""
    if len(data) > MAX_MESSAGE:
        raise SipError(f"message of {len(data)} bytes exceeds {MAX_MESSAGE}")
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head.decode("gb18030", errors="replace")  # headers are ASCII; be lenient
    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or not lines[0]:
        raise SipError("empty start line")
    msg = SipMessage()
    if m := _REQUEST.match(lines[0]):
        msg.method, msg.uri = m.group(1), m.group(2)
    elif m := _STATUS.match(lines[0]):
        msg.status, msg.reason = int(m.group(1)), m.group(2)
    else:
        raise SipError(f"not a SIP start line: {lines[0][:60]!r}")
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and msg.headers:  # folded continuation
            k, v = msg.headers[-1]
            msg.headers[-1] = (k, v + " " + line.strip())
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or " " in name.strip():
            raise SipError(f"malformed header line {line[:40]!r}")
        name = name.strip().lower()
        msg.headers.append((COMPACT.get(name, name), value.strip()))
        if len(msg.headers) > MAX_HEADERS:
            raise SipError("too many headers")
    for required in ("via", "from", "to", "call-id", "cseq"):
        if msg.get(required) is None:
            raise SipError(f"missing {required} header")
    length = content_length(msg)
    if length is not None:
        if length > len(body):
            raise SipError(f"body shorter than Content-Length {length}")
        body = body[:length]
    msg.body = body
    return msg


def content_length(msg: SipMessage) -> int | None:
    raw = msg.get("content-length")
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) > MAX_MESSAGE:
        raise SipError(f"bad Content-Length {raw[:12]!r}")
    return int(raw)


class TcpFramer:
    """Cuts a TCP byte stream into messages by Content-Length (RFC 3261 18.3)."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self.buffer += data
        out: list[bytes] = []
        while True:
            while self.buffer[:2] == b"\r\n":  # keepalive CRLFs between messages
                del self.buffer[:2]
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_MESSAGE:
                    raise SipError("header block exceeds the message limit")
                return out
            m = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)[ \t]*\r?$",
                          bytes(self.buffer[:end]))
            length = int(m.group(1)) if m else 0
            total = end + 4 + length
            if total > MAX_MESSAGE:
                raise SipError(f"message of {total} bytes exceeds {MAX_MESSAGE}")
            if len(self.buffer) < total:
                return out
            out.append(bytes(self.buffer[:total]))
            del self.buffer[:total]


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def response(req: SipMessage, status: int, reason: str, body: bytes = b"",
             content_type: str | None = None, to_tag: str | None = None) -> SipMessage:
    """A response to ``req`` with its Via/From/To/Call-ID/CSeq (To tagged once)."""
    out = SipMessage(status=status, reason=reason, body=body)
    for v in req.get_all("via"):
        out.headers.append(("via", v))
    out.headers.append(("from", req.get("from") or ""))
    to = req.get("to") or ""
    if "tag=" not in to:
        to += f";tag={to_tag or new_tag()}"
    out.headers += [("to", to), ("call-id", req.call_id), ("cseq", req.get("cseq") or "")]
    out.headers.append(("user-agent", "cityhub"))
    if content_type:
        out.headers.append(("content-type", content_type))
    return out


def request(method: str, uri: str, *, via_host: str, via_port: int, transport: str,
            from_uri: str, from_tag: str, to_uri: str, call_id: str, cseq: int,
            body: bytes = b"", content_type: str | None = None, to_tag: str | None = None,
            extra: list[tuple[str, str]] | None = None) -> SipMessage:
    msg = SipMessage(method=method, uri=uri, body=body)
    msg.headers = [
        ("via", f"SIP/2.0/{transport.upper()} {via_host}:{via_port};rport;branch={new_branch()}"),
        ("from", f"<{from_uri}>;tag={from_tag}"),
        ("to", f"<{to_uri}>" + (f";tag={to_tag}" if to_tag else "")),
        ("call-id", call_id),
        ("cseq", f"{cseq} {method}"),
        ("max-forwards", "70"),
        ("user-agent", "cityhub"),
    ]
    msg.headers += extra or []
    if content_type:
        msg.headers.append(("content-type", content_type))
    return msg


def expires_of(msg: SipMessage, default: int = 3600) -> int:
    """The registration time asked for (Expires header, or the Contact's expires)."""
    raw = msg.get("expires")
    if raw is None:
        m = re.search(r"expires=(\d+)", msg.get("contact") or "")
        raw = m.group(1) if m else None
    if raw is None:
        return default
    try:
        return max(0, min(int(raw.strip()), 10**7))
    except ValueError:
        raise SipError(f"bad Expires {raw[:12]!r}") from None
