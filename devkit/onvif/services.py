"""The ONVIF operations the simulator answers: device, media (profiles, URIs) and PTZ."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from devkit.onvif.soap import NS, Fault, Request, escape, text, vector
from devkit.onvif.state import PtzState

SERVICES = {"device": NS["tds"], "media": NS["trt"], "ptz": NS["tptz"]}
SPACE = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace"
ZSPACE = "http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace"


@dataclass(frozen=True)
class Profile:
    token: str  #: main or sub
    width: int
    height: int


@dataclass
class SimCamera:
    """One simulated camera: its name, where its services listen, its head and profiles."""

    name: str
    http: str  #: http://host:port of its ONVIF services
    rtsp: str  #: rtsp://host:port of its streams (/<name>/<profile>)
    profiles: tuple[Profile, ...] = (Profile("main", 640, 360), Profile("sub", 320, 180))
    ptz: PtzState = field(default_factory=PtzState)
    serial: str = "SIM0001"

    def profile(self, token: str | None) -> Profile:
        for p in self.profiles:
            if p.token == token:
                return p
        raise Fault("ter:InvalidArgVal", f"no profile {token!r}", status=400)

    def answer(self, req: Request) -> str:
        handler = HANDLERS.get(req.operation)
        if handler is None:
            raise Fault("ter:ActionNotSupported", f"{req.operation} is not supported",
                        code="Receiver")
        return handler(self, req)


def _resp(prefix: str, op: str, inner: str = "") -> str:
    return f"<{prefix}:{op}Response>{inner}</{prefix}:{op}Response>"


def device_information(cam: SimCamera, req: Request) -> str:
    return _resp("tds", "GetDeviceInformation",
                 "<tds:Manufacturer>cityhub devkit</tds:Manufacturer>"
                 "<tds:Model>ONVIF PTZ simulator</tds:Model>"
                 "<tds:FirmwareVersion>1.0</tds:FirmwareVersion>"
                 f"<tds:SerialNumber>{cam.serial}</tds:SerialNumber>"
                 f"<tds:HardwareId>{cam.name}</tds:HardwareId>")


def system_date_and_time(cam: SimCamera, req: Request) -> str:
    n = datetime.now(UTC)
    return _resp("tds", "GetSystemDateAndTime",
                 "<tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType>"
                 "<tt:DaylightSavings>false</tt:DaylightSavings>"
                 "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone><tt:UTCDateTime>"
                 f"<tt:Time><tt:Hour>{n.hour}</tt:Hour><tt:Minute>{n.minute}</tt:Minute>"
                 f"<tt:Second>{n.second}</tt:Second></tt:Time><tt:Date><tt:Year>{n.year}</tt:Year>"
                 f"<tt:Month>{n.month}</tt:Month><tt:Day>{n.day}</tt:Day></tt:Date>"
                 "</tt:UTCDateTime></tds:SystemDateAndTime>")


def services(cam: SimCamera, req: Request) -> str:
    items = "".join(
        f"<tds:Service><tds:Namespace>{ns}</tds:Namespace>"
        f"<tds:XAddr>{cam.http}/onvif/{name}_service</tds:XAddr>"
        "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
        for name, ns in SERVICES.items())
    return _resp("tds", "GetServices", items)


def capabilities(cam: SimCamera, req: Request) -> str:
    return _resp("tds", "GetCapabilities",
                 f"<tds:Capabilities><tt:Device><tt:XAddr>{cam.http}/onvif/device_service"
                 f"</tt:XAddr></tt:Device><tt:Media><tt:XAddr>{cam.http}/onvif/media_service"
                 "</tt:XAddr><tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast>"
                 "<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP>"
                 f"</tt:StreamingCapabilities></tt:Media><tt:PTZ><tt:XAddr>{cam.http}"
                 "/onvif/ptz_service</tt:XAddr></tt:PTZ></tds:Capabilities>")


def profiles(cam: SimCamera, req: Request) -> str:
    return _resp("trt", "GetProfiles", "".join(
        f'<trt:Profiles token="{p.token}" fixed="true"><tt:Name>{p.token}</tt:Name>'
        f'<tt:VideoEncoderConfiguration token="enc_{p.token}"><tt:Name>enc_{p.token}</tt:Name>'
        "<tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding><tt:Resolution>"
        f"<tt:Width>{p.width}</tt:Width><tt:Height>{p.height}</tt:Height></tt:Resolution>"
        "<tt:Quality>5</tt:Quality></tt:VideoEncoderConfiguration>"
        '<tt:PTZConfiguration token="ptz0"><tt:Name>ptz0</tt:Name><tt:UseCount>2</tt:UseCount>'
        "<tt:NodeToken>node0</tt:NodeToken></tt:PTZConfiguration></trt:Profiles>"
        for p in cam.profiles))


def _media_uri(op: str, uri: str) -> str:
    return _resp("trt", op, f"<trt:MediaUri><tt:Uri>{uri}</tt:Uri>"
                 "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
                 "<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>"
                 "<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri>")


def stream_uri(cam: SimCamera, req: Request) -> str:
    p = cam.profile(text(req.body, "trt:ProfileToken"))
    return _media_uri("GetStreamUri", f"{cam.rtsp}/{cam.name}/{p.token}")


def snapshot_uri(cam: SimCamera, req: Request) -> str:
    p = cam.profile(text(req.body, "trt:ProfileToken"))
    return _media_uri("GetSnapshotUri", f"{cam.http}/onvif/snapshot/{p.token}.jpg")


def _ptz_profile(cam: SimCamera, req: Request) -> None:
    cam.profile(text(req.body, "tptz:ProfileToken"))


def _duration(value: str | None) -> float | None:
    """xs:duration of a move's Timeout (PT1.5S, PT2M); None when absent."""
    m = re.fullmatch(r"PT(?:(\d+)M)?(?:([\d.]+)S)?", value or "")
    if not value or m is None:
        return None
    return int(m.group(1) or 0) * 60 + float(m.group(2) or 0)


