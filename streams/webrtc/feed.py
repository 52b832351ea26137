"""A camera's access units handed to the event loop once for all its WebRTC viewers.

Why: a viewer subscribed to the ``Fanout`` alone costs one ``call_soon_threadsafe`` per
frame from the upstream's thread - a write to the loop's self-pipe and a callback each, 50
per frame at 50 viewers (3-7 % of the relay's WebRTC time in py-spy, issue #22). Here one
subscription per camera hops to the loop once per frame and offers the unit to every viewer.

A joining viewer is first offered the cached GOP (as ``Fanout.subscribe`` does). Units are
numbered as published; one handed over after a viewer joined but published before is in
that GOP or older than it, and is skipped; one published while the GOP was read may be in
it too, and is skipped if it is (by identity).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable

from streams.core.fanout import Fanout
from streams.core.media import AccessUnit

Offer = Callable[[AccessUnit], None]


class _Viewer:
    def __init__(self, offer: Offer, joined_after: int, backlog: list[AccessUnit]) -> None:
        self.offer = offer
        self.joined_after = joined_after  #: the number of the last unit published before
        self.backlog: list[AccessUnit] | None = backlog  # until a newer unit came

    def live(self, au: AccessUnit, number: int) -> None:
        if self.backlog is not None:
            if number <= self.joined_after or any(au is b for b in self.backlog):
                return
            self.backlog = None
        self.offer(au)


class CameraFeed:
    """H.264 units of one camera, on the event loop, for its viewers (``join``/``leave``)."""

    def __init__(self, fanout: Fanout, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._fanout = weakref.ref(fanout)  # sessions' registry is weak on the fanout
        self._loop = loop or asyncio.get_running_loop()
        self._viewers: dict[int, _Viewer] = {}
        self._next = 1
        self._cid: int | None = None
        self._published = 0  # written on the upstream's thread only

    def join(self, offer: Offer) -> int:
        """On the loop: ``offer`` gets the cached GOP now, then every unit; returns a key."""
        fanout = self._fanout()
        if fanout is None:
            raise RuntimeError("the camera's stream is gone")
        if self._cid is None:
            self._cid = fanout.subscribe(self._consume, from_keyframe=False)
        joined_after = self._published  # read before the GOP: see the module's docstring
        backlog = [au for au in fanout.gop() if au.codec == "h264"]
        for au in backlog:
            offer(au)
        key, self._next = self._next, self._next + 1
        self._viewers[key] = _Viewer(offer, joined_after, backlog)
        return key

    def leave(self, key: int) -> None:
        self._viewers.pop(key, None)
        fanout = self._fanout()
        if not self._viewers and self._cid is not None:
            if fanout is not None:
                fanout.unsubscribe(self._cid)
            self._cid = None

    def _consume(self, au: AccessUnit) -> None:  # on the upstream's thread
        if au.codec == "h264":
            self._published += 1
            self._loop.call_soon_threadsafe(self._hand_over, au, self._published)

    def _hand_over(self, au: AccessUnit, number: int) -> None:
        for viewer in list(self._viewers.values()):
            viewer.live(au, number)
