"""Recording settings (``streams.recording`` in the city YAML): where, how and what to keep."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ScheduleWindow(BaseModel):
    """A weekly window: the days it applies to and a time range on each (city time)."""

    model_config = ConfigDict(extra="forbid")

    days: list[int] = Field(
        default_factory=lambda: list(range(7)),
        description="Days of the week, 0 = Monday ... 6 = Sunday.",
    )
    start: str = Field("00:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM.")
    end: str = Field("24:00", pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$", description="HH:MM.")

    def covers(self, when: datetime) -> bool:
        minute = when.hour * 60 + when.minute
        h0, m0 = map(int, self.start.split(":"))
        h1, m1 = map(int, self.end.split(":"))
        return when.weekday() in self.days and h0 * 60 + m0 <= minute < h1 * 60 + m1


class CameraRecording(BaseModel):
    """One camera's recording policy (set by the camera's department)."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["continuous", "events", "schedule", "off"] = Field(
        "continuous",
        description="continuous: always; events: pre_s before to post_s after each event; "
        "schedule: inside the weekly windows; off: not recorded.",
    )
    pre_s: float = Field(5.0, ge=0, le=120, description="events: seconds kept before an event.")
    post_s: float = Field(10.0, gt=0, le=600, description="events: seconds after an event.")
    schedule: list[ScheduleWindow] = Field(
        default_factory=list, description="schedule: the weekly windows to record in."
    )

    @model_validator(mode="after")
    def _schedule_given(self) -> CameraRecording:
        if self.mode == "schedule" and not self.schedule:
            raise ValueError("mode 'schedule' needs at least one window in 'schedule'")
        return self


class RecordingConfig(BaseModel):
    """Recording on this relay node: storage paths, segment length, policies, retention."""

    model_config = ConfigDict(extra="forbid")

    paths: list[str] = Field(
        default_factory=list,
        description="Storage paths for segments (fast disks), used in turn by free space; "
        "empty: <state_dir>/recordings.",
    )
    archive_path: str | None = Field(
        None, description="Archive path (a NAS mount) older segments move to; none: no tiering."
    )
    archive_after_h: float = Field(
        24.0, gt=0, description="Segments older than this many hours move to archive_path."
    )
    segment_s: float = Field(
        60.0, ge=1, le=3600, description="Target segment length; cut on the next keyframe."
    )
    fragment_ms: int = Field(
        1000,
        ge=100,
        le=10000,
        description="fMP4 fragment length inside a segment: at most this much is lost when "
        "the relay is killed mid-write (the rest is recovered on restart).",
    )
    retention_days: float = Field(
        30.0, gt=0, description="Days footage is kept unless the department says otherwise."
    )
    department_retention_days: dict[str, float] = Field(
        default_factory=dict, description="Days footage is kept, per department id."
    )
    quota_gb: dict[str, float] = Field(
        default_factory=dict,
        description="Quota per storage path (GB); the oldest footage that is not held goes "
        "first when a path reaches it.",
    )
    min_free_gb: float = Field(
        1.0,
        ge=0,
        description="Free space kept on every path: below it the oldest footage that is not "
        "held is deleted (and an alarm raised) so that recording goes on.",
    )
    alarm_repeat_s: float = Field(
        300.0,
        ge=0,
        description="The same alarm (kind and camera or path) becomes a hub event at most "
        "once in this many seconds (Prometheus counts every one).",
    )
    cameras: dict[str, CameraRecording] = Field(
        default_factory=dict, description="Recording policy per camera id (absent: not recorded)."
    )
    device_playback_max: int = Field(
        8,
        ge=0,
        le=1000,
        description="Browsers playing a GB/T 28181 device's own recording at once on this relay "
        "(ws://relay/playback/{camera}/device): each holds a call (INVITE) on the device, "
        "whose NVR serves few; beyond, refused with close code 4503. 0 turns them off.",
    )