def continuous_move(cam: SimCamera, req: Request) -> str:
    _ptz_profile(cam, req)
    pan, tilt, zoom = vector(req.body, "tptz:Velocity")
    cam.ptz.move(pan or 0.0, tilt or 0.0, zoom or 0.0, _duration(text(req.body, "tptz:Timeout")))
    return _resp("tptz", "ContinuousMove")


def stop(cam: SimCamera, req: Request) -> str:
    _ptz_profile(cam, req)
    pan_tilt, zoom = text(req.body, "tptz:PanTilt"), text(req.body, "tptz:Zoom")
    cam.ptz.stop(pan_tilt != "false", zoom != "false")
    return _resp("tptz", "Stop")


def absolute_move(cam: SimCamera, req: Request) -> str:
    _ptz_profile(cam, req)
    cam.ptz.go(*vector(req.body, "tptz:Position"))
    return _resp("tptz", "AbsoluteMove")


def relative_move(cam: SimCamera, req: Request) -> str:
    _ptz_profile(cam, req)
    cam.ptz.go(*vector(req.body, "tptz:Translation"), relative=True)
    return _resp("tptz", "RelativeMove")


def status(cam: SimCamera, req: Request) -> str:
    _ptz_profile(cam, req)
    pan, tilt, zoom, moving = cam.ptz.position()
    state = "MOVING" if moving else "IDLE"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _resp("tptz", "GetStatus",
                 f"<tptz:PTZStatus>{_position(pan, tilt, zoom)}<tt:MoveStatus>"
                 f"<tt:PanTilt>{state}</tt:PanTilt><tt:Zoom>{state}</tt:Zoom></tt:MoveStatus>"
                 f"<tt:UtcTime>{now}</tt:UtcTime></tptz:PTZStatus>")


def _position(pan: float, tilt: float, zoom: float, tag: str = "tt:Position") -> str:
    return (f'<{tag}><tt:PanTilt x="{pan:.4f}" y="{tilt:.4f}" space="{SPACE}"/>'
            f'<tt:Zoom x="{zoom:.4f}" space="{ZSPACE}"/></{tag}>')


def presets(cam: SimCamera, req: Request) -> str:
    _ptz_profile(cam, req)
    items = cam.ptz.preset_list()
    return _resp("tptz", "GetPresets", "".join(
        f'<tptz:Preset token="{escape(token)}"><tt:Name>{escape(name)}</tt:Name>'
        f"{_position(*pos, tag='tt:PTZPosition')}</tptz:Preset>"
        for token, (name, pos) in items.items()))


def goto_preset(cam: SimCamera, req: Request) -> str:
    _ptz_profile(cam, req)
    token = text(req.body, "tptz:PresetToken") or ""
    pos = cam.ptz.preset(token)
    if pos is None:
        raise Fault("ter:InvalidArgVal", f"no preset {token!r}")
    cam.ptz.go(*pos)
    return _resp("tptz", "GotoPreset")


def set_preset(cam: SimCamera, req: Request) -> str:
    _ptz_profile(cam, req)
    token = cam.ptz.set_preset(text(req.body, "tptz:PresetName") or "",
                               text(req.body, "tptz:PresetToken"))
    return _resp("tptz", "SetPreset", f"<tptz:PresetToken>{escape(token)}</tptz:PresetToken>")


def goto_home(cam: SimCamera, req: Request) -> str:
    _ptz_profile(cam, req)
    cam.ptz.go(*cam.ptz.home)
    return _resp("tptz", "GotoHomePosition")


HANDLERS: dict[str, Callable[[SimCamera, Request], str]] = {
    "GetDeviceInformation": device_information,
    "GetSystemDateAndTime": system_date_and_time,
    "GetServices": services,
    "GetCapabilities": capabilities,
    "GetProfiles": profiles,
    "GetStreamUri": stream_uri,
    "GetSnapshotUri": snapshot_uri,
    "ContinuousMove": continuous_move,
    "Stop": stop,
    "AbsoluteMove": absolute_move,
    "RelativeMove": relative_move,
    "GetStatus": status,
    "GetPresets": presets,
    "GotoPreset": goto_preset,
    "SetPreset": set_preset,
    "GotoHomePosition": goto_home,
}
#: Answered without credentials (ONVIF's pre-auth set: a client needs the clock to sign).
NO_AUTH = {"GetSystemDateAndTime"}
