"""Producer/consumer fan-out with a GOP cache and a pre-event buffer.

The upstream thread calls ``publish`` for every access unit. Each consumer
gets the same immutable AccessUnit objects (no copies, no re-encoding). A new
consumer is first handed the cached GOP (from the latest keyframe), so its
decoder starts at once instead of waiting up to a GOP for the next keyframe.
Consumers must not block: they queue and drop on their side.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from streams.core.media import AccessUnit

Consumer = Callable[[AccessUnit], None]


class Fanout:
    """Thread-safe distribution of access units to consumers."""

    def __init__(
        self,
        prebuffer_s: float = 10.0,
        gop_cache_max: int = 600,
        refresh: Callable[[], None] | None = None,
        on_count: Callable[[int], None] | None = None,
    ) -> None:
        # refresh(): bring the caches up to date before they are read (the upstream may hold
        # frames not yet handed over); on_count(n): the number of consumers changed.
        self._refresh = refresh or (lambda: None)
        self._on_count = on_count or (lambda n: None)
        self._lock = threading.Lock()
        self._consumers: dict[int, Consumer] = {}
        self._next_id = 1
        self._gop: list[AccessUnit] = []
        self._gop_cache_max = gop_cache_max
        self.prebuffer_s = prebuffer_s
        self._gops: deque[list[AccessUnit]] = deque()  # pre-event buffer, GOP by GOP

    def subscribe(self, consumer: Consumer, from_keyframe: bool = True) -> int:
        """Register ``consumer``; it first receives the cached GOP. Returns its id."""
        self._refresh()
        with self._lock:
            cid = self._next_id
            self._next_id += 1
            backlog = list(self._gop) if from_keyframe else []
            # Delivered under the lock so no live unit can slip in before the backlog.
            for au in backlog:
                consumer(au)
            self._consumers[cid] = consumer
            count = len(self._consumers)
        self._on_count(count)
        return cid

    def unsubscribe(self, cid: int) -> None:
        with self._lock:
            self._consumers.pop(cid, None)
            count = len(self._consumers)
        self._on_count(count)

    @property
    def consumer_count(self) -> int:
        with self._lock:
            return len(self._consumers)

    def publish(self, au: AccessUnit) -> None:
        with self._lock:
            if au.keyframe:
                self._gop = [au]
            elif self._gop and len(self._gop) < self._gop_cache_max:
                self._gop.append(au)
            self._remember(au)
            consumers = list(self._consumers.values())
        for consumer in consumers:
            consumer(au)

    def _remember(self, au: AccessUnit) -> None:
        if self.prebuffer_s <= 0:
            return
        if au.keyframe:
            self._gops.append([au])
            # Drop the oldest GOP while the GOPs after it still cover prebuffer_s.
            while len(self._gops) > 1 and au.pts - self._gops[1][0].pts >= self.prebuffer_s:
                self._gops.popleft()
        elif self._gops and len(self._gops[-1]) < self._gop_cache_max:
            self._gops[-1].append(au)

    def gop(self) -> list[AccessUnit]:
        """The cached GOP: latest keyframe and what followed it."""
        self._refresh()
        with self._lock:
            return list(self._gop)

    def prebuffer(self) -> list[AccessUnit]:
        """The pre-event buffer, starting on a keyframe (empty if none yet)."""
        self._refresh()
        with self._lock:
            return [au for gop in self._gops for au in gop]

    def clear(self) -> None:
        """Forget cached media (the upstream changed: old parameter sets may not apply)."""
        with self._lock:
            self._gop = []
            self._gops.clear()
