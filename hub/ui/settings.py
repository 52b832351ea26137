"""The ``ui`` section of the city configuration: the web UI's map and relay gateway."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class BasemapConfig(BaseModel):
    """Where the map's base layer comes from. The browser only ever asks the hub
    (``/api/v1/map/tiles/{z}/{x}/{y}``); the hub fetches from ``url`` and keeps a disk cache."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["none", "xyz", "wms"] = Field(
        "none",
        description="'xyz': a tile server ({z}/{x}/{y} template); 'wms': a WMS GetMap endpoint "
        "(EPSG:3857); 'none': no base layer (sites, cameras and sensors on a plain background).",
    )
    url: SecretStr | None = Field(
        None,
        description="XYZ: the template, e.g. https://gis.city.example/tiles/{z}/{x}/{y}.png. "
        "WMS: the service URL without GetMap parameters. May carry a key: never sent to the "
        "browser or logged.",
    )
    wms_layers: str = Field("", description="WMS LAYERS (comma-separated); required for 'wms'.")
    wms_styles: str = Field("", description="WMS STYLES (empty: the server's defaults).")
    wms_version: Literal["1.1.1", "1.3.0"] = Field("1.3.0", description="WMS version.")
    image_format: Literal["image/png", "image/jpeg"] = Field(
        "image/png", description="WMS FORMAT asked for (XYZ: whatever the server sends)."
    )
    attribution: str = Field("", max_length=300, description="Attribution shown on the map.")
    min_zoom: int = Field(0, ge=0, le=24, description="Lowest zoom the source offers.")
    max_zoom: int = Field(19, ge=0, le=24, description="Highest zoom the source offers.")
    cache_dir: Path | None = Field(
        None, description="Where fetched tiles are kept. Unset: <state_dir>/map-tiles."
    )
    cache_max_age_s: int = Field(
        7 * 86400, ge=0,
        description="A cached tile older than this is fetched again (kept and served while the "
        "source cannot be reached).",
    )
    cache_max_mb: int = Field(
        1024, ge=1, description="Cache size bound: the oldest tiles go first beyond it."
    )
    timeout_s: float = Field(10.0, gt=0, le=120, description="Time limit of one fetch.")

    @model_validator(mode="after")
    def _usable(self) -> BasemapConfig:
        if self.kind == "none":
            return self
        url = self.url.get_secret_value() if self.url else ""
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"basemap.url: an http(s) URL is required for kind '{self.kind}'")
        if self.kind == "xyz" and not all(k in url for k in ("{z}", "{x}", "{y}")):
            raise ValueError("basemap.url: an XYZ template needs {z}, {x} and {y}")
        if self.kind == "wms" and not self.wms_layers.strip():
            raise ValueError("basemap.wms_layers: required for kind 'wms'")
        if self.min_zoom > self.max_zoom:
            raise ValueError("basemap.min_zoom is above max_zoom")
        return self


class UiConfig(BaseModel):
    """What the control-room UI needs beyond the API (everything else it reads from the API)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Serve the web UI at /ui/ on the hub's port.")
    relay_url: str | None = Field(
        None,
        description="Base URL the hub uses to reach the relay's HTTP side for the UI's WHEP, "
        "snapshot, clip and fMP4 gateway (/ui/relay/...). Unset: access.relay_http_url. "
        "Not used in a relay cluster (cluster.nodes): each camera's owner is reached at its "
        "node http_url.",
    )
    relay_restart_wait_s: float = Field(
        5.0, ge=0, le=30,
        description="How long the gateway keeps trying a relay that refuses connections (it is "
        "restarting) before answering 502: a tile retrying meanwhile plays as soon as the "
        "relay listens again. 0: answer 502 at once.",
    )
    basemap: BasemapConfig = Field(
        default_factory=lambda: BasemapConfig(),
        description="The map's base layer: the city's XYZ tiles or WMS, fetched through the "
        "hub (cached on disk), so workstations need no internet access.",
    )
    wall_max_tiles: int = Field(
        16, ge=1, le=64, description="Most tiles a wall plays at once (browser decode budget)."
    )
    time_zone: str = Field(
        "Asia/Shanghai",
        description="IANA zone every date and time in the UI is shown in (the city's zone, "
        "whatever the workstation's clock is set to).",
    )
    default_language: Literal["zh-CN", "en"] | None = Field(
        None,
        description="Language of the UI when a user has not chosen one: 'zh-CN' or 'en'. "
        "Unset: the browser's language (Chinese for any zh-*, else English).",
    )
    video_transport: Literal["auto", "webrtc", "fmp4"] = Field(
        "auto",
        description="How wall tiles play: 'auto' tries WebRTC (WHEP) first and falls back to "
        "fMP4 over WebSocket (TCP, through the hub's port) where WebRTC cannot pass, then to "
        "refreshed snapshots; 'fmp4' skips WebRTC (networks that block UDP: no 8 s ICE "
        "timeout per tile); 'webrtc' never uses fMP4.",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (IANA, e.g. Asia/Shanghai)") from exc
        return value
