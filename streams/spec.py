"""What the relay needs of a camera, from the config or from the hub's store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.config import CameraConfig


@dataclass(frozen=True)
class CameraSpec:
    """What the relay needs of a camera (taken from hub.config.CameraConfig)."""

    id: str
    url: str
    username: str | None = None
    password: str | None = None
    credentials_file: Path | None = None
    always_on: bool = False
    department: str = ""
    sub_url: str | None = None  #: the sub stream (grids of 4 or more), same login

    @classmethod
    def from_config(cls, cam: CameraConfig) -> CameraSpec:
        return cls(
            id=cam.id,
            url=cam.url.get_secret_value(),
            username=cam.username,
            password=cam.password.get_secret_value() if cam.password else None,
            credentials_file=cam.credentials_file,
            always_on=cam.always_on,
            department=cam.department,
            sub_url=cam.sub_url.get_secret_value() if cam.sub_url else None,
        )
