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
import unicodedata
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from adapters.base import AdapterError
from adapters.checks import clean_text

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
#: CJK ideographs and punctuation, full-width forms: what Chinese device text is made of.
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef\u00b7\u2014-\u201d]")
MAX_TEXT = 4096


def _mojibake(text: str) -> bool:
    """Characters no device text holds: private-use or unassigned code points (what a wrong
    legacy codec makes of bytes), or the replacement character."""
    return any(
        c == "\ufffd" or unicodedata.category(c) in ("Co", "Cn") for c in text if ord(c) > 0x7F
    )


def _utf8_under_gb_label(payload: bytes) -> str | None:
    """The text if a GB-labelled payload is really UTF-8 Chinese, else None.

    GBK trail bytes are rarely valid UTF-8 continuation bytes, so Chinese in GBK is almost
    never valid UTF-8; UTF-8 read as GB18030 becomes mojibake. Only a decode that yields
    CJK text (no Latin-1/Cyrillic lookalikes) is taken.
    """
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return None
    wide = [c for c in text if ord(c) > 0x7F]
    if wide and all(_CJK.match(c) for c in wide):
        return text
    return None


def decode_xml(payload: bytes) -> str:
    """The document as text, read with its declared encoding (UTF-8 when none is declared).

    A payload whose bytes do not match its label is never stored as mojibake: GBK under a
    GB2312 label is read as GBK (GB18030 is a superset of both); UTF-8 Chinese under a GB
    label is read as UTF-8; anything else is refused with ``invalid_encoding``.
    """
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
            f"invalid_encoding: unsupported XML encoding {declared!r} "
            "(accepted: UTF-8, GB2312/GBK/GB18030)"
        )
    if codec == "gb18030" and (utf8 := _utf8_under_gb_label(payload)) is not None:
        return utf8
    try:
        text = payload.decode(codec)
    except UnicodeDecodeError as exc:
        raise AdapterError(
            f"invalid_encoding: payload is not valid {declared.upper()} as declared "
            f"(byte {exc.start})"
        ) from None
    if _mojibake(text):
        raise AdapterError(
            f"invalid_encoding: payload decoded as {declared.upper()} holds private-use or "
            "unassigned characters"
        )
    return text


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
    clean_text(value, f"<{name}>", MAX_TEXT, multiline=True)
    return value or None


def to_dict(el: Element, depth: int = 0) -> Any:
    """Element as plain data: text for leaves, dict for parents, lists for repeated children."""
    if depth > MAX_DEPTH:
        raise AdapterError(f"XML nested deeper than {MAX_DEPTH} levels")
    kids = list(el)
    if not kids:
        value = (el.text or "").strip()
        clean_text(value, f"<{local(el.tag)}>", MAX_TEXT, multiline=True)
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
