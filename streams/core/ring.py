"""How many frames the upstream's ring must hold so that Python can be lazy.

A camera watched only by RTSP readers never hands its frames to Python: they
wait in the upstream's ring (an appsink in C that drops its oldest frame when
full) and Python drains them only when someone needs them (a new WebRTC or fMP4
viewer wants the GOP cache, a clip wants the pre-event buffer). For that the ring
must hold the pre-event buffer plus the GOP it starts on. Both depend on the
camera's frame rate and keyframe interval, which the stream learns from its
first two keyframes (handed over one by one) and keeps updating whenever frames
pass through Python.
"""

from __future__ import annotations

import math

#: Ring size before the camera's GOP is known, and the bounds of any size.
INITIAL_FRAMES = 120
MIN_FRAMES = 60
MAX_FRAMES = 4000


class RingSizer:
    """Learns fps and GOP length from access units; says how big the ring must be."""

    def __init__(self, prebuffer_s: float) -> None:
        self.prebuffer_s = prebuffer_s
        self.gop_frames: int | None = None  #: frames from one keyframe to the next
        self.gop_s: float | None = None
        self._since_key = 0
        self._key_pts: float | None = None

    def reset(self) -> None:
        """A new upstream session: learn again (the camera may have been reconfigured)."""
        self.gop_frames = self.gop_s = None
        self._since_key = 0
        self._key_pts = None

    @property
    def learned(self) -> bool:
        return self.gop_frames is not None

    def observe(self, keyframe: bool, pts: float | None) -> bool:
        """Count one access unit; True when the GOP estimate changed."""
        if not keyframe:
            self._since_key += 1
            return False
        changed = False
        if self._key_pts is not None and pts is not None and pts > self._key_pts:
            frames, seconds = self._since_key + 1, pts - self._key_pts
            changed = (frames, seconds) != (self.gop_frames, self.gop_s)
            self.gop_frames, self.gop_s = frames, seconds
        self._key_pts, self._since_key = pts, 0
        return changed

    def frames(self) -> int:
        """Ring size: the pre-event buffer and two GOPs (the one it starts on, the one
        being received), with a margin for jitter in the frame rate."""
        if self.gop_frames is None or not self.gop_s:
            return INITIAL_FRAMES
        fps = self.gop_frames / self.gop_s
        size = math.ceil(fps * self.prebuffer_s * 1.2) + 2 * self.gop_frames
        return max(MIN_FRAMES, min(MAX_FRAMES, size))
