"""RTSP re-serve access: play token in the URL or as the Basic password, per-reader counts.

Real readers (GStreamer rtspsrc, ffprobe) against a real relay process.
"""

from __future__ import annotations

from devkit.fixtures.ffprobe import ffprobe
from devkit.fixtures.streams import RELAY_CORES, GstReader


@RELAY_CORES
def test_play_token_as_rtsp_password_refusals_and_per_reader_counts(cameras, relay_factory):
    relay = relay_factory({"cam1": cameras.url("cam1"), "cam2": cameras.url("cam2")})
    base = f"127.0.0.1:{relay.rtsp_port}"
    token = relay.token("cam1", ("rtsp",))
    readers = [
        GstReader(f"rtsp://viewer:{token}@{base}/cam1").start(),  # token as the password
        GstReader(relay.rtsp_url("cam1")).start(),  # token in the query
    ]
    try:
        for r in readers:
            assert r.wait_frames(10) >= 10, r.errors
        assert relay.health("cam1")["rtsp_viewers"] == 2
        assert relay.health("cam1")["upstream_connects"] == 1

        refused = {
            "no token": f"rtsp://{base}/cam1",
            "forged token": f"rtsp://{base}/cam1?token=forged",
            "wrong password": f"rtsp://viewer:nope@{base}/cam1",
            "other camera's token": f"rtsp://viewer:{token}@{base}/cam2",
        }
        for why, url in refused.items():
            r = GstReader(url).start()
            try:
                assert r.wait_frames(1, 10) == 0, why
                assert r.errors and "Unauthorized" in r.errors[0], (why, r.errors)
            finally:
                r.stop()
        assert relay.health("cam2")["state"] == "idle"  # refused readers never pull a camera
    finally:
        for r in readers:
            r.stop()
    assert relay.wait_health("cam1", lambda h: h["rtsp_viewers"] == 0, 10)["rtsp_viewers"] == 0

    streams = ffprobe(relay.rtsp_url("cam1"), "stream=codec_name,width")["streams"]
    assert [(v["codec_name"], v["width"]) for v in streams] == [("h264", 640)], streams
    log = relay.log.read_text()
    assert "CRITICAL" not in log and token not in log  # no GStreamer noise, no secret in logs


@RELAY_CORES
def test_readers_one_after_another_all_get_frames(camera_factory, relay_factory):
    """Each reader after the previous one left gets a new media while the camera stays open
    (a player reconnecting, an operator reopening a tile): its frames must be due at once.
    The GStreamer core used to hold them for as long as the camera had been open."""
    cam = camera_factory(["cam1"], mode="loop")
    relay = relay_factory({"cam1": cam.url("cam1")}, idle_close_s=60)
    for _ in range(4):
        reader = GstReader(relay.rtsp_url("cam1")).start()
        try:
            assert reader.wait_frames(10, 15) >= 10, reader.errors
        finally:
            reader.stop()
    assert relay.health("cam1")["upstream_connects"] == 1  # one camera session throughout
