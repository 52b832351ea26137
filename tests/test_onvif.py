"""ONVIF: the client against the simulated PTZ camera (real HTTP, RTSP and UDP sockets),
the onvif:// source through a real relay, errors from misbehaving devices, and
WS-Discovery inside a private network namespace (multicast never leaves the machine)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import httpx
import numpy as np
import pytest

from devkit.fixtures.browser import network_namespace
from devkit.fixtures.onvif import PASSWORD, USER, OnvifCameras
from devkit.fixtures.picture import rtsp_picture
from devkit.fixtures.streams import GstReader
from devkit.fixtures.wait import until, wait_started
from streams.onvif.client import OnvifDevice
from streams.onvif.discovery import MAX_ANSWER_BYTES, parse_matches
from streams.onvif.ptz import OnvifPtz, PtzStatus
from streams.onvif.url import OnvifError, OnvifUrl
from streams.sources import UnsupportedSource, source_for

T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


def device(cams: OnvifCameras, password: str = PASSWORD, timeout_s: float = 5.0) -> OnvifDevice:
    return OnvifDevice("127.0.0.1", cams.http_port, USER, password, timeout_s)


def marker_x(rgb: np.ndarray) -> float:
    """Horizontal centre (0..1) of the simulator's red marker."""
    red = (rgb[..., 0].astype(int) - rgb[..., 1].astype(int)) > 100
    xs = np.nonzero(red)[1]
    assert xs.size > 20, "no red marker in the picture"
    return float(xs.mean()) / rgb.shape[1]


def test_device_info_profiles_and_uris(onvif_camera: OnvifCameras) -> None:
    async def go() -> None:
        async with device(onvif_camera) as dev:
            info = await dev.device_info()
            assert (info.model, info.serial) == ("ONVIF PTZ simulator", "SIM0001")
            profiles = await dev.profiles()
            assert [(p.token, p.encoding, p.width, p.height, p.ptz) for p in profiles] == [
                ("main", "H264", 640, 360, True), ("sub", "H264", 320, 180, True)]
            assert (await dev.profile("sub")).token == "sub"
            main = await dev.stream_uri("main")
            sub = await dev.stream_uri((await dev.profile("sub")).token)
            assert main == f"rtsp://127.0.0.1:{onvif_camera.rtsp_port}/ptz1/main"
            assert sub.endswith("/ptz1/sub")
            snap = await dev.snapshot_uri("main")
        jpeg = httpx.get(snap, auth=(USER, PASSWORD), timeout=10)
        assert jpeg.status_code == 200 and jpeg.content[:2] == b"\xff\xd8"
        assert httpx.get(snap, timeout=10).status_code == 401

    run(go())


def test_wrong_password_is_a_clear_error(onvif_camera: OnvifCameras) -> None:
    started = time.monotonic()
    with pytest.raises(OnvifError, match="refused the credentials") as err:
        run(device(onvif_camera, password="wrong").device_info())
    assert "wrong" not in str(err.value).replace("wrong user", "")  # no password echoed
    assert time.monotonic() - started < 5


def test_soap_fault_and_unknown_profile(onvif_camera: OnvifCameras) -> None:
    async def go() -> None:
        ptz = OnvifPtz(onvif_camera.onvif_url())
        with pytest.raises(OnvifError, match="SOAP fault.*InvalidArgVal.*no preset"):
            await ptz.goto_preset("nope")
        with pytest.raises(ValueError, match="pan 2.0 is outside"):
            await ptz.continuous_move(2.0, 0, 0)
        await ptz.aclose()
        async with device(onvif_camera) as dev:
            with pytest.raises(OnvifError, match="no profile 'third'"):
                await dev.profile("third")

    run(go())


