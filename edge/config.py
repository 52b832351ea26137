"""The edge box's own configuration, ``site.yaml``.

Strict like the hub's (unknown keys are errors naming the field path), reusing
the hub's site, camera and broker models so that an edge box describes its site
in the same words as the city. The part the hub may push over MQTT
(``PushedConfig``: cameras' analytics, heartbeat, drain rate) is a model of its
own, so that a pushed document can never change the box's identity, broker or
credentials.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from core.config import (
    BrokerConfig,
    CameraConfig,
    ConfigError,
    Section,
    SiteConfig,
    format_errors,
    read_yaml,
)
from core.model import Ident, SourceSystem
from core.secret_files import read_secret
from edge.discovery_config import DiscoveryConfig
from edge.push_config import PushConfig

#: A point in normalised image coordinates: (0, 0) top left, (1, 1) bottom right.
Point = tuple[Annotated[float, Field(ge=0, le=1)], Annotated[float, Field(ge=0, le=1)]]


class ZoneConfig(Section):
    id: Ident = Field(description="Zone id, reported in intrusion events.")
    polygon: list[Point] = Field(
        min_length=3,
        max_length=64,
        description="Polygon corners as [x, y] in 0..1 image coordinates (resolution-independent).",
    )
    min_frames: int = Field(
        2,
        ge=1,
        le=100,
        description="Frames an object must be inside before an intrusion is raised.",
    )
    severity: Literal["info", "minor", "major", "critical"] = Field(
        "major",
        description="Severity of the intrusion events this zone raises.",
    )


class LineConfig(Section):
    id: Ident = Field(description="Line id, reported in crossing events and counts.")
    a: Point = Field(description="Start of the line, [x, y] in 0..1.")
    b: Point = Field(description="End of the line, [x, y] in 0..1.")
    forward: Ident = Field(
        "in",
        description="Name of crossings from the right-hand to the left-hand side of a->b as "
        "seen walking from a to b on screen: for a line drawn top to bottom, moving left to "
        "right; for a line drawn left to right, moving upwards.",
    )
    backward: Ident = Field("out", description="Name of the opposite direction.")

    @model_validator(mode="after")
    def _not_a_point(self) -> LineConfig:
        if self.a == self.b:
            raise ValueError("a and b must differ")
        return self


class MotionConfig(Section):
    enabled: bool = Field(True, description="Raise 'motion' events (background subtraction, MOG2).")
    history: int = Field(100, ge=5, le=5000, description="Frames the background model remembers.")
    var_threshold: float = Field(25.0, gt=0, le=1000, description="MOG2 variance threshold.")
    min_area: float = Field(
        0.002,
        gt=0,
        le=1,
        description="Smallest moving blob, as a fraction of the frame area.",
    )
    cooldown_s: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="Quiet time after a motion event before the next one.",
    )
    warmup_frames: int = Field(
        10,
        ge=0,
        le=1000,
        description="Frames used to learn the background before detecting.",
    )


class ClipConfig(Section):
    enabled: bool = Field(
        False, description="Attach a clip request (time window) to evidence events."
    )
    pre_s: float = Field(5.0, ge=0, le=120, description="Seconds of video before the detection.")
    post_s: float = Field(10.0, ge=0, le=600, description="Seconds of video after the detection.")


class AnalyticsConfig(Section):
    fps: float = Field(5.0, gt=0, le=30, description="Frames per second decoded for analytics.")
    width: int = Field(
        320,
        ge=64,
        le=1920,
        description="Frames are scaled to this width before analysis.",
    )
    keyframes_only: bool = Field(
        False,
        description="Decode only keyframes (cheapest; effective fps = 1 / GOP length).",
    )
    motion: MotionConfig = Field(default_factory=MotionConfig, description="Motion detection.")
    zones: list[ZoneConfig] = Field(default_factory=list, description="Intrusion zones.")
    lines: list[LineConfig] = Field(default_factory=list, description="Counting lines.")
    max_track_distance: float = Field(
        0.15,
        gt=0,
        le=1,
        description="Largest centroid jump (fraction of the frame diagonal) "
        "between analysed frames that still continues a track.",
    )
    snapshot_quality: int = Field(85, ge=10, le=100, description="JPEG quality of snapshots.")
    clip: ClipConfig = Field(default_factory=ClipConfig, description="Clip requests.")


class EdgeCameraConfig(CameraConfig):
    """A hub camera plus what the edge box analyses on it; site/department default to the box's."""

    site: Ident = Field("", description="Defaults to the box's site.")
    department: Ident = Field("", description="Defaults to the box's department.")
    system: SourceSystem = Field(SourceSystem.edge, description="Source system of the camera.")
    analytics: AnalyticsConfig | None = Field(
        None, description="Analytics; unset: none on this camera."
    )


