"""CameraFeed: one hop to the event loop per frame for all viewers, each in order, once."""

from __future__ import annotations

import asyncio

from streams.core.fanout import Fanout
from streams.core.media import AccessUnit
from streams.webrtc.feed import CameraFeed


def unit(n: int, keyframe: bool = False) -> AccessUnit:
    return AccessUnit(bytes([n]), n / 25, keyframe, "h264")


async def delivered(got: list[AccessUnit], n: int, timeout: float = 5.0) -> None:
    """Until the hand-overs scheduled on the loop have brought ``got`` to ``n`` units."""
    async with asyncio.timeout(timeout):
        while len(got) < n:
            await asyncio.sleep(0.001)


def test_viewers_share_one_subscription_and_each_gets_the_gop_then_every_unit_once() -> None:
    async def scenario() -> tuple[list[list[AccessUnit]], list[int], list[AccessUnit]]:
        fanout = Fanout(prebuffer_s=0)
        feed = CameraFeed(fanout)
        got: list[list[AccessUnit]] = [[] for _ in range(4)]
        sent = [unit(0, True), unit(1), unit(2)]
        counts = []
        keys = [feed.join(got[0].append)]
        for au in sent:
            fanout.publish(au)
        await delivered(got[0], len(sent))
        keys.append(feed.join(got[1].append))  # joins on the cached GOP
        # Published, not yet handed over (a frame late): in the GOP the next viewer gets.
        sent.append(unit(3))
        fanout.publish(sent[-1])
        keys.append(feed.join(got[2].append))
        # A keyframe while the previous frame still waits to be handed over: a viewer joining
        # now starts on it and never gets the older frame after it.
        sent += [unit(4), unit(5, True)]
        fanout.publish(sent[-2])
        fanout.publish(sent[-1])
        keys.append(feed.join(got[3].append))
        counts.append(fanout.consumer_count)
        await delivered(got[0], len(sent))
        sent.append(unit(6))
        fanout.publish(sent[-1])
        await delivered(got[0], len(sent))
        for key in keys:
            feed.leave(key)
        counts.append(fanout.consumer_count)
        return got, counts, sent

    got, counts, sent = asyncio.run(scenario())
    assert counts == [1, 0]  # one subscription for all, none once they left
    assert got[0] == sent
    assert got[1] == sent
    assert got[2] == sent
    assert got[3] == sent[5:]
