"""Device control bodies (GB/T 28181 A.2.3, A.3): PTZCmd (the 8-byte PTZ instruction),
presets, the 2022 edition's PTZPreciseCtrl and RecordCmd with a stream number, and the
PTZPosition answer. Pure functions; the SIP service sends them as MESSAGE Control/Query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from adapters.xmlsafe import child, text
from gb28181 import manscdp

#: Byte 4 of PTZCmd (A.3.2): direction and zoom bits; presets (A.3.4).
RIGHT, LEFT, DOWN, UP, ZOOM_IN, ZOOM_OUT = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
PRESET_SET, PRESET_GOTO, PRESET_DELETE = 0x81, 0x82, 0x83


class ControlError(ValueError):
    """A control value out of its range (the reason says which)."""


def ptz_bytes(code: int, b5: int = 0, b6: int = 0, b7_high: int = 0, address: int = 1) -> str:
    """The PTZCmd as 16 hex digits: A5, version 0 with its check nibble, address, the
    instruction, data bytes 5-7 (byte 7: high nibble data, low nibble address high bits),
    and the checksum (sum of bytes 1-7 mod 256)."""
    if not (0 <= code <= 0xFF and 0 <= b5 <= 0xFF and 0 <= b6 <= 0xFF and 0 <= b7_high <= 0xF
            and 0 <= address <= 0xFFF):
        raise ControlError("PTZCmd field out of range")
    b1 = 0xA5
    b2 = (0 << 4) | (((b1 >> 4) + (b1 & 0xF) + 0) % 16)
    b3, b7 = address & 0xFF, (b7_high << 4) | (address >> 8)
    raw = [b1, b2, b3, code, b5, b6, b7]
    return bytes([*raw, sum(raw) % 256]).hex().upper()


def move(pan: float, tilt: float, zoom: float) -> str:
    """Continuous move from speeds in [-1, 1] (ONVIF-normalised; 0, 0, 0 stops):
    right/up/zoom-in positive."""
    for v in (pan, tilt, zoom):
        if not -1.0 <= v <= 1.0:
            raise ControlError("speeds must be within [-1, 1]")
    code = ((RIGHT if pan > 0 else LEFT if pan < 0 else 0)
            | (UP if tilt > 0 else DOWN if tilt < 0 else 0)
            | (ZOOM_IN if zoom > 0 else ZOOM_OUT if zoom < 0 else 0))
    return ptz_bytes(code, round(abs(pan) * 255), round(abs(tilt) * 255), round(abs(zoom) * 15))


def preset(op: int, number: int) -> str:
    if op not in (PRESET_SET, PRESET_GOTO, PRESET_DELETE) or not 1 <= number <= 255:
        raise ControlError("preset number must be 1..255")
    return ptz_bytes(op, 0, number)


@dataclass(frozen=True)
class PtzInstruction:
    code: int
    pan_speed: int
    tilt_speed: int
    zoom_speed: int


def decode(cmd: str) -> PtzInstruction:
    """A PTZCmd read back (the device side); ControlError when malformed."""
    try:
        raw = bytes.fromhex(cmd.strip())
    except ValueError:
        raise ControlError("PTZCmd is not hex") from None
    if len(raw) != 8 or raw[0] != 0xA5 or sum(raw[:7]) % 256 != raw[7]:
        raise ControlError("PTZCmd malformed or checksum wrong")
    return PtzInstruction(raw[3], raw[4], raw[5], raw[6] >> 4)


def control(sn: int, target: str, inner: str) -> bytes:
    """A DeviceControl body for a device or one of its channels."""
    return (f'<?xml version="1.0" encoding="GB2312"?>\r\n<Control>\r\n<CmdType>DeviceControl'
            f"</CmdType>\r\n<SN>{sn}</SN>\r\n<DeviceID>{escape(target)}</DeviceID>\r\n{inner}"
            "</Control>\r\n").encode("gb18030")


def ptz_cmd(cmd: str) -> str:
    return (f"<PTZCmd>{cmd}</PTZCmd>\r\n"
            "<Info>\r\n<ControlPriority>5</ControlPriority>\r\n</Info>\r\n")


def precise(pan: float, tilt: float, zoom: float) -> str:
    """PTZPreciseCtrl (2022): pan 0..360 degrees, tilt -90..90 degrees, zoom >= 1 (times)."""
    if not (0 <= pan <= 360 and -90 <= tilt <= 90 and 1 <= zoom <= 1000):
        raise ControlError("pan 0..360, tilt -90..90, zoom 1..1000")
    return (f"<PTZPreciseCtrl>\r\n<Pan>{pan:.2f}</Pan>\r\n<Tilt>{tilt:.2f}</Tilt>\r\n"
            f"<Zoom>{zoom:.2f}</Zoom>\r\n</PTZPreciseCtrl>\r\n")


def record(on: bool, stream_number: int = 0) -> str:
    """RecordCmd, with the 2022 edition's StreamNumber (0 main, 1 sub, ...)."""
    if not 0 <= stream_number <= 9:
        raise ControlError("stream number 0..9")
    return (f"<RecordCmd>{'Record' if on else 'StopRecord'}</RecordCmd>\r\n"
            f"<StreamNumber>{stream_number}</StreamNumber>\r\n")


def position(doc: manscdp.Doc) -> tuple[float, float, float] | None:
    """(pan, tilt, zoom) of a PTZPosition answer (direct children, or under <Info>)."""
    def value(name: str) -> float | None:
        raw = text(doc.el, name)
        if raw is None and (info := child(doc.el, "Info")) is not None:
            raw = text(info, name)
        try:
            return float(raw) if raw else None
        except ValueError:
            return None
    pan, tilt, zoom = value("Pan"), value("Tilt"), value("Zoom")
    return (pan, tilt, zoom) if pan is not None and tilt is not None and zoom is not None else None


def local_time(t: float, zone: str) -> str:
    """Unix seconds as GB/T 28181 writes times: local, no offset."""
    return datetime.fromtimestamp(t, ZoneInfo(zone)).replace(tzinfo=None).isoformat(
        timespec="seconds")


def unix_time(value: str | None, zone: str) -> float | None:
    try:
        return datetime.fromisoformat(value or "").replace(tzinfo=ZoneInfo(zone)).timestamp()
    except ValueError:
        return None


def record_query(start: float, end: float, zone: str, kind: str = "all") -> str:
    """The RecordInfo query's window (A.2.4.5)."""
    return (f"<StartTime>{local_time(start, zone)}</StartTime>\r\n<EndTime>"
            f"{local_time(end, zone)}</EndTime>\r\n<Secrecy>0</Secrecy>\r\n"
            f"<Type>{escape(kind)}</Type>\r\n")


def records(items: list[Element], zone: str) -> list[dict[str, object]]:
    """RecordList items as data (start/end in unix s); items without valid times skipped."""
    out: list[tuple[float, dict[str, object]]] = []
    for it in items:
        start, end = unix_time(text(it, "StartTime"), zone), unix_time(text(it, "EndTime"), zone)
        if start is None or end is None or end <= start:
            continue
        out.append((start, {"start": start, "end": end, "name": (text(it, "Name") or "")[:200],
                            "type": (text(it, "Type") or "")[:16],
                            "file": (text(it, "FilePath") or "")[:256]}))
    return [row for _, row in sorted(out, key=lambda pair: pair[0])]
