"""The one housekeeping loop: a failed round does not end it; an unexpected error does."""

from __future__ import annotations

import asyncio

import pytest

from core.periodic import every


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
