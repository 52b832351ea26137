"""Device control on real sockets with a real store: the hub's PTZ driver for gb28181://
cameras goes through the SIP service's control API to a simulated device as DeviceControl
(PTZCmd speeds and presets, the 2022 edition's PTZPreciseCtrl and RecordCmd with a stream
number) and reads PTZPosition back; bad requests and unknown devices are clear errors."""

from __future__ import annotations

import secrets

import httpx
import pytest

from devkit.fixtures.wait import until
from devkit.gb28181_device import make_channels
from gb28181 import devctl
from hub.gb28181.control import serve_control
from hub.ptz.drivers import NotSupported, Target
from hub.ptz.gb28181 import Gb28181Driver
from tests.test_gb28181_service import DEV1, World, _seed, scenario


def test_ptz_cmd_bytes_as_the_standard_gives_them() -> None:
    assert devctl.move(0, 0, 0) == "A50F0100000000B5"  # the stop every device knows
    up_left = devctl.decode(devctl.move(-0.5, 1, 0))
    assert up_left == devctl.PtzInstruction(devctl.UP | devctl.LEFT, 128, 255, 0)
    zoom = devctl.decode(devctl.move(0, 0, -1))
    assert (zoom.code, zoom.zoom_speed) == (devctl.ZOOM_OUT, 15)
    goto = devctl.decode(devctl.preset(devctl.PRESET_GOTO, 7))
    assert (goto.code, goto.tilt_speed) == (0x82, 7)
    for bad in ("A50F0100000000B6", "zz", "A50F01000000B5"):
        with pytest.raises(devctl.ControlError):
            devctl.decode(bad)
    with pytest.raises(devctl.ControlError):
        devctl.move(2, 0, 0)
    assert devctl.record(True, 1).startswith("<RecordCmd>Record</RecordCmd>")


@pytest.fixture
def dsn(store_dsn: str) -> str:
    _seed(store_dsn)
    return store_dsn


def test_the_ptz_driver_steers_a_channel_through_the_sip_service(dsn: str) -> None:
    channel = make_channels(DEV1, 1)[0].id

    async def body(w: World) -> None:
        assert w.service is not None
        sim = await w.device(DEV1, "secret1", channels=make_channels(DEV1, 1))
        assert await sim.register() == 200
        token = secrets.token_hex(16)
        _server, task, port = await serve_control(w.service, token, "127.0.0.1", 0)
        control = f"http://127.0.0.1:{port}"
        try:
            drv = Gb28181Driver(Target(channel, f"gb28181://{DEV1}/{channel}?transport=udp"
                                                f"&control={control}&token={token}"))
            await drv.continuous_move(0.5, -1, 0)
            assert sim.ptz[-1] == devctl.PtzInstruction(devctl.RIGHT | devctl.DOWN, 128, 255, 0)
            await drv.stop()
            assert sim.ptz[-1].code == 0
            # Absolute: PTZPreciseCtrl in degrees; the position read back (PTZPosition).
            await drv.absolute_move(0, 0.5, 0.5)
            assert sim.position == (180.0, 45.0, 15.5)
            assert await drv.position() == (180.0, 45.0, 15.5)
            await drv.relative_move(0.5, 0, 0)
            assert sim.position == (270.0, 45.0, 15.5)
            await drv.goto_preset("3")
            assert (sim.ptz[-1].code, sim.ptz[-1].tilt_speed) == (devctl.PRESET_GOTO, 3)
            assert await drv.set_preset("gate", "4") == "4"
            for refused in (drv.set_preset("gate", None), drv.goto_preset("x"), drv.presets()):
                with pytest.raises(NotSupported):
                    await refused
            async with httpx.AsyncClient() as client:
                auth = {"Authorization": f"Bearer {token}"}
                r = await client.post(f"{control}/control", headers=auth, json={
                    "device": DEV1, "channel": channel, "command": "record", "on": True,
                    "stream_number": 1})
                assert r.status_code == 200, r.text

                async def recording() -> bool:
                    return sim.recording.get(channel) == (True, 1)
                assert await until(recording)
                bad: list[dict[str, object]] = [
                    {"command": "move", "pan": 3}, {"command": "precise", "pan": "x"},
                    {"command": "preset", "op": "goto", "number": 0}, {"command": "dance"}]
                for b in bad:
                    r = await client.post(f"{control}/control", headers=auth,
                                          json={"device": DEV1, "channel": channel, **b})
                    assert r.status_code == 400 and r.json()["code"] == "bad_request", b
                r = await client.post(f"{control}/control", headers=auth, json={
                    "device": "34020000001320000099", "channel": channel, "command": "stop"})
                assert r.status_code == 502
                r = await client.post(f"{control}/control", json={
                    "device": DEV1, "channel": channel, "command": "stop"})
                assert r.status_code == 401
        finally:
            task.cancel()
    scenario(dsn, body)
