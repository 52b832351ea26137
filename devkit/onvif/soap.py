"""SOAP 1.2 plumbing of the simulator: parse a request, check WS-UsernameToken, answer.

Templated XML is enough for a dev tool; the product's client is onvif-zeep-async.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from xml.etree.ElementTree import Element

from defusedxml import ElementTree

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
    "tt": "http://www.onvif.org/ver10/schema",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tptz": "http://www.onvif.org/ver20/ptz/wsdl",
    "ter": "http://www.onvif.org/ver10/error",
}
DIGEST = "#PasswordDigest"
MAX_CLOCK_SKEW = timedelta(minutes=5)
CONTENT_TYPE = "application/soap+xml; charset=utf-8"


class Fault(Exception):
    """Answered as a SOAP fault: ``code`` Sender/Receiver, ``subcode`` an ONVIF ter: code."""

    def __init__(self, subcode: str, reason: str, code: str = "Sender", status: int = 400):
        super().__init__(reason)
        self.subcode, self.reason, self.code, self.status = subcode, reason, code, status


@dataclass(frozen=True)
class Request:
    operation: str  #: local name of the body's first element
    body: Element  #: that element
    header: Element | None


def parse(data: bytes) -> Request:
    try:
        root = ElementTree.fromstring(data)
    except Exception as exc:  # defusedxml raises several types for hostile or broken XML
        raise Fault("ter:WellFormed", f"not well-formed XML: {exc}") from None
    body = root.find("s:Body", NS)
    if body is None or len(body) == 0:
        raise Fault("ter:WellFormed", "no SOAP 1.2 Body")
    op = body[0]
    return Request(op.tag.rsplit("}", 1)[-1], op, root.find("s:Header", NS))


def check_auth(req: Request, username: str, password: str) -> None:
    """WS-UsernameToken with PasswordDigest (or PasswordText), Created within the skew."""
    token = None if req.header is None else req.header.find(
        "wsse:Security/wsse:UsernameToken", NS)
    if token is None:
        raise Fault("ter:NotAuthorized", "Sender not Authorized: no UsernameToken")
    user = token.findtext("wsse:Username", "", NS)
    pw = token.find("wsse:Password", NS)
    given = "" if pw is None else (pw.text or "")
    if pw is not None and pw.get("Type", "").endswith(DIGEST):
        nonce = base64.b64decode(token.findtext("wsse:Nonce", "", NS) or "")
        created = token.findtext("wsu:Created", "", NS)
        _check_fresh(created)
        want = base64.b64encode(
            hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()
    else:
        want = password
    if not (hmac.compare_digest(user, username) and hmac.compare_digest(given, want)):
        raise Fault("ter:NotAuthorized", "Sender not Authorized")


def _check_fresh(created: str) -> None:
    try:
        when = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        raise Fault("ter:NotAuthorized", "Sender not Authorized: bad Created") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if abs(datetime.now(UTC) - when) > MAX_CLOCK_SKEW:
        raise Fault("ter:NotAuthorized", "Sender not Authorized: Created out of range")


def envelope(body: str) -> bytes:
    xmlns = " ".join(f'xmlns:{k}="{v}"' for k, v in NS.items())
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<s:Envelope {xmlns}>'
            f"<s:Body>{body}</s:Body></s:Envelope>").encode()


def fault(f: Fault) -> bytes:
    return envelope(
        f"<s:Fault><s:Code><s:Value>s:{f.code}</s:Value><s:Subcode><s:Value>{f.subcode}"
        f"</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang=\"en\">{escape(f.reason)}"
        "</s:Text></s:Reason></s:Fault>")


def escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def text(el: Element, path: str) -> str | None:
    found = el.find(path, NS)
    return None if found is None else (found.text or "")


def vector(el: Element, path: str) -> tuple[float | None, float | None, float | None]:
    """(x, y) of ``path``/tt:PanTilt and x of ``path``/tt:Zoom (None where absent)."""
    pt, zoom = el.find(f"{path}/tt:PanTilt", NS), el.find(f"{path}/tt:Zoom", NS)
    try:
        return (None if pt is None else float(pt.get("x", "0")),
                None if pt is None else float(pt.get("y", "0")),
                None if zoom is None else float(zoom.get("x", "0")))
    except ValueError:
        raise Fault("ter:InvalidArgVal", f"{path}: not a number") from None
