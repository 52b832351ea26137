"""Recording policies and their validation (pure logic)."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError

from streams.recording.config import CameraRecording, RecordingConfig, ScheduleWindow
from streams.recording.recorder import segment_name, segment_time


def test_weekly_schedule_windows() -> None:
    nights = ScheduleWindow(days=[0, 1, 2, 3, 4], start="20:00", end="24:00")
    assert nights.covers(datetime(2026, 12, 7, 21, 30))  # a Monday evening
    assert not nights.covers(datetime(2026, 12, 7, 19, 59))
    assert not nights.covers(datetime(2026, 12, 6, 21, 30))  # a Sunday


def test_policies_are_validated() -> None:
    with pytest.raises(ValidationError, match="needs at least one window"):
        CameraRecording(mode="schedule")
    with pytest.raises(ValidationError):
        ScheduleWindow(start="25:00")
    with pytest.raises(ValidationError):
        RecordingConfig.model_validate({"cameras": {"c": {"mode": "sometimes"}}})
    cfg = RecordingConfig.model_validate(
        {"cameras": {"c": {"mode": "events", "pre_s": 8, "post_s": 20}}}
    )
    assert cfg.cameras["c"].pre_s == 8


def test_segment_names_carry_their_start() -> None:
    name = segment_name("cam-1", 1_780_000_000.123)
    assert name == "cam-1-20260528T202640.123Z.mp4"
    assert segment_time(name) == pytest.approx(1_780_000_000.123)
    assert segment_time("notes.mp4") is None
