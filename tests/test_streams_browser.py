"""A camera plays over WHEP in real headless Chromium, inside a private network namespace.

The namespace has only its own loopback and a veth pair, so every packet
(RTSP, HTTP, ICE, DTLS, SRTP) stays inside it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def netns(request: pytest.FixtureRequest) -> Iterator[str]:
    """A private namespace; with ``@pytest.mark.parametrize("netns", ["lo-only"], indirect=True)``
    it has only its loopback (no ICE candidate on either side: WebRTC cannot pass)."""
    if shutil.which("ip") is None:
        pytest.fail("the 'ip' command is missing: install the Debian package 'iproute2'")
    if not os.path.exists("/usr/bin/chromium"):
        pytest.fail("/usr/bin/chromium is missing: install the Debian package 'chromium'")
    name = f"cityhub-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        ns = ["ip", "netns", "exec", name, "ip"]
        subprocess.run([*ns, "link", "set", "lo", "up"], check=True)
        if getattr(request, "param", None) == "lo-only":
            yield name
            return
        # Chromium gathers no ICE candidate on loopback alone: give it a veth pair whose both
        # ends live in this namespace, with a private address. Packets never leave the namespace.
        subprocess.run(
            [*ns, "link", "add", "cityhub0", "type", "veth", "peer", "name", "cityhub1"], check=True
        )
        subprocess.run([*ns, "addr", "add", "10.213.0.1/24", "dev", "cityhub0"], check=True)
        for dev in ("cityhub0", "cityhub1"):
            subprocess.run([*ns, "link", "set", dev, "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


@pytest.mark.browser
def test_chromium_plays_a_camera_over_whep_and_the_video_advances(netns: str) -> None:
    result = drive_chromium(netns)
    first, second = result["first"], result["second"]
    assert first["transport"] == "webrtc", result
    assert first["status"] == "playing", result
    assert first["width"] == 640, result
    assert second["time"] > first["time"] + 1.0, result  # the video moves on
    assert second["frames"] > first["frames"] + 10, result
    assert result["health"]["webrtc_viewers"] == 1 and result["health"]["upstream_connects"] == 1
    # The whole picture, as the camera sends it (4 slices): no green undecoded areas.
    assert result["picture_samples"] == 4, result
    assert result["picture_problems"] == [], result


@pytest.mark.browser
@pytest.mark.parametrize("netns", ["lo-only"], indirect=True)
def test_chromium_falls_back_to_fmp4_over_websocket_where_webrtc_cannot_pass(netns: str) -> None:
    result = drive_chromium(netns, "--no-webrtc-path")
    first, second = result["first"], result["second"]
    assert first["status"] == "playing", result
    assert first["transport"].startswith("fmp4 (fallback: WebRTC"), result
    assert first["width"] == 640, result
    assert second["time"] > first["time"] + 1.0, result  # MSE playback advances
    assert second["frames"] > first["frames"] + 10, result
    health = result["health"]
    assert health["fmp4_viewers"] == 1 and health["webrtc_viewers"] == 0, health
    assert health["upstream_connects"] == 1, health
    assert result["picture_samples"] == 4, result
    assert result["picture_problems"] == [], result


def drive_chromium(netns: str, *args: str) -> dict:
    out = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-m", "tests.streams_browser_driver", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])
