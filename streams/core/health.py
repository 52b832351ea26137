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
    """Frame and byte rates over a sliding window, from cumulative counters.

    The stream actor samples counters kept in C (the ring's rendered frames, the RTP
    session's received octets) a few times a second, so health costs nothing per frame.
    """

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, int, int | None]] = deque()
        self.last_at: float | None = None  #: when the frame counter last moved
        self.frames_total = 0

    def reset(self) -> None:
        """A new upstream session: its counters start again from zero."""
        self._samples.clear()

    def observe(self, frames: int, octets: int | None, now: float | None = None) -> None:
        """Record the session's cumulative ``frames`` and ``octets`` (None: not known)."""
        now = time.monotonic() if now is None else now
        previous = self._samples[-1][1] if self._samples else 0
        if frames > previous:
            self.frames_total += frames - previous
            self.last_at = now
        self._samples.append((now, frames, octets))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window_s:
            self._samples.popleft()

    def rates(self) -> tuple[float, float]:
        """(frames per second, bits per second) over the window."""
        if len(self._samples) < 2:
            return 0.0, 0.0
        (t0, f0, o0), (t1, f1, o1) = self._samples[0], self._samples[-1]
        span = max(t1 - t0, 1e-3)
        bits = 8 * (o1 - o0) if o0 is not None and o1 is not None else 0
        return (f1 - f0) / span, bits / span
