"""Reaching a camera's PTZ driver: unseal its URL (as the relay does), call with a deadline.

The API role cannot read camera credentials (migration 0002_access); the driver needs
them, so the target is read over the owner's connection (``database.url``), only after
arbitration allowed the command.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import psycopg

from hub.auth.credentials import CredentialBox, read_for_relay
from hub.ptz.drivers import DriverError, NotSupported, PtzDriver, Target, driver_for, register
from hub.ptz.gb28181 import Gb28181Driver
from hub.ptz.onvif import OnvifDriver

T = TypeVar("T")
D = TypeVar("D")  #: the driver: call() only hands it to ``fn``
register("onvif", OnvifDriver)
register("gb28181", Gb28181Driver)


def target(owner_dsn: str | None, box: CredentialBox, camera_id: str) -> Target:
    if owner_dsn is None:
        raise NotSupported("the hub has no owner database URL (database.url) to read camera "
                           "addresses with")
    with psycopg.connect(owner_dsn, application_name="cityhub-ptz") as conn:
        creds = read_for_relay(conn, box, camera_id)
    if creds is None or not creds.get("url"):
        raise NotSupported("no address is stored for this camera")
    return Target(camera_id, str(creds["url"]), creds.get("username"), creds.get("password"))


async def call(driver: D, fn: Callable[[D], Awaitable[T]], timeout_s: float
               ) -> T:
    """``fn(driver)`` within ``timeout_s``. A timeout or any failure of the driver becomes a
    :class:`DriverError` (an unexpected one named by its type only: its message may quote
    the camera's URL); :class:`NotSupported` and :class:`DriverError` pass through."""
    try:
        return await asyncio.wait_for(fn(driver), timeout_s)
    except (NotSupported, DriverError):
        raise
    except TimeoutError as exc:
        raise DriverError(f"the camera did not answer within {timeout_s:g} s") from exc
    except Exception as exc:  # noqa: BLE001 - a driver's bug must not become a 500 or leak
        raise DriverError(f"the camera's PTZ driver failed ({type(exc).__name__})") from exc


def driver(owner_dsn: str | None, box: CredentialBox, camera_id: str) -> PtzDriver:
    return driver_for(target(owner_dsn, box, camera_id))
