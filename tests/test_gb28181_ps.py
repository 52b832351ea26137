"""PS over RTP without sockets: our PS mux read by FFmpeg and GStreamer, GStreamer's
mpegpsmux read by our demuxer, RTP reassembly, SSRC binding, garbage and RTCP."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import gi
import pytest

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

from devkit.synthetic import CameraSpec  # noqa: E402
from devkit.synthetic_clip import encode_clip, read_access_units  # noqa: E402
from streams.gb28181 import ps, rtp  # noqa: E402

Gst.init(None)


def units(codec: str) -> list[bytes]:
    spec = CameraSpec(name=f"gbps-{codec}", width=320, height=240, fps=25, gop=25, codec=codec)
    return read_access_units(encode_clip(spec), codec)


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_our_ps_is_read_by_ffprobe_and_our_demuxer(tmp_path: Path, codec: str) -> None:
    aus = units(codec)
    frames = [ps.mux_frame(au, codec, 3600 * i, ps.is_keyframe(au, codec))
              for i, au in enumerate(aus)]
    path = tmp_path / "out.ps"
    path.write_bytes(b"".join(frames))
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-of", "json", str(path)],
        capture_output=True, check=True, text=True).stdout)
    video = probe["streams"][0]
    assert video["codec_name"] == {"h264": "h264", "h265": "hevc"}[codec]
    assert int(video["nb_read_frames"]) == len(aus)
    demux = ps.PsDemuxer()
    out = [demux.feed(f) for f in frames]
    assert [f.data for f in out if f] == aus
    assert out[0] and out[0].keyframe and out[0].codec == codec and out[1] and out[1].pts == 0.04


def test_gstreamer_mpegpsmux_output_is_read_by_our_demuxer(tmp_path: Path) -> None:
    src = encode_clip(CameraSpec(name="gbps-h264", width=320, height=240, fps=25, gop=25))
    path = tmp_path / "gst.ps"
    pipeline = Gst.parse_launch(f"filesrc location={src} ! h264parse ! mpegpsmux "
                                f"! filesink location={path}")
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(30 * Gst.SECOND, Gst.MessageType.EOS
                                                | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    assert msg is not None and msg.type == Gst.MessageType.EOS
    data = path.read_bytes()
    # Cut at pack headers (what one RTP frame carries) and demux each.
    cuts = [i for i in range(len(data) - 3) if data[i:i + 4] == rtp.PS_START]
    demux = ps.PsDemuxer()
    video = b"".join(f.data for a, b in zip(cuts, [*cuts[1:], len(data)], strict=True)
                     if (f := demux.feed(data[a:b])))
    assert demux.streams.get(0xE0) == "h264"
    assert video.count(b"\x00\x00\x01\x65") + video.count(b"\x00\x00\x01\x25") >= 1
    assert len(video) > 0.9 * src.stat().st_size


def test_rtp_reassembly_ssrc_binding_rtcp_and_garbage() -> None:
    aus = units("h264")[:10]
    packets: list[bytes] = []
    seq = 0
    for i, au in enumerate(aus):
        frame = ps.mux_frame(au, "h264", 3600 * i, ps.is_keyframe(au, "h264"))
        for p in rtp.packetize(frame, 96, seq, 3600 * i, 0x1234):
            packets.append(p)
            seq += 1
    rtcp = bytes([0x80, 200, 0, 6]) + b"\x00" * 24
    stranger = rtp.build_rtp(b"\x00\x00\x01\xba" + b"x" * 20, 96, 5, 9, 0x9999, True)
    a = rtp.FrameAssembler()  # no y= SSRC: learnt from the first PS pack
    got: list[bytes] = []
    for p in [rtcp, b"garbage", rtp.build_rtp(b"junk", 96, 1, 1, 0x7777, True), *packets]:
        got += a.push(p)
    assert a.ssrc == 0x1234 and a.garbage >= 3
    got += a.push(stranger)
    assert a.wrong_ssrc == 1
    demux = ps.PsDemuxer()
    assert [f.data for g in got if (f := demux.feed(g))] == aus
    # A lost packet drops its frame only.
    b = rtp.FrameAssembler(ssrc=0x1234)
    kept = [f for i, p in enumerate(packets) if i != 3 for f in b.push(p)]
    assert b.lost == 1 and 0 < len(kept) < len(aus)


def test_rfc4571_framing_across_reads() -> None:
    pkts = [rtp.build_rtp(bytes([i]) * (100 + i), 96, i, 0, 1, True) for i in range(5)]
    stream = b"".join(rtp.frame4571(p) for p in pkts)
    reader = rtp.Rfc4571Reader()
    out = [x for i in range(0, len(stream), 33) for x in reader.feed(stream[i:i + 33])]
    assert out == pkts


def test_unsupported_codec_in_ps_is_a_clear_error() -> None:
    frame = ps.pack_header(0) + ps.system_header() + ps.psm(0x10) + ps.pes(0xE0, b"\x00\x00"
                                                                          b"\x01\xb6" * 4, 0)
    demux = ps.PsDemuxer()
    with pytest.raises(ps.PsError, match="unsupported video codec in PS: mpeg4"):
        demux.feed(frame)
    for junk in (b"\x00\x00\x01\xba\x44", b"\x00\x00\x01\xe0\xff\xff\x80", b"\x00\x00\x01\xbc"):
        with pytest.raises(ps.PsError):
            demux.feed(junk)