class OutboxConfig(Section):
    max_bytes: int = Field(
        512 * 1024 * 1024,
        ge=1024 * 1024,
        description="Size cap of queued messages. Over it, telemetry is dropped oldest-first; "
        "evidence (events, snapshots) is never dropped.",
    )
    telemetry_max_age_s: float = Field(
        7 * 86400,
        gt=0,
        description="Telemetry (sensor readings) older than this is dropped.",
    )
    min_free_disk_bytes: int = Field(
        256 * 1024 * 1024,
        ge=0,
        description="Below this much free disk new telemetry is refused; evidence is still kept.",
    )
    synchronous: Literal["full", "normal"] = Field(
        "full",
        description="SQLite durability: 'full' survives power loss, 'normal' a process crash.",
    )


class UplinkConfig(Section):
    broker: BrokerConfig = Field(
        default_factory=BrokerConfig, description="Broker and this box's identity."
    )
    keepalive_s: int = Field(15, ge=5, le=3600, description="MQTT keepalive.")
    upload_media: bool = Field(
        True,
        description="Publish every snapshot and clip an event references "
        "(city/<dept>/<site>/edge/media/<sha256>, through the outbox like events), so the "
        "hub keeps the evidence even when this box is gone. Off where the uplink is too thin: "
        "the hub then fetches pictures from the box while it is reachable.",
    )
    upload_media_max_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        le=256 * 1024 * 1024,
        description="Larger media stay on the box (served from it, sha256 pinned): keep this "
        "below the broker's max_packet_size (10 MiB in deploy/), which disconnects a client "
        "that sends more.",
    )
    session_expiry_s: int = Field(
        7 * 86400,
        ge=0,
        description="MQTT 5 session expiry: how long the broker keeps the session.",
    )
    batch_max: int = Field(
        200, ge=1, le=5000, description="Most events packed into one MQTT message."
    )
    inflight_max: int = Field(
        32, ge=1, le=1000, description="MQTT messages awaiting PUBACK at once."
    )
    drain_rate: float = Field(
        2000.0,
        gt=0,
        description="Backlog drain rate limit, events/s (live events are not limited).",
    )
    ack_timeout_s: float = Field(
        30.0,
        gt=0,
        description="Unacknowledged messages are sent again after this long.",
    )


class ListenerConfig(Section):
    enabled: bool = Field(
        True, description="Run the HTTP listener (source-system pushes, snapshots)."
    )
    host: str = Field(
        "127.0.0.1", description="Address to listen on (the local source systems' LAN)."
    )
    port: int = Field(8090, ge=0, le=65535, description="Port (0: any free port).")
    public_url: str | None = Field(
        None,
        description="Base URL the hub reaches this box at (snapshot links). Default: host:port.",
    )
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="Largest accepted push.")


class HealthConfig(Section):
    heartbeat_s: float = Field(
        10.0, ge=0.2, le=3600, description="Seconds between health messages."
    )


class PushedConfig(BaseModel):
    """What the hub may change remotely over ``.../edge/config`` (never identity or broker)."""

    model_config = ConfigDict(extra="forbid")

    version: str = Field(description="The hub's version label of this document, echoed in status.")
    cameras: list[EdgeCameraConfig] | None = Field(None, description="Replaces the camera list.")
    health: HealthConfig | None = Field(None, description="Replaces the health settings.")
    drain_rate: float | None = Field(None, gt=0, description="Replaces uplink.drain_rate.")


