"""The session's tee carries length-prefixed access units (what mp4mux and the RTSP payloader
take as they are); Python consumers get them as Annex-B that a decoder with no extradata plays
(parameter sets in band before every keyframe)."""

from __future__ import annotations

import av
import gi
import pytest

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

from streams.core.upstream import annex_b, whole_access_units  # noqa: E402

ENCODERS = {  # closed GOPs: a decoder starting at a later keyframe drops nothing
    "h264": "x264enc key-int-max=10 bframes=0",
    "h265": 'x265enc key-int-max=10 option-string="open-gop=0:bframes=0"',
}
FRAMES = 30


def _parsed_units(codec: str) -> list[tuple[bytes, bool]]:
    """Encoded frames as the session's parser hands them to its tee."""
    Gst.init(None)
    fmt = whole_access_units(codec).to_string()
    pipeline = Gst.parse_launch(
        f"videotestsrc num-buffers={FRAMES} ! video/x-raw,format=I420,width=320,height=240 "
        f"! {ENCODERS[codec]} ! {codec}parse ! {fmt} ! {codec}parse config-interval=-1 "
        f"! {fmt} ! appsink name=sink sync=false"
    )
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    units = []
    try:
        while (sample := sink.emit("try-pull-sample", 10 * Gst.SECOND)) is not None:
            buf = sample.get_buffer()
            units.append(
                (buf.extract_dup(0, buf.get_size()), not buf.has_flags(Gst.BufferFlags.DELTA_UNIT))
            )
    finally:
        pipeline.set_state(Gst.State.NULL)
    return units


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_annex_b_of_the_tee_decodes_without_extradata(codec: str) -> None:
    units = _parsed_units(codec)
    assert len(units) == FRAMES and units[0][1]
    converted = [annex_b(data) for data, _key in units]
    assert all(c.startswith(b"\x00\x00\x00\x01") and len(c) == len(d)
               for c, (d, _k) in zip(converted, units, strict=True))
    keyframes = [i for i, (_data, key) in enumerate(units) if key]
    assert len(keyframes) >= 2
    for start in keyframes[:2]:  # a viewer may start at any keyframe: parameter sets are there
        decoder = av.CodecContext.create("hevc" if codec == "h265" else "h264", "r")
        pictures = [f for data in converted[start:] for f in decoder.decode(av.Packet(data))]
        pictures += decoder.decode(None)
        assert len(pictures) == FRAMES - start
        assert (pictures[0].width, pictures[0].height) == (320, 240)
