"""The ``ptz`` section of the city configuration: leases and department priorities."""

from __future__ import annotations

from pydantic import Field

from core.config import Section
from core.model import Ident


class PtzConfig(Section):
    lease_idle_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="Seconds a controller keeps a camera after its last PTZ command; then any "
        "department allowed to move it may take it.",
    )
    priorities: dict[Ident, int] = Field(
        default_factory=dict,
        description="PTZ priority per department (higher takes control from lower, e.g. "
        "police: 300, traffic: 200, citymgmt: 100); unlisted departments have 0.",
    )
    command_timeout_s: float = Field(
        5.0, gt=0, le=60, description="Longest wait for a camera to answer one PTZ command."
    )

    def priority(self, department: str) -> int:
        return self.priorities.get(department, 0)
