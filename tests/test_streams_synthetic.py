"""Synthetic cameras: loop mode serves decodable video; a live port is never shared."""

from __future__ import annotations

from devkit.fixtures.cameras import SyntheticCameras
from devkit.fixtures.streams import GstReader


def test_loop_mode_serves_h264_and_h265_and_the_port_stays_exclusive(
    camera_factory, tmp_path
) -> None:
    h264 = camera_factory(["a", "b"], mode="loop")
    h265 = camera_factory(["c"], mode="loop", codec="h265")
    for url in (h264.url("a"), h264.url("b"), h265.url("c")):
        reader = GstReader(url).start()
        try:
            assert reader.wait_frames(20) >= 20, reader.errors
            assert reader.size == (640, 360)
        finally:
            reader.stop()
    # SO_REUSEADDR lets a restarted camera re-bind at once, but never next to a live one.
    rival = SyntheticCameras(["x"], tmp_path / "rival.log", port=h264.port).start()
    try:
        assert rival.proc is not None and rival.proc.wait(timeout=30) != 0
    finally:
        rival.stop()
    assert "cannot listen" in (tmp_path / "rival.log").read_text()
