"""The simulated head: pan, tilt and zoom that move over time, presets and a home position.

Thread-safe: the SOAP handlers (asyncio) change it, the picture (GLib) reads it.
Positions are ONVIF's generic spaces: pan and tilt in [-1, 1], zoom in [0, 1].
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

#: Position units per second at velocity 1 (the full pan range in 2 s at full speed).
SPEED = 1.0


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


@dataclass
class PtzState:
    pan: float = 0.0
    tilt: float = 0.0
    zoom: float = 0.0
    home: tuple[float, float, float] = (0.0, 0.0, 0.0)
    presets: dict[str, tuple[str, tuple[float, float, float]]] = field(default_factory=dict)
    _velocity: tuple[float, float, float] = (0.0, 0.0, 0.0)
    _since: float = field(default_factory=time.monotonic)
    _until: float | None = None  #: a continuous move's timeout
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _settle(self, now: float) -> None:
        """Advance the position by the running velocity up to ``now`` (call under the lock)."""
        end = now if self._until is None else min(now, self._until)
        dt = max(0.0, end - self._since)
        vp, vt, vz = self._velocity
        self.pan = _clamp(self.pan + vp * SPEED * dt, -1.0, 1.0)
        self.tilt = _clamp(self.tilt + vt * SPEED * dt, -1.0, 1.0)
        self.zoom = _clamp(self.zoom + vz * SPEED * dt / 2, 0.0, 1.0)
        self._since = now
        if self._until is not None and now >= self._until:
            self._velocity, self._until = (0.0, 0.0, 0.0), None

    def position(self) -> tuple[float, float, float, bool]:
        """(pan, tilt, zoom, moving) now."""
        with self._lock:
            self._settle(time.monotonic())
            return self.pan, self.tilt, self.zoom, self._velocity != (0.0, 0.0, 0.0)

    def move(self, pan: float, tilt: float, zoom: float, timeout_s: float | None = None) -> None:
        with self._lock:
            now = time.monotonic()
            self._settle(now)
            self._velocity = (_clamp(pan, -1, 1), _clamp(tilt, -1, 1), _clamp(zoom, -1, 1))
            self._until = None if timeout_s is None else now + timeout_s

    def stop(self, pan_tilt: bool = True, zoom: bool = True) -> None:
        with self._lock:
            self._settle(time.monotonic())
            vp, vt, vz = self._velocity
            self._velocity = (0.0 if pan_tilt else vp, 0.0 if pan_tilt else vt,
                              0.0 if zoom else vz)

    def go(self, pan: float | None, tilt: float | None, zoom: float | None,
           relative: bool = False) -> None:
        """Jump to a position (or by a step): the simulated head arrives at once."""
        with self._lock:
            self._settle(time.monotonic())
            self._velocity, self._until = (0.0, 0.0, 0.0), None
            base = (self.pan, self.tilt, self.zoom) if relative else (0.0, 0.0, 0.0)
            if pan is not None:
                self.pan = _clamp(base[0] * relative + pan, -1.0, 1.0)
            if tilt is not None:
                self.tilt = _clamp(base[1] * relative + tilt, -1.0, 1.0)
            if zoom is not None:
                self.zoom = _clamp(base[2] * relative + zoom, 0.0, 1.0)

    def set_preset(self, name: str, token: str | None) -> str:
        with self._lock:
            self._settle(time.monotonic())
            if not token:
                n = len(self.presets) + 1
                while f"preset{n}" in self.presets:
                    n += 1
                token = f"preset{n}"
            self.presets[token] = (name or token, (self.pan, self.tilt, self.zoom))
            return token

    def preset_list(self) -> dict[str, tuple[str, tuple[float, float, float]]]:
        with self._lock:
            return dict(self.presets)

    def preset(self, token: str) -> tuple[float, float, float] | None:
        with self._lock:
            found = self.presets.get(token)
            return None if found is None else found[1]
