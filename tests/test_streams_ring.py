"""Pure logic of the lazy hand-over: ring sizing from the GOP, rates from C counters, the
actors' shared tick."""

from __future__ import annotations

from core.periodic import until_tick
from streams.core.health import RateMeter
from streams.core.ring import INITIAL_FRAMES, MAX_FRAMES, MIN_FRAMES, RingSizer
from streams.core.stream import WATCH_TICK_S


def _feed(sizer: RingSizer, fps: float, gop: int, seconds: float) -> list[bool]:
    changes = []
    for i in range(int(fps * seconds)):
        changes.append(sizer.observe(i % gop == 0, i / fps))
    return changes


def test_ring_holds_the_prebuffer_and_two_gops_once_learned() -> None:
    sizer = RingSizer(prebuffer_s=10)
    assert not sizer.learned and sizer.frames() == INITIAL_FRAMES
    changes = _feed(sizer, fps=25, gop=50, seconds=2.5)  # two keyframes: 0 s and 2 s
    assert sizer.learned and (sizer.gop_frames, sizer.gop_s) == (50, 2.0)
    assert changes.count(True) == 1
    assert sizer.frames() == 25 * 10 * 1.2 + 2 * 50
    sizer.reset()
    assert not sizer.learned and sizer.frames() == INITIAL_FRAMES


def test_ring_size_is_bounded_and_ignores_units_without_time() -> None:
    tiny, huge = RingSizer(prebuffer_s=0), RingSizer(prebuffer_s=120)
    _feed(tiny, fps=5, gop=5, seconds=3)
    _feed(huge, fps=60, gop=60, seconds=3)
    assert tiny.frames() == MIN_FRAMES and huge.frames() == MAX_FRAMES
    blind = RingSizer(prebuffer_s=5)
    for i in range(100):
        blind.observe(i % 10 == 0, None)
    assert not blind.learned


def test_rates_from_cumulative_counters() -> None:
    meter = RateMeter(window_s=2.0)
    assert meter.rates() == (0.0, 0.0)
    for k in range(9):  # every 0.5 s: 12.5 frames and 125 kB more (25 fps, 2 Mb/s)
        meter.observe(int(12.5 * k), 125_000 * k, now=100 + 0.5 * k)
    fps, bps = meter.rates()
    assert 24 <= fps <= 26 and bps == 2_000_000
    assert meter.last_at == 104.0 and meter.frames_total == 100
    meter.observe(100, 1_000_000, now=105)  # no new frame: last_at stays, rate falls
    assert meter.last_at == 104.0 and meter.rates()[0] < 25
    meter.reset()
    meter.observe(3, None, now=106)  # a new session counts from zero; octets unknown
    meter.observe(28, None, now=107)
    assert meter.frames_total == 128 and meter.rates() == (25.0, 0.0)


def test_every_camera_ticks_on_one_grid() -> None:
    """Actors started at any moment wake at the same instants (one wake-up per tick for a
    relay of many cameras), a whole tick apart, never at once."""
    tick = WATCH_TICK_S
    for now in (0.0, 0.01, 0.5, 0.999, 1234.25, 98765.4321):
        wait = until_tick(now, tick)
        assert 0 < wait <= tick
        assert abs(((now + wait) / tick) - round((now + wait) / tick)) < 1e-6
    assert until_tick(3 * tick, tick) == tick
    assert until_tick(7.0, tick=2.0) == 1.0
