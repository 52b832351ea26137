"""One active relay per state directory, and a warm standby that takes over when it dies
(streams/standby.py). Real relay processes, a real synthetic camera, a real WHEP viewer."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess

import pytest

from devkit.embedded.process import stop
from devkit.fixtures.wait import wait_for, wait_started
from streams.standby import ActiveLock, holder, lock_path
from streams.webrtc.client import WhepClient


def _log_has(path: os.PathLike[str], text: str) -> bool:
    try:
        return text in open(path, encoding="utf-8").read()
    except FileNotFoundError:
        return False


def test_a_second_relay_on_the_same_state_refuses_without_standby(camera_factory,
                                                                  relay_factory) -> None:
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")})
    second = relay.config_path.parent / "second.log"
    code = relay.spawn(second).wait(timeout=60)
    assert code == 2
    assert f"relay pid {relay.proc.pid} is active" in second.read_text()
    assert "--standby" in second.read_text()
    assert holder(lock_path(relay.config_path.parent / "state")) == relay.proc.pid


def test_the_lock_is_free_again_when_its_holder_ends(tmp_path) -> None:
    path = lock_path(tmp_path, "relay-1")
    assert path.name == "active-relay-1.lock"
    mine = ActiveLock(path)  # makes the directory, holds nothing yet
    ready = tmp_path / "held"
    child = subprocess.Popen(["flock", "-nF", str(path), "sh", "-c",
                              f"touch {ready}; exec sleep 600"])
    try:
        wait_for(ready.exists, 10, "the child holding the lock")
        assert not mine.try_acquire()
        child.kill()
        child.wait()
        assert mine.try_acquire()
        assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    finally:
        child.kill()


@pytest.mark.fault
def test_the_standby_serves_when_the_active_relay_is_killed(camera_factory, relay_factory,
                                                            loopback_ice) -> None:
    """kill -9 of the active relay: the standby (imported, waiting on the lock) takes the
    same ports and a viewer plays again, while a second standby (still settling, not yet
    imported) waits on; SIGTERM ends a standby that never took over."""
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")})
    logs = relay.config_path.parent
    standby = relay.spawn(logs / "standby.log", "--standby")
    spare = relay.spawn(logs / "spare.log", "--standby")
    try:
        wait_started(standby, lambda: _log_has(logs / "standby.log", "standby: warm"),
                     logs / "standby.log", 60, "standby")
        wait_started(spare, lambda: _log_has(logs / "spare.log", "waiting to take over"),
                     logs / "spare.log", 60, "spare")

        async def play() -> int:
            whep = WhepClient(f"{relay.http}/whep/cam1", relay.token("cam1"))
            await whep.start()
            try:
                return await whep.wait_frames(10, 20)
            finally:
                await whep.stop()

        assert asyncio.run(play()) >= 10
        os.kill(relay.proc.pid, signal.SIGKILL)
        relay.proc.wait()
        survivors = wait_for(
            lambda: [p for p, log in ((standby, "standby.log"), (spare, "spare.log"))
                     if _log_has(logs / log, "relay: ready")], 60, "a standby serving")
        assert len(survivors) == 1  # the lock lets one through; the other waits on
        active = survivors[0]
        assert holder(lock_path(logs / "state")) == active.pid
        assert asyncio.run(play()) >= 10
        waiting = spare if active is standby else standby
        waiting.send_signal(signal.SIGTERM)
        assert waiting.wait(timeout=30) == 0
    finally:
        stop(standby)
        stop(spare)
