"""The ``gb28181:`` section of the city configuration (SIP service and its devices)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, StringConstraints, model_validator

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


class Gb28181ShareConfig(Section):
    department: Ident = Field(description="The department sharing (it must own the camera).")
    camera: str = Field(min_length=1, max_length=64, description="Camera ID in cityhub.")
    channel_id: GbId | None = Field(
        None, description="The 20-digit channel ID the upper sees; the camera ID if unset "
                          "(which must then be 20 digits).")
    playback: bool = Field(
        False, description="The upper may also ask for the camera's recordings (Playback).")

    @model_validator(mode="after")
    def _channel(self) -> Gb28181ShareConfig:
        if self.channel_id is None:
            if not (self.camera.isdigit() and len(self.camera) == 20):
                raise ValueError(f"camera {self.camera!r} is not a 20-digit GB/T 28181 ID: "
                                 "give channel_id")
            self.channel_id = self.camera
        return self


class Gb28181UpperConfig(Section):
    id: GbId = Field(description="The upper platform's SIP server ID.")
    name: str = Field("", max_length=200, description="Name in lists.")
    domain: str = Field(max_length=64, description="The upper platform's SIP domain.")
    host: str = Field(description="The upper platform's SIP address.")
    port: int = Field(5060, ge=1, le=65535, description="The upper platform's SIP port.")
    transport: Literal["udp", "tcp"] = Field("udp", description="SIP transport to it.")
    local_id: GbId | None = Field(
        None, description="Our SIP ID as the upper knows it (default: gb28181.platform_id).")
    username: str | None = Field(None, max_length=64, description="Digest user (default: ID).")
    password: SecretStr = Field(description="Digest password (stored sealed; never shown).")
    expires_s: int = Field(3600, ge=30, le=86400, description="Registration time asked for.")
    keepalive_s: int = Field(60, ge=1, le=3600, description="Keepalive interval (s).")
    max_missed: int = Field(3, ge=1, le=10, description="Unanswered keepalives -> REGISTER.")
    enabled: bool = Field(True, description="Register to it.")
    shares: list[Gb28181ShareConfig] = Field(
        default_factory=list, description="Cameras shared upward (nothing else is visible).")


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
    uppers: list[Gb28181UpperConfig] = Field(
        default_factory=list, description="Upper (superior) platforms we cascade to.")
    cascade_host: str = Field("127.0.0.1", description="Address the cascade SIP client uses.")
    cascade_port: int = Field(0, ge=0, le=65535,
                              description="Cascade SIP port (0: any free port).")
    media_host: str = Field(
        "127.0.0.1", description="Address announced to upper platforms for the RTP we send.")
