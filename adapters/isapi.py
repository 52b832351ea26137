"""Hikvision ISAPI ``EventNotificationAlert`` XML: video alarms and ANPR plate reads.

Input format: adapters/docs/isapi.md. One alert is one event.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any
from xml.etree.ElementTree import Element

from adapters.base import (
    Adapted,
    Adapter,
    AdapterError,
    Heartbeat,
    Origin,
    document_event,
)
from adapters.checks import clean_text, parse_time
from adapters.model import MediaRef, Severity
from adapters.xmlsafe import child, extras, local, parse_xml, text
from core.model import Location, SourceSystem

#: ISAPI eventType -> (cityhub kind, severity while active).
EVENT_TYPES: dict[str, tuple[str, Severity]] = {
    "vmd": ("motion", Severity.minor),
    "linedetection": ("line_crossing", Severity.major),
    "fielddetection": ("intrusion", Severity.major),
    "regionentrance": ("region_entrance", Severity.minor),
    "regionexiting": ("region_exit", Severity.minor),
    "videoloss": ("video_loss", Severity.major),
    "shelteralarm": ("tampering", Severity.major),
    "tamperdetection": ("tampering", Severity.major),
    "anpr": ("plate_read", Severity.info),
}
#: Elements mapped to Event fields; every other child is kept in attributes["extra"].
KNOWN = {
    "ipAddress",
    "ipv6Address",
    "portNo",
    "protocol",
    "macAddress",
    "channelID",
    "dynChannelID",
    "GPSInfo",
    "GPS",
    "dateTime",
    "activePostCount",
    "eventType",
    "eventState",
    "eventDescription",
    "channelName",
    "ANPR",
    "vehicleInfo",
    "pictureInfoList",
    "DetectionRegionList",
    "deviceID",
}
PICTURE_KINDS = {
    "licenseplatepicture": "plate",
    "detectionpicture": "picture",
    "vehiclepicture": "picture",
}


def _int(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise AdapterError(f"<{name}> must be an integer, got {value[:20]!r}") from None


def _float(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise AdapterError(f"<{name}> must be a number, got {value[:20]!r}") from None


def _anpr(root: Element) -> tuple[dict[str, Any], list[MediaRef]]:
    anpr = child(root, "ANPR")
    if anpr is None:
        raise AdapterError("eventType ANPR without an <ANPR> element")
    plate = clean_text(text(anpr, "licensePlate"), "licensePlate", 16)
    if not plate:
        raise AdapterError("<ANPR> without <licensePlate>")
    vinfo = child(root, "vehicleInfo") or child(anpr, "vehicleInfo")
    attrs: dict[str, Any] = {
        "plate": plate,
        "plate_color": text(anpr, "plateColor"),
        "plate_type": text(anpr, "plateType"),
        "vehicle_type": text(anpr, "vehicleType"),
        "lane": _int(text(anpr, "line"), "line"),
        "direction": text(anpr, "direction"),
        "confidence": _float(text(anpr, "confidenceLevel"), "confidenceLevel"),
        "country": text(anpr, "country"),
    }
    if vinfo is not None:
        attrs["vehicle_color"] = text(vinfo, "color")
        attrs["speed_kmh"] = _float(text(vinfo, "speed"), "speed")
        attrs["vehicle_brand"] = text(vinfo, "vehicleLogoRecog")
    anpr_extra = extras(
        anpr,
        {
            "licensePlate",
            "plateColor",
            "plateType",
            "vehicleType",
            "line",
            "direction",
            "confidenceLevel",
            "country",
            "vehicleInfo",
            "pictureInfoList",
        },
    )
    if anpr_extra:
        attrs["anpr_extra"] = anpr_extra
    return {k: v for k, v in attrs.items() if v is not None}, _pictures(root, anpr)


def _pictures(root: Element, anpr: Element) -> list[MediaRef]:
    """``pictureInfoList`` beside ``<ANPR>`` or nested in it (both occur on real devices)."""
    media: list[MediaRef] = []
    for holder in (root, anpr):
        pics = child(holder, "pictureInfoList")
        media += _picture_refs(pics) if pics is not None else []
    return media


def _picture_refs(pics: Element) -> list[MediaRef]:
    media: list[MediaRef] = []
    for pic in pics:
        if local(pic.tag) != "pictureInfo":
            continue
        kind = PICTURE_KINDS.get((text(pic, "type") or "").lower(), "picture")
        uri = text(pic, "pictureURL") or (
            f"isapi-part:{text(pic, 'fileName')}" if text(pic, "fileName") else None
        )
        if uri:
            clean_text(uri, "pictureURL", 2048)
            media.append(MediaRef(kind=kind, uri=uri, content_type="image/jpeg"))
    return media


def _location(root: Element) -> Location | None:
    """``<GPSInfo>`` (or ``<GPS>``) in decimal degrees; 0/0 means the device has no fix."""
    gps = child(root, "GPSInfo")
    gps = gps if gps is not None else child(root, "GPS")
    if gps is None:
        return None
    lon = _float(text(gps, "longitude"), "longitude")
    lat = _float(text(gps, "latitude"), "latitude")
    if lon is None or lat is None or (lon == 0 and lat == 0):
        return None
    if (text(gps, "divisionEW") or "E").upper() == "W":
        lon = -abs(lon)
    if (text(gps, "divisionNS") or "N").upper() == "S":
        lat = -abs(lat)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise AdapterError("<GPSInfo> longitude/latitude are not a valid position")
    return Location(lat=lat, lon=lon)


def _regions(root: Element) -> list[dict[str, Any]]:
    """Detection regions and lines as data: id, sensitivity, target, points (x, y)."""
    found = child(root, "DetectionRegionList")
    out: list[dict[str, Any]] = []
    for entry in found if found is not None else []:
        if local(entry.tag) != "DetectionRegionEntry" or len(out) >= 16:
            continue
        coords = child(entry, "RegionCoordinatesList")
        points = [
            [_int(text(c, "positionX"), "positionX"), _int(text(c, "positionY"), "positionY")]
            for c in (coords if coords is not None else [])
            if local(c.tag) == "RegionCoordinates"
        ][:32]
        region = {
            "id": _int(text(entry, "regionID"), "regionID"),
            "sensitivity": _int(text(entry, "sensitivityLevel"), "sensitivityLevel"),
            "target": clean_text(text(entry, "detectionTarget"), "detectionTarget", 32),
            "direction": clean_text(text(entry, "direction"), "direction", 32),
            "points": points,
        }
        out.append({k: v for k, v in region.items() if v not in (None, [])})
    return out


def is_heartbeat(etype: str, state: str, active_posts: int | None) -> bool:
    """ISAPI keep-alive: ``videoloss``, ``inactive``, ``activePostCount`` 0 (no alarm)."""
    return etype.lower() == "videoloss" and state == "inactive" and active_posts == 0


class IsapiAdapter(Adapter):
    format = "isapi"
    systems = (SourceSystem.safecity, SourceSystem.traffic)
    content_type = "application/xml"
    summary = (
        "Hikvision ISAPI EventNotificationAlert: motion, line crossing, intrusion, "
        "video loss, tampering, ANPR"
    )

    def adapt(self, payload: bytes, origin: Origin) -> Adapted:
        self.check_size(payload)
        root = parse_xml(payload)
        if local(root.tag) != "EventNotificationAlert":
            raise AdapterError(
                f"root element is <{local(root.tag)[:40]}>, expected <EventNotificationAlert>"
            )
        etype = text(root, "eventType")
        if not etype:
            raise AdapterError("<eventType> missing")
        mapped = EVENT_TYPES.get(etype.lower())
        if mapped is None:
            raise AdapterError(f"unknown ISAPI eventType {etype[:40]!r}")
        kind, severity = mapped
        state = (text(root, "eventState") or "active").lower()
        if state not in ("active", "inactive"):
            raise AdapterError(f"<eventState> must be active or inactive, got {state[:20]!r}")
        device = clean_text(text(root, "deviceID") or text(root, "macAddress"), "deviceID", 64)
        device = device.replace(":", "").replace("-", "")[:64] if device else None
        active_posts = _int(text(root, "activePostCount"), "activePostCount")
        if is_heartbeat(etype, state, active_posts):
            if not device:
                raise AdapterError("keep-alive without <deviceID> or <macAddress>")
            return Adapted(heartbeats=[Heartbeat(device)])
        occurred = parse_time(text(root, "dateTime"), origin.local_tz, "dateTime")
        channel = _int(text(root, "dynChannelID"), "dynChannelID")
        if channel is None:
            channel = _int(text(root, "channelID"), "channelID")
        attrs: dict[str, Any] = {
            "event_type": etype,
            "event_state": state,
            "description": text(root, "eventDescription"),
            "channel": channel,
            "channel_name": clean_text(text(root, "channelName"), "channelName", 128),
            "device_ip": clean_text(text(root, "ipAddress"), "ipAddress", 64),
            "device_mac": clean_text(text(root, "macAddress"), "macAddress", 64),
            "active_post_count": active_posts,
            "regions": _regions(root) or None,
        }
        media: list[MediaRef] = []
        if kind == "plate_read":
            anpr_attrs, media = _anpr(root)
            attrs.update(anpr_attrs)
        elif state == "inactive":
            kind, severity = f"{kind}_ended", Severity.info
        event = document_event(
            origin, "isapi", payload, occurred, attrs, extras(root, KNOWN),
            kind=kind, severity=severity, device=device or None, location=_location(root),
            media=media,
        )
        return Adapted(events=[event])

    def simulate(self, rng: random.Random, origin: Origin, now: datetime) -> bytes:
        local_now = (now - timedelta(milliseconds=rng.randint(0, 500))).astimezone(origin.local_tz)
        mac = "44:19:b6:" + ":".join(f"{rng.randrange(256):02x}" for _ in range(3))
        head = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">\n'
            f"<ipAddress>10.20.{rng.randint(0, 255)}.{rng.randint(2, 254)}</ipAddress>\n"
            f"<portNo>80</portNo><protocol>HTTP</protocol><macAddress>{mac}</macAddress>\n"
            f"<channelID>{rng.randint(1, 4)}</channelID>\n"
            f"<dateTime>{local_now.isoformat(timespec='seconds')}</dateTime>\n"
            f"<activePostCount>{rng.randint(1, 50)}</activePostCount>\n"
        )
        if origin.system == SourceSystem.traffic:
            plate = "川A" + "".join(
                rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(5)
            )
            body = (
                "<eventType>ANPR</eventType><eventState>active</eventState>"
                "<eventDescription>ANPR</eventDescription>\n"
                f"<ANPR><country>CN</country><licensePlate>{plate}</licensePlate>"
                f"<line>{rng.randint(1, 4)}</line><direction>{rng.choice(['forward', 'reverse'])}"
                f"</direction><confidenceLevel>{rng.randint(80, 99)}</confidenceLevel>"
                "<plateType>92TypeCivil</plateType>"
                f"<plateColor>{rng.choice(['blue', 'yellow', 'green'])}"
                f"</plateColor><vehicleType>{rng.choice(['vehicle', 'truck', 'bus', 'van'])}"
                "</vehicleType></ANPR>\n"
                f"<vehicleInfo><color>{rng.choice(['white', 'black', 'silver', 'red'])}</color>"
                f"<speed>{rng.randint(15, 90)}</speed></vehicleInfo>\n"
                "<pictureInfoList><pictureInfo><fileName>licensePlatePicture.jpg</fileName>"
                "<type>licensePlatePicture</type></pictureInfo></pictureInfoList>\n"
            )
        else:
            etype = rng.choice(
                ["VMD", "linedetection", "fielddetection", "videoloss", "shelteralarm"]
            )
            body = (
                f"<eventType>{etype}</eventType><eventState>active</eventState>"
                f"<eventDescription>{etype} alarm</eventDescription>\n"
                "<DetectionRegionList><DetectionRegionEntry><regionID>1</regionID>"
                "<sensitivityLevel>50</sensitivityLevel></DetectionRegionEntry></DetectionRegionList>\n"
            )
        return (head + body + "</EventNotificationAlert>\n").encode("utf-8")
