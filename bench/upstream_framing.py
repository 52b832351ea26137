"""Benchmark of the relay's upstream framing: ``python -m bench.upstream_framing``.

Prints one JSON object. A pre-encoded multi-slice 720p clip (synthetic camera,
4 slices per picture, SPS/PPS repeated before every IDR slice by rtph264pay
config-interval=-1, as cameras do) is RTP-payloaded and depayloaded in one
process as fast as it goes, through the relay's chain in two variants, run
alternately in the same run:

- ``baseline_byte_stream``: rtph264depay ! h264parse (byte-stream in): the chain
  before the fix, which cuts multi-slice keyframes in two;
- ``whole_access_units``: rtph264depay ! avc,alignment=au ! h264parse (the relay now).

Per variant: access units out, keyframes cut (an AU whose first slice does not
start at macroblock 0, i.e. the rest of the previous picture), slices per
picture, and process CPU seconds per 1000 AUs (payloader included in both).

Invalid (exit 1, no figures kept): a variant that stalled (no access unit for ``--timeout``
seconds before the end of the clip), or a relay chain that did not pass every picture of the
clip through whole (as many access units as pictures, none cut).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
from gi.repository import Gst, GstApp  # noqa: E402, F401

from bench.report import finish  # noqa: E402
from devkit.synthetic import CameraSpec  # noqa: E402
from devkit.synthetic_clip import clip_frames, encode_clip  # noqa: E402
from streams.core.upstream import whole_access_units  # noqa: E402

VARIANTS = ("baseline_byte_stream", "whole_access_units")


def between_depay_and_parse(variant: str) -> str:
    return "" if variant == "baseline_byte_stream" else f"{whole_access_units('h264')} ! "


def nal_types_and_first_mb_zero(au: bytes) -> tuple[list[int], bool | None]:
    """NAL types in an Annex-B AU, and whether its first slice starts at macroblock 0."""
    types, first_zero, i = [], None, au.find(b"\x00\x00\x01")
    while i != -1:
        nal_type = au[i + 3] & 0x1F
        types.append(nal_type)
        if first_zero is None and nal_type in (1, 5):
            first_zero = bool(au[i + 4] & 0x80)  # ue(v) first_mb_in_slice == 0 is the bit '1'
        i = au.find(b"\x00\x00\x01", i + 3)
    return types, first_zero


def run(clip: str, variant: str, loops: int, timeout: float = 10.0) -> dict[str, float]:
    desc = (
        f"multifilesrc location={clip} loop=false stop-index={loops - 1} ! h264parse "
        "! rtph264pay config-interval=-1 mtu=1400 ! rtph264depay ! "
        f"{between_depay_and_parse(variant)}h264parse config-interval=-1 "
        "! video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=out sync=false"
    )
    pipeline = Gst.parse_launch(desc)
    sink = pipeline.get_by_name("out")
    aus = cut = keyframes = 0
    stalled = False
    slices: list[int] = []
    cpu0 = time.process_time()
    pipeline.set_state(Gst.State.PLAYING)
    while True:
        sample = sink.try_pull_sample(int(timeout * Gst.SECOND))
        if sample is None:
            stalled = not sink.is_eos()
            break
        buf = sample.get_buffer()
        types, first_zero = nal_types_and_first_mb_zero(buf.extract_dup(0, buf.get_size()))
        aus += 1
        keyframes += 5 in types
        cut += first_zero is False
        slices.append(sum(t in (1, 5) for t in types))
    cpu = time.process_time() - cpu0
    pipeline.set_state(Gst.State.NULL)
    return {
        "access_units": aus,
        "keyframe_aus": keyframes,
        "aus_cut_mid_picture": cut,
        "median_slices_per_au": statistics.median(slices) if slices else 0,
        "cpu_s_per_1000_aus": round(cpu / max(aus, 1) * 1000, 3),
        "stalled": stalled,
    }


def problems_of(out: dict[str, Any], pictures: int) -> list[str]:
    """Why the run is no figure: a stalled variant, or pictures the relay chain lost or cut."""
    found = [f"{v}: timeout: no access unit within --timeout" for v in VARIANTS
             if out[v]["stalled"]]
    whole = out["whole_access_units"]
    if not found and (whole["access_units"] != pictures or whole["aus_cut_mid_picture"]):
        found.append(f"whole_access_units: {whole['access_units']} access units of {pictures} "
                     f"pictures, {whole['aus_cut_mid_picture']} cut")
    return found


def main(argv: list[str] | None = None) -> int:
    Gst.init(None)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--loops", type=int, default=3, help="times the 4 s clip is read per run")
    p.add_argument("--rounds", type=int, default=3, help="alternating runs per variant")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds without an access unit before a variant counts as stalled")
    a = p.parse_args(argv)
    spec = CameraSpec("bench", width=1280, height=720, fps=25, gop=25, slices=4)
    clip = str(encode_clip(spec))
    results: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    for _ in range(a.rounds):
        for variant in VARIANTS:
            results[variant].append(run(clip, variant, a.loops, a.timeout))
    out: dict[str, object] = {"clip": "1280x720 25 fps, GOP 25, 4 slices", "rounds": a.rounds}
    for variant, runs in results.items():
        summary = dict(runs[0])
        summary["cpu_s_per_1000_aus"] = statistics.median(r["cpu_s_per_1000_aus"] for r in runs)
        summary["stalled"] = any(r["stalled"] for r in runs)
        out[variant] = summary
    return finish("upstream_framing", out, problems_of(out, clip_frames(spec) * a.loops))


if __name__ == "__main__":
    sys.exit(main())
