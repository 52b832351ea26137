"""ONVIF device and media calls through onvif-zeep-async, each bounded by a timeout.

``onvif://user:pass@host:port[/?profile=main|sub|<token>]`` names a camera's ONVIF
device service (port 80 when omitted). Every failure, whether SOAP fault, refused
credentials, timeout, unreachable host or a malformed answer, is raised as
:class:`OnvifError` with a message for an operator, never with the password.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
import zeep.exceptions
from onvif import ONVIFCamera, ONVIFError, ONVIFService

from streams.onvif.url import OnvifError, OnvifUrl

DEFAULT_TIMEOUT_S = 5.0
T = TypeVar("T")


@dataclass(frozen=True)
class DeviceInfo:
    manufacturer: str
    model: str
    firmware: str
    serial: str
    hardware_id: str


@dataclass(frozen=True)
class Profile:
    token: str
    name: str
    encoding: str  #: H264, H265, JPEG ('' when the profile has no video encoder)
    width: int
    height: int
    ptz: bool  #: has a PTZ configuration


class OnvifDevice:
    """One camera's ONVIF services: connected on first use, reused, closed by ``aclose()``.

    Each public call (connection included) finishes within ``timeout_s`` or raises.
    """

    def __init__(self, host: str, port: int, username: str | None, password: str | None,
                 timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self._username, self._password = username, password
        self._cam: ONVIFCamera | None = None
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: OnvifUrl, timeout_s: float = DEFAULT_TIMEOUT_S) -> OnvifDevice:
        return cls(url.host, url.port, url.username, url.password, timeout_s)

    def __repr__(self) -> str:
        return f"OnvifDevice({self.host}:{self.port})"

    async def __aenter__(self) -> OnvifDevice:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        cam, self._cam = self._cam, None
        if cam is not None:
            await cam.close()

    async def call(self, what: str, service: str, fn: Callable[[ONVIFService], Awaitable[T]]) -> T:
        """``fn(service)`` on the camera's ``service`` (devicemgmt, media, ptz), bounded;
        failures become :class:`OnvifError` (and drop the connection, rebuilt next call)."""
        try:
            async with asyncio.timeout(self.timeout_s):
                svc = await self._service(service)
                return await fn(svc)
        except OnvifError:
            raise
        except Exception as exc:
            await self.aclose()
            raise OnvifError(f"{self.host}:{self.port}: {what}: {explain(exc, self.timeout_s)}"
                             ) from None

    async def _service(self, name: str) -> ONVIFService:
        async with self._lock:
            if self._cam is None:
                cam = ONVIFCamera(self.host, self.port, self._username, self._password,
                                  no_cache=True)
                try:
                    await cam.update_xaddrs()
                except BaseException:
                    await cam.close()
                    raise
                self._cam = cam
            cam = self._cam
        return await cam.create_onvif_service(name)

    async def device_info(self) -> DeviceInfo:
        r = await self.call("GetDeviceInformation", "devicemgmt",
                            lambda s: s.GetDeviceInformation())
        return DeviceInfo(_s(r, "Manufacturer"), _s(r, "Model"), _s(r, "FirmwareVersion"),
                          _s(r, "SerialNumber"), _s(r, "HardwareId"))

    async def profiles(self) -> list[Profile]:
        answer = await self.call("GetProfiles", "media", lambda s: s.GetProfiles())
        out = []
        for p in answer or []:
            enc = getattr(p, "VideoEncoderConfiguration", None)
            res = getattr(enc, "Resolution", None)
            token = getattr(p, "token", None)
            if not token:
                raise OnvifError(f"{self.host}:{self.port}: GetProfiles: malformed answer "
                                 "(a profile without a token)")
            out.append(Profile(str(token), _s(p, "Name"), _s(enc, "Encoding"),
                               int(getattr(res, "Width", 0) or 0),
                               int(getattr(res, "Height", 0) or 0),
                               getattr(p, "PTZConfiguration", None) is not None))
        return out

    async def profile(self, wanted: str = "main") -> Profile:
        """``main`` (the first profile), ``sub`` (the second) or the profile of that token."""
        found = await self.profiles()
        index = {"main": 0, "sub": 1}.get(wanted)
        if index is not None and index < len(found):
            return found[index]
        for p in found:
            if p.token == wanted:
                return p
        raise OnvifError(f"{self.host}:{self.port}: no profile {wanted!r} "
                         f"(camera has {[p.token for p in found]})")

    async def stream_uri(self, profile_token: str) -> str:
        """The RTSP URI of a profile (RTP over RTSP, unicast)."""
        req = {"StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
               "ProfileToken": profile_token}
        r = await self.call("GetStreamUri", "media", lambda s: s.GetStreamUri(req))
        return _uri(self, "GetStreamUri", r, ("rtsp", "rtsps"))

    async def snapshot_uri(self, profile_token: str) -> str:
        r = await self.call("GetSnapshotUri", "media",
                            lambda s: s.GetSnapshotUri({"ProfileToken": profile_token}))
        return _uri(self, "GetSnapshotUri", r, ("http", "https"))


def _s(obj: Any, name: str) -> str:
    value = getattr(obj, name, None)
    return "" if value is None else str(value)


def _uri(dev: OnvifDevice, what: str, answer: Any, schemes: tuple[str, ...]) -> str:
    uri = _s(answer, "Uri").strip()
    if urlsplit(uri).scheme.lower() not in schemes:
        raise OnvifError(f"{dev.host}:{dev.port}: {what}: malformed answer "
                         f"(no {'/'.join(schemes)} URI)")
    return uri


def explain(exc: BaseException, timeout_s: float) -> str:
    """One line for an operator; never the request (it carries the credentials digest)."""
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout_s:g} s"
    if isinstance(exc, zeep.exceptions.Fault):
        codes = " ".join(str(getattr(c, "localname", c)) for c in exc.subcodes or [])
        if "NotAuthorized" in codes or "not authorized" in str(exc.message).lower():
            return "camera refused the credentials (wrong user or password)"
        if not (codes or exc.code):  # zeep's stand-in when an error answer had no Fault
            return ("error answer without a SOAP fault (credentials refused at the HTTP "
                    "level, or not an ONVIF service)")
        return f"SOAP fault {codes or exc.code}: {exc.message}"
    if isinstance(exc, zeep.exceptions.TransportError):
        if exc.status_code == 401:
            return "camera refused the credentials (HTTP 401: wrong user or password)"
        return f"HTTP {exc.status_code} from the camera"
    if isinstance(exc, zeep.exceptions.XMLSyntaxError | zeep.exceptions.XMLParseError
                  | zeep.exceptions.ValidationError | zeep.exceptions.UnexpectedElementError
                  | ValueError | AttributeError | TypeError | KeyError):
        return f"malformed answer ({type(exc).__name__}: {str(exc)[:200]})"
    if isinstance(exc, aiohttp.ClientError | OSError):
        return f"camera unreachable ({type(exc).__name__}: {str(exc)[:200]})"
    if isinstance(exc, ONVIFError):
        return str(exc)[:300]
    return f"{type(exc).__name__}: {str(exc)[:200]}"
