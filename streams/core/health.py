"""Per-camera health: state, rates, last-frame age, viewers; online/offline events."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum


class StreamState(StrEnum):
    IDLE = "idle"  #: nobody consumes it; not connected (on-demand)
    CONNECTING = "connecting"  #: connecting, or waiting for the first frame
    LIVE = "live"  #: frames arriving
    FAILED = "failed"  #: last attempt failed; retrying with backoff while wanted


@dataclass(frozen=True)
class StreamEvent:
    """An online/offline transition, for the hub or edge to publish (e.g. to MQTT)."""

    camera_id: str
    kind: str  #: "online", "offline" (failed) or "idle" (closed for lack of consumers)
    state: StreamState
    error: str | None
    at: float = field(default_factory=time.time)  #: unix seconds


class RateMeter:
    """Frames and bytes over a sliding window, fed from the streaming thread."""

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, int]] = deque()
        self.last_at: float | None = None
        self.frames_total = 0

    def add(self, size: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._samples.append((now, size))
        self.last_at = now
        self.frames_total += 1
        while self._samples and now - self._samples[0][0] > self.window_s:
            self._samples.popleft()

    def rates(self, now: float | None = None) -> tuple[float, float]:
        """(frames per second, bits per second) over the window."""
        now = time.monotonic() if now is None else now
        samples = [s for s in list(self._samples) if now - s[0] <= self.window_s]
        if len(samples) < 2:
            return 0.0, 0.0
        span = max(samples[-1][0] - samples[0][0], 1e-3)
        frames = len(samples) - 1
        bits = 8 * sum(size for _, size in samples[1:])
        return frames / span, bits / span
