"""The ``ui`` section of the city configuration: the web UI's map and relay gateway."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator


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
    tile_url: str | None = Field(
        None,
        description="Map tile URL template ({z}/{x}/{y}), e.g. a tile server on the city network. "
        "Unset: no tiles; sites, cameras and sensors are drawn on a plain background (offline).",
    )
    tile_attribution: str = Field("", description="Attribution shown with the configured tiles.")
    tile_max_zoom: int = Field(19, ge=1, le=24, description="Highest zoom the tile server offers.")
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