@contextmanager
def misbehaving_server(answer: bytes | None) -> Iterator[int]:
    """An HTTP listener that sends ``answer`` to every request, or never answers (None)."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            held.append(conn)
            if answer is not None:
                conn.recv(65536)
                conn.sendall(answer)
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for c in held:
            c.close()
        listener.close()


def _http(body: bytes, status: str = "200 OK") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/soap+xml\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


@pytest.mark.parametrize("answer, message", [
    (_http(b"this is not XML <<<"), "malformed answer"),
    (_http(b'<?xml version="1.0"?><x:Envelope xmlns:x="urn:other"><x:Body/></x:Envelope>'),
     "malformed answer .*Envelope"),
    (_http(b"", "500 Internal Server Error"), "HTTP 500 from the camera"),
    (_http(b"", "401 Unauthorized"), "refused the credentials"),
    (_http(b"<html>login</html>", "403 Forbidden"), "error answer without a SOAP fault"),
    (None, "no answer within 1 s"),
])
def test_misbehaving_device_fails_clearly_within_the_timeout(answer: bytes | None,
                                                             message: str) -> None:
    with misbehaving_server(answer) as port:
        started = time.monotonic()
        with pytest.raises(OnvifError, match=message) as err:
            run(OnvifDevice("127.0.0.1", port, USER, PASSWORD, timeout_s=1.0).device_info())
        assert time.monotonic() - started < 3
        assert f"127.0.0.1:{port}" in str(err.value) and PASSWORD not in str(err.value)


async def _status(ptz: OnvifPtz, ok: Callable[[PtzStatus], bool],
                  timeout: float = 10) -> PtzStatus:
    async def reached() -> PtzStatus | None:
        status = await ptz.status()
        return status if ok(status) else None

    status: PtzStatus | None = await until(reached, timeout, "the PTZ status")
    assert status is not None
    return status


async def _picture(cams: OnvifCameras, until: Callable[[np.ndarray], bool],
                   timeout: float = 20) -> np.ndarray:
    deadline = time.monotonic() + timeout
    while True:
        rgb = await asyncio.to_thread(rtsp_picture, cams.rtsp_url())
        if until(rgb) or time.monotonic() > deadline:
            return rgb


def test_ptz_moves_the_head_and_the_picture(onvif_camera: OnvifCameras) -> None:
    async def go() -> None:
        before = await _picture(onvif_camera, lambda rgb: True)
        assert abs(marker_x(before) - 0.5) < 0.1
        ptz = OnvifPtz(onvif_camera.onvif_url())
        await ptz.continuous_move(1.0, 0.0, 0.0)
        moving = await _status(ptz, lambda s: s.pan > 0.6)
        assert moving.pan > 0.6 and moving.moving
        await ptz.stop()
        stopped = await ptz.status()
        assert not stopped.moving
        assert abs((await ptz.status()).pan - stopped.pan) < 1e-3
        after = await _picture(onvif_camera, lambda rgb: marker_x(rgb) > 0.75)
        assert marker_x(after) - marker_x(before) > 0.25, "the marker did not follow the pan"

        await ptz.absolute_move(-0.5, 0.25, 0.5)
        s = await ptz.status()
        assert (round(s.pan, 2), round(s.tilt, 2), round(s.zoom, 2)) == (-0.5, 0.25, 0.5)
        await ptz.relative_move(0.25, -0.25, 0.0)
        s = await ptz.status()
        assert (round(s.pan, 2), round(s.tilt, 2)) == (-0.25, 0.0)
        token = await ptz.set_preset("gate")
        assert [(p.token, p.name) for p in await ptz.presets()] == [(token, "gate")]
        await ptz.home()
        assert round((await ptz.status()).pan, 2) == 0.0
        await ptz.goto_preset(token)
        assert round((await ptz.status()).pan, 2) == -0.25
        await ptz.aclose()

    run(go())


def test_relay_plays_an_onvif_camera(onvif_camera: OnvifCameras, relay_factory) -> None:
    relay = relay_factory({
        "ptz": onvif_camera.onvif_url(profile="sub"),
        "badpw": {"url": onvif_camera.onvif_url(password="wrong"), "always_on": True},
    })
    reader = GstReader(relay.rtsp_url("ptz")).start()
    try:
        assert reader.wait_frames(10, timeout=30) >= 10, reader.errors
        assert reader.size == (320, 180)  # the sub profile's stream
    finally:
        reader.stop()
    failed = relay.wait_state("badpw", "failed")
    assert failed["state"] == "failed" and "refused the credentials" in failed["error"]
    assert PASSWORD not in json.dumps(relay.health("ptz"))


def test_onvif_urls() -> None:
    u = OnvifUrl.parse("onvif://ad%40min:p%3Aw@cam.local:8080/?profile=sub")
    assert (u.host, u.port, u.username, u.password, u.profile) == (
        "cam.local", 8080, "ad@min", "p:w", "sub")
    assert u.display == "onvif://cam.local:8080/?profile=sub"
    assert OnvifUrl.parse("onvif://10.0.0.5").port == 80
    src = source_for("onvif://u:secret@10.0.0.5:81")
    assert "secret" not in src.display_url
    with pytest.raises(UnsupportedSource, match="invalid port"):
        source_for("onvif://10.0.0.5:99999")
    with pytest.raises(UnsupportedSource, match="onvif://"):
        source_for("onvif:///nohost")


def test_discovery_answers_are_bounded() -> None:
    mid = "urn:uuid:1"
    match = ('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
             'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
             'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><s:Header>'
             f"<a:RelatesTo>{mid}</a:RelatesTo></s:Header><s:Body><d:ProbeMatches>"
             "<d:ProbeMatch><a:EndpointReference><a:Address>urn:uuid:cam</a:Address>"
             "</a:EndpointReference><d:XAddrs>http://10.0.0.5/onvif/device_service</d:XAddrs>"
             "{pad}</d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>")
    assert parse_matches(match.format(pad="").encode(), mid)[0].xaddrs == (
        "http://10.0.0.5/onvif/device_service",)
    assert parse_matches(match.format(pad="").encode(), "urn:uuid:other") == []
    big = match.format(pad="<d:Scopes>" + "x" * MAX_ANSWER_BYTES + "</d:Scopes>").encode()
    assert parse_matches(big, mid) == []
    bomb = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            b"<x>&b;</x>")
    assert parse_matches(bomb, mid) == []


#: Answers every probe with 2000 distinct ProbeMatches (one datagram each).
FLOODER = """
import socket, struct, sys
from defusedxml import ElementTree
ANSWER = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("", 3702))
group = socket.inet_aton("239.255.255.250") + socket.inet_aton("0.0.0.0")
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, group)
print("flooder ready", flush=True)
while True:
    data, addr = s.recvfrom(65536)
    mid = ElementTree.fromstring(data).findtext(
        "{http://www.w3.org/2003/05/soap-envelope}Header/"
        "{http://schemas.xmlsoap.org/ws/2004/08/addressing}MessageID")
    for i in range(2000):
        s.sendto(ANSWER.replace("MID", mid).replace("N", str(i)).encode(), addr)
