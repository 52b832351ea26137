"""GB/T 28181 MANSCDP alarm notifications (``<Notify><CmdType>Alarm</CmdType>``).

Input format: adapters/docs/gb28181.md. XML in GB2312 (read as GB18030) or UTF-8;
AlarmTime is local time without an offset, read in the origin's zone.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element

from pydantic import ValidationError

from adapters.base import (
    Adapted,
    Adapter,
    AdapterError,
    Heartbeat,
    Origin,
    document_event,
)
from adapters.checks import clean_text, parse_time
from adapters.model import Severity
from adapters.xmlsafe import child, extras, local, parse_xml, text
from core.model import Location, SourceSystem

#: AlarmPriority 1 (first-level, most urgent) .. 4.
PRIORITY = {1: Severity.critical, 2: Severity.major, 3: Severity.minor, 4: Severity.info}
#: AlarmMethod codes.
METHODS = {1: "phone", 2: "device", 3: "sms", 4: "gps", 5: "video", 6: "device_fault", 7: "other"}
#: (AlarmMethod, AlarmType) -> cityhub kind; unknown types fall back to "<method>_alarm".
TYPES: dict[tuple[int, int], str] = {
    (2, 1): "video_loss",
    (2, 2): "tampering",
    (2, 3): "disk_full",
    (2, 4): "device_overheat",
    (2, 5): "device_overcool",
    (5, 1): "manual_video_alarm",
    (5, 2): "motion",
    (5, 3): "abandoned_object",
    (5, 4): "object_removed",
    (5, 5): "line_crossing",
    (5, 6): "intrusion",
    (5, 7): "wrong_way",
    (5, 8): "loitering",
    (5, 9): "flow_count",
    (5, 10): "crowd_density",
    (5, 11): "video_abnormal",
    (5, 12): "fast_moving",
    (6, 1): "disk_fault",
    (6, 2): "fan_fault",
}
#: Info/AlarmTypeParam/EventType of an intrusion alarm (AlarmMethod 5, AlarmType 6).
INTRUSION_DIRECTION = {1: "enter", 2: "leave"}
KNOWN = {
    "CmdType",
    "SN",
    "DeviceID",
    "AlarmPriority",
    "AlarmMethod",
    "AlarmTime",
    "AlarmDescription",
    "Longitude",
    "Latitude",
    "Info",
}


def _code(value: str | None, name: str, lo: int, hi: int) -> int | None:
    if value is None:
        return None
    try:
        n = int(value)
    except ValueError:
        raise AdapterError(f"<{name}> must be an integer, got {value[:20]!r}") from None
    if not lo <= n <= hi:
        raise AdapterError(f"<{name}> {n} outside {lo}..{hi}")
    return n


def _intrusion_direction(info: Element | None) -> str | None:
    """Enter or leave, from ``Info/AlarmTypeParam/EventType`` (1 enter, 2 leave)."""
    param = child(info, "AlarmTypeParam") if info is not None else None
    if param is None:
        return None
    code = _code(text(param, "EventType"), "EventType", 1, 2)
    return None if code is None else INTRUSION_DIRECTION[code]


class Gb28181Adapter(Adapter):
    format = "gb28181"
    systems = (SourceSystem.safecity, SourceSystem.traffic)
    content_type = "Application/MANSCDP+xml"
    summary = "GB/T 28181 MANSCDP alarm notification (Notify/Alarm) and keep-alive, GB2312 or UTF-8"

    def adapt(self, payload: bytes, origin: Origin) -> Adapted:
        self.check_size(payload)
        root = parse_xml(payload)
        if local(root.tag) != "Notify":
            raise AdapterError(f"root element is <{local(root.tag)[:40]}>, expected <Notify>")
        cmd = text(root, "CmdType")
        if cmd not in ("Alarm", "Keepalive"):
            raise AdapterError(f"CmdType {str(cmd)[:20]!r} is neither Alarm nor Keepalive")
        device = text(root, "DeviceID")
        if not device or not device.isdigit() or len(device) != 20:
            raise AdapterError("<DeviceID> must be a 20-digit GB/T 28181 code")
        if cmd == "Keepalive":  # device status keep-alive (9.6): liveness, not an event
            if (text(root, "Status") or "OK").upper() != "OK":
                raise AdapterError("Keepalive <Status> is not OK")
            return Adapted(heartbeats=[Heartbeat(device)])
        priority = _code(text(root, "AlarmPriority"), "AlarmPriority", 1, 4) or 4
        method = _code(text(root, "AlarmMethod"), "AlarmMethod", 1, 7)
        if method is None:
            raise AdapterError("<AlarmMethod> missing")
        info = child(root, "Info")
        alarm_type = (
            _code(text(info, "AlarmType"), "AlarmType", 0, 99) if info is not None else None
        )
        kind = TYPES.get((method, alarm_type or 0), f"{METHODS[method]}_alarm")
        occurred = parse_time(text(root, "AlarmTime"), origin.local_tz, "AlarmTime")
        location = None
        lon, lat = text(root, "Longitude"), text(root, "Latitude")
        if lon is not None and lat is not None:
            try:
                location = Location(lat=float(lat), lon=float(lon))
            except (ValueError, ValidationError):
                raise AdapterError("<Longitude>/<Latitude> are not a valid position") from None
            if location.lat == 0 and location.lon == 0:
                location = None  # devices without GPS send 0/0
        attrs: dict[str, Any] = {
            "sn": _code(text(root, "SN"), "SN", 0, 2**31 - 1),
            "alarm_priority": priority,
            "alarm_method": METHODS[method],
            "alarm_type": alarm_type,
            "description": clean_text(
                text(root, "AlarmDescription"), "AlarmDescription", 1024, multiline=True
            ),
            "gb_device_id": device,
        }
        direction = _intrusion_direction(info) if kind == "intrusion" else None
        if direction is not None:
            attrs["direction"] = direction
        if info is not None:
            info_extra = extras(
                info, {"AlarmType", "AlarmTypeParam"} if direction else {"AlarmType"}
            )
            if info_extra:
                attrs["info"] = info_extra
        event = document_event(
            origin, "gb28181", payload, occurred, attrs, extras(root, KNOWN),
            kind=kind, severity=PRIORITY[priority], device=device, location=location,
        )
        return Adapted(events=[event])

    def simulate(self, rng: random.Random, origin: Origin, now: datetime) -> bytes:
        method, atype = rng.choice([(5, 2), (5, 5), (5, 6), (5, 8), (2, 1), (2, 2)])
        local_now = now.astimezone(origin.local_tz).replace(tzinfo=None)
        desc = {
            2: "移动侦测报警",
            5: "绊线检测报警",
            6: "入侵检测报警",
            8: "徘徊检测报警",
            1: "视频丢失报警",
        }.get(atype, "设备报警")
        device = f"340200000013200{rng.randint(1, 99999):05d}"
        xml = (
            '<?xml version="1.0" encoding="GB2312"?>\n<Notify>\n<CmdType>Alarm</CmdType>\n'
            f"<SN>{rng.randint(1, 10**6)}</SN>\n<DeviceID>{device}</DeviceID>\n"
            f"<AlarmPriority>{rng.randint(1, 4)}</AlarmPriority>\n"
            f"<AlarmMethod>{method}</AlarmMethod>\n"
            f"<AlarmTime>{local_now.isoformat(timespec='seconds')}</AlarmTime>\n"
            f"<AlarmDescription>{desc}</AlarmDescription>\n"
            f"<Longitude>{104.06 + rng.uniform(-0.02, 0.02):.6f}</Longitude>\n"
            f"<Latitude>{30.66 + rng.uniform(-0.02, 0.02):.6f}</Latitude>\n"
            f"<Info><AlarmType>{atype}</AlarmType></Info>\n</Notify>\n"
        )
        return xml.encode("gb2312")
