"""The one housekeeping loop: a failed round does not end it; an unexpected error does."""

from __future__ import annotations

import asyncio
import logging

import pytest

from core.periodic import FailureStreak, every


def test_a_failed_round_is_logged_and_the_next_one_still_comes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rounds: list[int] = []

    async def scenario() -> None:
        third = asyncio.Event()

        async def work() -> None:
            rounds.append(len(rounds))
            if len(rounds) == 1:
                raise OSError("disk full")
            if len(rounds) == 3:
                third.set()

        task = asyncio.create_task(every(0.01, work, "cleanup", at_once=True))
        await asyncio.wait_for(third.wait(), 5)
        task.cancel()

    asyncio.run(scenario())
    assert rounds[:3] == [0, 1, 2]
    assert "cleanup failed" in caplog.text and "disk full" in caplog.text


def test_an_error_it_does_not_survive_ends_the_loop() -> None:
    async def work() -> None:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        asyncio.run(asyncio.wait_for(every(0.01, work, "cleanup", survives=(OSError,)), 5))


def _fail(streak: FailureStreak, message: str) -> None:
    try:
        raise ConnectionError(message)
    except ConnectionError as exc:
        streak.failed(exc, 1.0)


def test_an_outage_is_a_warning_until_it_lasts_then_an_error_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="core.periodic")
    riding_out = FailureStreak("sweep", grace_s=3600)
    for _ in range(3):
        _fail(riding_out, "database restarting\ndetail")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].exc_info is None
    assert warnings[0].getMessage() == ("sweep failed (ConnectionError: database restarting);"
                                        " trying again in 1 s")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    riding_out.worked()
    assert "sweep works again after" in caplog.records[-1].getMessage()

    caplog.clear()
    broken = FailureStreak("sweep", grace_s=0)
    for _ in range(3):
        _fail(broken, "no such table")
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None  # once a minute, not per round
    assert "has failed for" in errors[0].getMessage()