"""
FLOOD_ANSWER = (
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><s:Header>'
    "<a:RelatesTo>MID</a:RelatesTo></s:Header><s:Body><d:ProbeMatches><d:ProbeMatch>"
    "<a:EndpointReference><a:Address>urn:uuid:floodN</a:Address></a:EndpointReference>"
    "<d:XAddrs>http://10.9.0.1:N/onvif/device_service</d:XAddrs></d:ProbeMatch>"
    "</d:ProbeMatches></s:Body></s:Envelope>")

PROBE = """
import asyncio, json, sys, time
from streams.onvif.discovery import discover
t = time.monotonic()
found = asyncio.run(discover(timeout_s=float(sys.argv[1]), max_results=int(sys.argv[2])))
print(json.dumps({"xaddrs": sorted(x for f in found for x in f.xaddrs),
                  "seconds": time.monotonic() - t}))
"""


def _probe_in(netns: str, timeout_s: float, max_results: int) -> dict:
    out = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", PROBE,
                          str(timeout_s), str(max_results)],
                         capture_output=True, text=True, timeout=60, cwd=os.getcwd())
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def discovery_netns() -> Iterator[str]:
    if shutil.which("ip") is None or os.geteuid() != 0:
        pytest.fail("the discovery test makes a network namespace: run as root with iproute2",
                    pytrace=False)
    with network_namespace(f"cityhub-onvif-{os.getpid()}") as ns:
        subprocess.run(["ip", "netns", "exec", ns, "ip", "route", "add", "224.0.0.0/4",
                        "dev", "lo"], check=True)
        yield ns


def test_discovery_finds_the_simulated_cameras(discovery_netns: str, tmp_path) -> None:
    cams = OnvifCameras(tmp_path / "onvif.log", count=3, discovery=True, netns=discovery_netns,
                        http_port=18080, rtsp_port=18554).start()
    try:
        found = _probe_in(discovery_netns, 2.0, 64)
        assert found["xaddrs"] == sorted(cams.xaddrs.values())
        assert found["seconds"] < 3
    finally:
        cams.stop()


def test_discovery_is_bounded_against_a_flood(discovery_netns: str, tmp_path) -> None:
    log = tmp_path / "flooder.log"
    with open(log, "wb") as out:
        flooder = subprocess.Popen(["ip", "netns", "exec", discovery_netns, sys.executable, "-c",
                                    FLOODER, FLOOD_ANSWER], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_started(flooder, lambda: "flooder ready" in log.read_text(), log, 20, "flooder")
        found = _probe_in(discovery_netns, 3.0, 50)
        assert len(found["xaddrs"]) == 50
        assert found["seconds"] < 4
    finally:
        flooder.kill()
        flooder.wait()
