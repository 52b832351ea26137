"""MANSCDP XML bodies (GB/T 28181 annex A): Keepalive, Catalog, DeviceInfo, DeviceStatus,
Alarm. Parsing follows the adapters' XML rules (adapters.xmlsafe: declared encoding,
GB2312 read as GB18030, no DTD/entities, bounded size and depth)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from adapters.base import AdapterError
from adapters.xmlsafe import child, local, parse_xml, text, to_dict

MAX_BODY = 48 * 1024
CONTENT_TYPE = "Application/MANSCDP+xml"
#: A bare ``&`` in a device name is the commonest way real devices break their XML.
_BARE_AMP = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos|#\d{1,7}|#x[0-9a-fA-F]{1,6});)")


class BodyError(ValueError):
    """A MANSCDP body this service will not read (the reason is logged)."""


@dataclass(frozen=True)
class Doc:
    root: str  #: Query / Response / Notify / Control
    cmd: str
    sn: int
    device_id: str
    el: Element


@dataclass(frozen=True)
class CatalogItem:
    id: str
    name: str
    status: str  #: "ON" / "OFF" as the device says it
    civil_code: str | None = None
    parent: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    lat: float | None = None
    lon: float | None = None
    event: str | None = None  #: catalog NOTIFY: ADD / DEL / UPDATE / ON / OFF / VLOST / DEFECT


def read(body: bytes) -> Doc:
    """The document's root, CmdType, SN and DeviceID; BodyError when unreadable."""
    if len(body) > MAX_BODY:
        raise BodyError(f"MANSCDP body of {len(body)} bytes exceeds {MAX_BODY}")
    try:
        root = parse_xml(body)
    except AdapterError as exc:
        if "malformed" not in str(exc) or not _BARE_AMP.search(body):
            raise BodyError(str(exc)) from None
        try:  # quirk: a device name with a bare '&' (seen on NVRs); escape and retry once
            root = parse_xml(_BARE_AMP.sub(b"&amp;", body))
        except AdapterError as again:
            raise BodyError(str(again)) from None
    try:
        sn = int(text(root, "SN") or "0")
    except (ValueError, AdapterError):
        raise BodyError("<SN> is not a number") from None
    device = text(root, "DeviceID") or ""
    if not device.isalnum() or len(device) > 32:
        raise BodyError("<DeviceID> missing or malformed")
    return Doc(local(root.tag), text(root, "CmdType") or "", sn, device, root)


def _float(value: str | None) -> float | None:
    try:
        f = float(value) if value else None
    except ValueError:
        return None
    return f if f else None  # 0 means "no position" on most devices


def catalog(doc: Doc) -> tuple[int | None, list[CatalogItem]]:
    """(SumNum, items of this page) of a Catalog response or catalog NOTIFY."""
    try:
        total = int(text(doc.el, "SumNum") or "") if text(doc.el, "SumNum") else None
    except ValueError:
        raise BodyError("<SumNum> is not a number") from None
    items: list[CatalogItem] = []
    lst = child(doc.el, "DeviceList")
    for it in lst if lst is not None else []:
        if local(it.tag) != "Item":
            continue
        cid = text(it, "DeviceID") or ""
        if not cid.isalnum() or len(cid) > 32:
            continue  # an item without an ID cannot become a camera
        lat, lon = _float(text(it, "Latitude")), _float(text(it, "Longitude"))
        if lat is not None and not -90 <= lat <= 90 or lon is not None and not -180 <= lon <= 180:
            lat = lon = None
        items.append(CatalogItem(
            id=cid, name=(text(it, "Name") or cid)[:200],
            status=(text(it, "Status") or "ON").upper()[:8],
            civil_code=text(it, "CivilCode"), parent=text(it, "ParentID"),
            manufacturer=text(it, "Manufacturer"), model=text(it, "Model"),
            lat=lat, lon=lon, event=(text(it, "Event") or None),
        ))
    return total, items


def text_of(doc: Doc, name: str) -> str | None:
    """The text of a direct child of the document (bounded by xmlsafe)."""
    return text(doc.el, name)


def fields(doc: Doc) -> dict[str, object]:
    """A DeviceInfo / DeviceStatus response as plain data (bounded by xmlsafe)."""
    data = to_dict(doc.el)
    return data if isinstance(data, dict) else {}


def query(cmd: str, sn: int, device_id: str, extra: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="GB2312"?>\r\n<Query>\r\n<CmdType>{cmd}</CmdType>\r\n'
            f"<SN>{sn}</SN>\r\n<DeviceID>{escape(device_id)}</DeviceID>\r\n{extra}</Query>\r\n"
            ).encode("gb18030")


def notify(cmd: str, sn: int, device_id: str, extra: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>{cmd}</CmdType>\r\n'
            f"<SN>{sn}</SN>\r\n<DeviceID>{escape(device_id)}</DeviceID>\r\n{extra}</Notify>\r\n"
            ).encode("gb18030")


def response(cmd: str, sn: int, device_id: str, extra: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="GB2312"?>\r\n<Response>\r\n<CmdType>{cmd}</CmdType>'
            f"\r\n<SN>{sn}</SN>\r\n<DeviceID>{escape(device_id)}</DeviceID>\r\n{extra}"
            "</Response>\r\n").encode("gb18030")


def catalog_pages(sn: int, device_id: str, items: list[CatalogItem], per_page: int = 4
                  ) -> list[bytes]:
    """A Catalog response split into MESSAGEs of ``per_page`` items (as devices do)."""
    pages = [items[i:i + per_page] for i in range(0, len(items), per_page)] or [[]]
    out = []
    for page in pages:
        rows = "".join(_item_xml(it) for it in page)
        out.append(response("Catalog", sn, device_id,
                            f"<SumNum>{len(items)}</SumNum>\r\n"
                            f'<DeviceList Num="{len(page)}">\r\n{rows}</DeviceList>\r\n'))
    return out


def catalog_notify(sn: int, device_id: str, items: list[CatalogItem]) -> bytes:
    """A catalog NOTIFY (A.2.5.2): the changed items, each with its ``Event``."""
    rows = "".join(_item_xml(it) for it in items)
    return notify("Catalog", sn, device_id, f"<SumNum>{len(items)}</SumNum>\r\n"
                  f'<DeviceList Num="{len(items)}">\r\n{rows}</DeviceList>\r\n')


def _item_xml(it: CatalogItem) -> str:
    parts = [f"<DeviceID>{escape(it.id)}</DeviceID>", f"<Name>{escape(it.name)}</Name>",
             f"<Manufacturer>{escape(it.manufacturer or '')}</Manufacturer>",
             f"<Model>{escape(it.model or '')}</Model>",
             f"<CivilCode>{escape(it.civil_code or '')}</CivilCode>",
             f"<ParentID>{escape(it.parent or '')}</ParentID>",
             f"<Status>{escape(it.status)}</Status>"]
    if it.lat is not None and it.lon is not None:
        parts += [f"<Longitude>{it.lon:.6f}</Longitude>", f"<Latitude>{it.lat:.6f}</Latitude>"]
    if it.event:
        parts.append(f"<Event>{escape(it.event)}</Event>")
    return "<Item>" + "".join(parts) + "</Item>\r\n"
