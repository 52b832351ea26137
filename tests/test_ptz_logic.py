"""PTZ arbitration as pure logic: leases, priorities, locks (hub.ptz.arbitration)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from hub.config import load_config
from hub.ptz import control
from hub.ptz.arbitration import Holder, Lease, Lock, Outcome, decide
from hub.ptz.drivers import DriverError, NotSupported, Target, driver_for

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
POLICE = Holder("user", "1", "user:p", "police", 300)
POLICE2 = Holder("user", "2", "user:p2", "police", 300)
TRAFFIC = Holder("user", "3", "user:t", "traffic", 200)
CITY = Holder("user", "4", "user:c", "citymgmt", 100)


def live(holder: Holder) -> Lease:
    return Lease(holder, NOW + timedelta(seconds=10))


def test_a_free_or_idle_camera_is_acquired() -> None:
    assert decide(CITY, None, None, NOW).outcome is Outcome.acquired
    expired = Lease(POLICE, NOW - timedelta(microseconds=1))
    assert decide(CITY, expired, None, NOW).outcome is Outcome.acquired


def test_the_holder_renews() -> None:
    assert decide(TRAFFIC, live(TRAFFIC), None, NOW).outcome is Outcome.renewed


def test_higher_priority_takes_over_and_names_the_loser() -> None:
    d = decide(TRAFFIC, live(CITY), None, NOW)
    assert d.outcome is Outcome.taken_over and d.allowed
    assert d.loser == CITY


@pytest.mark.parametrize("claimant", [POLICE2, TRAFFIC, CITY])
def test_equal_or_lower_priority_is_refused_while_the_lease_is_live(claimant: Holder) -> None:
    d = decide(claimant, live(POLICE), None, NOW)
    assert d.outcome is Outcome.held and not d.allowed
    assert d.holder == POLICE


def test_a_lock_lets_only_its_department_move() -> None:
    lock = Lock("citymgmt", "user:c", "incident")
    assert decide(POLICE, None, lock, NOW).outcome is Outcome.locked  # even the highest
    assert decide(CITY, None, lock, NOW).outcome is Outcome.acquired
    # A lease of another department left under a lock gives way to the lock's department.
    d = decide(CITY, live(POLICE), lock, NOW)
    assert d.outcome is Outcome.taken_over and d.loser == POLICE
    # Within the department, the lease still decides.
    other = Holder("user", "5", "user:c2", "citymgmt", 100)
    assert decide(other, live(CITY), lock, NOW).outcome is Outcome.held


def test_priorities_come_from_the_config_and_default_to_zero() -> None:
    cfg = load_config(None, ptz={"priorities": {"police": 300}, "lease_idle_s": 0.5})
    assert cfg.ptz.priority("police") == 300
    assert cfg.ptz.priority("bus") == 0
    assert cfg.ptz.lease_idle_s == 0.5


def test_cameras_without_a_ptz_driver_answer_not_supported() -> None:
    import hub.ptz.control  # noqa: F401 - registers the drivers

    for url, why in [("rtsp://10.0.0.1/x", "ONVIF"), ("gb28181://1/2", "control address"),
                     ("http://x/", "no PTZ driver")]:
        with pytest.raises(NotSupported, match=why):
            driver_for(Target("cam", url))
    assert "secret" not in repr(Target("cam", "rtsp://a:secret@h/", "a", "secret"))


def test_a_slow_or_broken_driver_is_a_clear_driver_error() -> None:
    """The control layer's deadline and error mapping (pure: no camera is involved)."""

    async def hang(_: object) -> None:
        await asyncio.Event().wait()

    async def crash(_: object) -> None:
        raise OSError("connect to rtsp://admin:secret@10.0.0.1 failed")

    async def unsupported(_: object) -> None:
        raise NotSupported("no presets")

    driver = object()  # call() only hands it to the functions above, which ignore it
    with pytest.raises(DriverError, match="did not answer within 0.05 s"):
        asyncio.run(control.call(driver, hang, 0.05))
    with pytest.raises(DriverError, match=r"failed \(OSError\)") as err:
        asyncio.run(control.call(driver, crash, 1))
    assert "secret" not in str(err.value)
    with pytest.raises(NotSupported):
        asyncio.run(control.call(driver, unsupported, 1))
