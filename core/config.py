"""Configuration base shared by every cityhub process, and the city's basic records.

Every section is a strict pydantic model: unknown keys are an error naming the field
path, never a silent typo. The hub composes the whole city file (``hub.config``); an
edge box (``edge.config``) and the relay reuse the sections here so that each
describes departments, sites, cameras and the broker in the same words.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from core.model import Ident, Location, SourceSystem


class Section(BaseModel):
    """Base of every config section: unknown keys are an error, not a silent typo."""

    model_config = ConfigDict(extra="forbid")


class BrokerConfig(Section):
    url: str | None = Field(
        None,
        description="MQTT broker as mqtt://host:port or mqtts://host:port. "
        "Unset: an embedded private Mosquitto is started (demo, tests).",
    )
    username: str | None = Field(None, description="MQTT username (each edge box has its own).")
    password: SecretStr | None = Field(None, description="MQTT password.")
    client_id: str | None = Field(None, description="MQTT client id; default derived from role.")


class DepartmentConfig(Section):
    id: Ident = Field(description="Short stable id used in topics and grants, e.g. 'police'.")
    name: str = Field(description="Human name shown in the UI.")


class SiteConfig(Section):
    id: Ident = Field(description="Site id, e.g. 'xinhua-rd-5th-ave'.")
    name: str = Field(description="Human name.")
    department: Ident = Field(description="Owning department id.")
    location: Location | None = Field(None, description="Where the site is, for the map.")


class CameraConfig(Section):
    id: Ident = Field(description="Camera id, unique city-wide.")
    name: str = Field(description="Name shown on the wall.")
    site: Ident = Field(description="Site the camera stands at.")
    department: Ident = Field(description="Owning department id.")
    system: SourceSystem = Field(description="Source system the camera belongs to.")
    url: SecretStr = Field(description="RTSP URL of the camera. Write-only: never shown or logged.")
    sub_url: SecretStr | None = Field(
        None,
        description="The camera's second, smaller stream (sub stream; same login as url): wall "
        "tiles in grids of 4 or more play it, a single tile, full screen and recording play "
        "url. An ONVIF camera's is usually its url with ?profile=sub. Write-only.",
    )
    username: str | None = Field(None, description="RTSP user, if not in the URL.")
    password: SecretStr | None = Field(None, description="RTSP password. Write-only.")
    credentials_file: Path | None = Field(
        None,
        description="File holding the RTSP login as one line user:password (a docker secret, "
        "a systemd credential), read at every connect: rotate by rewriting it. Instead of "
        "username/password, which then stay out of the config.",
    )
    always_on: bool = Field(False, description="Keep connected even when nobody watches.")
    location: Location | None = Field(None, description="Where the camera stands, for the map.")
    heading: float | None = Field(
        None, ge=0, lt=360,
        description="Where the lens points, degrees clockwise from north: the map draws the "
        "camera's field of view. Unset (e.g. a PTZ dome): a dot only.",
    )
    fov: float | None = Field(
        None, gt=0, le=360, description="Horizontal field of view in degrees (unset: 60)."
    )

    @model_validator(mode="after")
    def _one_login(self) -> CameraConfig:
        if self.credentials_file is not None and (self.username or self.password):
            raise ValueError("credentials_file replaces username/password: set one or the other")
        return self


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names each bad field path."""


def format_errors(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(root)"
        lines.append(f"  {path}: {e['msg']}")
    return "invalid configuration:\n" + "\n".join(lines)


def read_yaml(path: Path | str) -> dict[str, Any]:
    """A YAML file's top-level mapping, or a ConfigError saying why it is not one."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc}") from exc
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return raw or {}
