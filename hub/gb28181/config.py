"""The ``gb28181:`` section of the city configuration (SIP service and its devices)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, StringConstraints

from core.config import Section
from core.model import Ident, SourceSystem

GbId = Annotated[str, StringConstraints(pattern=r"^[0-9]{20}$")]


class Gb28181DeviceConfig(Section):
    id: GbId = Field(description="The device's (or lower platform's) 20-digit SIP ID.")
    name: str = Field("", max_length=200, description="Name in lists.")
    department: Ident = Field(description="Department owning the device and its channels.")
    site: Ident = Field(description="Site its channels (cameras) are filed under.")
    password: SecretStr = Field(description="Digest password (stored sealed; never shown).")
    allow_from: list[str] = Field(
        default_factory=list, description="Networks (CIDR) it may register from; empty: any.")
    keepalive_s: int = Field(60, ge=1, le=3600, description="Its keepalive interval (s).")
    system: SourceSystem = Field(SourceSystem.safecity, description="City system of its cameras.")
    kind: Literal["device", "platform"] = Field("device", description="IPC/NVR or lower platform.")
    media_transport: Literal["udp", "tcp-passive", "tcp-active"] = Field(
        "udp", description="How live video is asked for: RTP over UDP or TCP (RFC 4571).")


class Gb28181Config(Section):
    enabled: bool = Field(False, description="Run the SIP service (`cityhub sip`).")
    platform_id: GbId = Field("34020000002000000001", description="This platform's SIP ID.")
    domain: str = Field("3402000000", max_length=64, description="SIP domain (realm).")
    host: str = Field("127.0.0.1", description="Address SIP listens on (UDP and TCP).")
    port: int = Field(5060, ge=0, le=65535, description="SIP port (0: any free port).")
    keepalive_s: int = Field(60, ge=1, description="Default keepalive interval of devices (s).")
    missed_keepalives: int = Field(3, ge=1, le=10, description="Missed intervals -> offline.")
    expires_min_s: int = Field(1, ge=1, description="Shortest registration accepted (s).")
    expires_max_s: int = Field(86400, ge=60, description="Longest registration granted (s).")
    algorithm: Literal["MD5", "SHA-256"] = Field(
        "MD5", description="Digest algorithm offered (GB/T 28181-2016: MD5).")
    catalog_timeout_s: float = Field(
        10.0, gt=0, description="A catalog not complete by then is applied without retiring.")
    control_host: str = Field("127.0.0.1", description="Address of the relays' control API.")
    control_port: int = Field(5061, ge=0, le=65535, description="Control API port (0: any).")
    media_transport: Literal["udp", "tcp-passive", "tcp-active"] = Field(
        "udp", description="Default RTP transport relays ask devices for.")
    devices: list[Gb28181DeviceConfig] = Field(
        default_factory=list, description="Devices and lower platforms allowed to register.")