class EdgeConfig(BaseModel):
    """Root of ``site.yaml``."""

    model_config = ConfigDict(extra="forbid")

    device: Ident = Field(description="This edge box's id; also its MQTT client id by default.")
    site: SiteConfig = Field(description="The site this box serves; it publishes only under it.")
    state_dir: Path = Field(
        Path("/var/lib/cityhub-edge"), description="Outbox and snapshots live here."
    )
    cameras: list[EdgeCameraConfig] = Field(default_factory=list, description="Local cameras.")
    outbox: OutboxConfig = Field(
        default_factory=OutboxConfig, description="Store-and-forward outbox."
    )
    uplink: UplinkConfig = Field(
        default_factory=UplinkConfig, description="MQTT uplink to the hub."
    )
    listener: ListenerConfig = Field(default_factory=ListenerConfig, description="HTTP listener.")
    health: HealthConfig = Field(default_factory=HealthConfig, description="Heartbeat.")
    discovery: DiscoveryConfig = Field(
        default_factory=DiscoveryConfig, description="Finding ONVIF cameras on the local network."
    )
    push: PushConfig = Field(
        default_factory=PushConfig,
        description="Who may push to the listener: per-device HTTP Digest credentials.",
    )
    adapters: list[Ident] = Field(
        default_factory=list,
        description="Source-system adapters (entry-point names) accepting "
        "pushes at POST /push/<name>.",
    )

    @model_validator(mode="before")
    @classmethod
    def _cameras_default_to_site(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("site"), dict):
            site = data["site"]
            for cam in data.get("cameras") or []:
                if isinstance(cam, dict):
                    cam.setdefault("site", site.get("id"))
                    cam.setdefault("department", site.get("department"))
        return data

    @model_validator(mode="after")
    def _one_site(self) -> EdgeConfig:
        problems = []
        seen: set[str] = set()
        for i, cam in enumerate(self.cameras):
            if cam.site != self.site.id or cam.department != self.site.department:
                problems.append(f"cameras.{i}: an edge box serves only its own site and department")
            if cam.id in seen:
                problems.append(f"cameras.{i}.id: duplicate id {cam.id!r}")
            seen.add(cam.id)
        for i, dev in enumerate(self.push.devices):
            for fmt in dev.formats:
                if fmt not in self.adapters:
                    problems.append(f"push.devices.{i}.formats: {fmt!r} is not in adapters")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def realm(self) -> str:
        return self.push.realm or f"cityhub-edge {self.device}"

    @property
    def client_id(self) -> str:
        return self.uplink.broker.client_id or f"edge-{self.device}"

    def topic(self, *parts: str) -> str:
        return "/".join(["city", self.site.department, self.site.id, *parts])

    def with_push(self, pushed: PushedConfig) -> EdgeConfig:
        """This configuration with a hub push applied (validated again as a whole)."""
        data = self.model_dump(mode="python")
        if pushed.cameras is not None:
            data["cameras"] = [c.model_dump(mode="python") for c in pushed.cameras]
        if pushed.health is not None:
            data["health"] = pushed.health.model_dump()
        if pushed.drain_rate is not None:
            data["uplink"]["drain_rate"] = pushed.drain_rate
        # mode="python" keeps SecretStr objects (not masked text), so secrets survive.
        return EdgeConfig.model_validate(data)


def load_edge_config(path: Path | str) -> EdgeConfig:
    """Read and validate ``site.yaml``; a ConfigError names every bad field path."""
    raw = read_yaml(path)
    broker = _broker_from_env()
    if broker:
        uplink = raw.setdefault("uplink", {}) or {}
        raw["uplink"] = uplink
        uplink["broker"] = {**(uplink.get("broker") or {}), **broker}
    try:
        return EdgeConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc)) from exc


def _broker_from_env() -> dict[str, str]:
    """The box's broker identity from the environment (``cityhub broker users`` writes
    ``CITYHUB_BROKER__USERNAME/PASSWORD`` files for systemd's EnvironmentFile), so the
    secret need not be in site.yaml; or ``..._FILE`` naming a file that holds it."""
    keys = {
        "url": "CITYHUB_BROKER__URL",
        "username": "CITYHUB_BROKER__USERNAME",
        "password": "CITYHUB_BROKER__PASSWORD",
        "client_id": "CITYHUB_BROKER__CLIENT_ID",
    }
    found = {k: os.environ[v] for k, v in keys.items() if os.environ.get(v)}
    for k, v in keys.items():  # <NAME>_FILE: the value from a file (LoadCredential=, secrets)
        if k not in found and os.environ.get(f"{v}_FILE"):
            found[k] = read_secret(os.environ[f"{v}_FILE"], f"{v}_FILE")
    return found


def parse_push(payload: bytes) -> PushedConfig:
    """A pushed document (JSON or YAML); a ConfigError says what is wrong with it."""
    if len(payload) > 1024 * 1024:
        raise ConfigError("pushed configuration larger than 1 MiB")
    try:
        raw = yaml.safe_load(payload.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"pushed configuration is not JSON/YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError("pushed configuration must be a mapping")
    try:
        return PushedConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc)) from exc
