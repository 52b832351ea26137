"""Parsing XML from cameras and platforms without trusting it.

Devices declare GB2312 (really GBK/GB18030 in practice) or UTF-8; Python's
expat cannot read multi-byte legacy encodings, so the payload is decoded here
with the declared codec (a wrong declaration is an error, never a guess) and
parsed by defusedxml with DTDs forbidden, which rules out entity expansion
("billion laughs") and external entities. Elements become plain dicts with
bounded depth and size so that unknown fields can be kept as attributes.
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from adapters.base import AdapterError

#: Declared encodings accepted, mapped to the Python codec used to read them.
ENCODINGS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "us-ascii": "ascii",
    "ascii": "ascii",
    # GB2312 devices routinely send GBK characters; GB18030 is a superset of both.
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "gb18030": "gb18030",
}
_DECL = re.compile(rb"^\s*<\?xml[^>]*?\?>", re.S)
_ENC = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']""")
MAX_DEPTH = 12
MAX_TEXT = 4096


def decode_xml(payload: bytes) -> str:
    """The document as text, read with its declared encoding (UTF-8 when none is declared)."""
    if payload.startswith(b"\xef\xbb\xbf"):
        payload = payload[3:]
    decl = _DECL.match(payload)
    declared = "utf-8"
    if decl:
        m = _ENC.search(decl.group(0))
        if m:
            declared = m.group(1).decode("ascii").lower()
        payload = payload[decl.end() :]
    codec = ENCODINGS.get(declared)
    if codec is None:
        raise AdapterError(
            f"unsupported XML encoding {declared!r} (accepted: UTF-8, GB2312/GBK/GB18030)"
        )
    try:
        return payload.decode(codec)
    except UnicodeDecodeError as exc:
        raise AdapterError(
            f"payload is not valid {declared.upper()} as declared (byte {exc.start})"
        ) from None


def parse_xml(payload: bytes) -> Element:
    """A parsed root element, or AdapterError naming what is wrong."""
    text = decode_xml(payload)
    try:
        root = SafeET.fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise AdapterError(f"forbidden XML construct: {type(exc).__name__}") from None
    except ParseError as exc:
        raise AdapterError(f"malformed XML: {exc}") from None
    return root


def local(tag: str) -> str:
    """Tag without its namespace: ISAPI devices use several namespace URIs for one schema."""
    return tag.rsplit("}", 1)[-1]


def child(el: Element, name: str) -> Element | None:
    for c in el:
        if local(c.tag) == name:
            return c
    return None


def text(el: Element, name: str) -> str | None:
    """Stripped text of the first child called ``name`` (namespace ignored)."""
    c = child(el, name)
    if c is None or c.text is None:
        return None
    value = c.text.strip()
    if len(value) > MAX_TEXT:
        raise AdapterError(f"element <{name}> is longer than {MAX_TEXT} characters")
    return value or None


def to_dict(el: Element, depth: int = 0) -> Any:
    """Element as plain data: text for leaves, dict for parents, lists for repeated children."""
    if depth > MAX_DEPTH:
        raise AdapterError(f"XML nested deeper than {MAX_DEPTH} levels")
    kids = list(el)
    if not kids:
        value = (el.text or "").strip()
        if len(value) > MAX_TEXT:
            raise AdapterError(f"element <{local(el.tag)}> is longer than {MAX_TEXT} characters")
        return value
    out: dict[str, Any] = {}
    for c in kids:
        key = local(c.tag)
        value = to_dict(c, depth + 1)
        if key in out:
            if not isinstance(out[key], list):
                out[key] = [out[key]]
            out[key].append(value)
        else:
            out[key] = value
    return out


def extras(el: Element, known: set[str]) -> dict[str, Any]:
    """Children of ``el`` the adapter does not map, kept as data (nothing unknown is dropped)."""
    out: dict[str, Any] = {}
    for c in el:
        key = local(c.tag)
        if key not in known:
            out[key] = to_dict(c, 1)
    return out
