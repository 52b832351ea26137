"""Same-run comparison of the relay's WebRTC CPU per viewer: this tree against another checkout.

``python -m bench.webrtc_ab --before /path/to/other/checkout [--after DIR] [--viewers 50]``
starts one synthetic 720p25 2 Mb/s camera and two relays pulling it (``--core``; one runs the
code at ``--before``, the other this tree's), each held live by an RTSP reader, and measures
them in alternating rounds with bench.relay's aiortc viewers. A change worth 20 % is smaller
than a shared machine's drift between two runs; alternating rounds in one run cancel the
drift. Prints JSON and keeps nothing: bench.relay gives the figures of record.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.relay import readers, relay_urls, start_cameras, start_relay, webrtc_cpu
from devkit.embedded.process import stop


def relay_from(
    tree: str, tmp: Path, url: str, core: str
) -> tuple[subprocess.Popen[bytes], int, int]:
    """A relay running the code in ``tree`` (its working directory, which ``python -m`` puts
    first on the path, and PYTHONPATH), of camera ``c00`` at ``url``."""
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = tree
    try:
        with contextlib.chdir(tree):
            return start_relay(tmp, {"c00": url}, always_on=set(), core=core)
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved


def measure(a: argparse.Namespace) -> dict[str, object]:
    trees = {"before": str(Path(a.before).resolve()), "after": str(Path(a.after).resolve())}
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="bench-webrtc-ab-") as d:
        tmp = Path(d)
        try:
            upstream = start_cameras(tmp, ["c00"], procs)
            relays = {}
            for name, tree in trees.items():
                proc, http, rtsp = relay_from(tree, tmp / name, f"{upstream}/c00", a.core)
                procs += [proc, readers([relay_urls(rtsp, ["c00"])["c00"]], tmp / f"{name}.rd")]
                relays[name] = (proc.pid, http)
            got: dict[str, list[float]] = {n: [] for n in trees}
            fps: dict[str, list[float]] = {n: [] for n in trees}
            for r in range(a.rounds):
                for name in trees if r % 2 == 0 else reversed(trees):
                    pid, http = relays[name]
                    res = asyncio.run(webrtc_cpu(pid, http, "c00", [a.viewers], a.window,
                                                 a.min_fps))
                    got[name].append(res["cpu_per_viewer"][str(a.viewers)])
                    fps[name].append(res["viewer_fps_min"][str(a.viewers)])
        finally:
            for proc in reversed(procs):
                stop(proc)
    med = {n: statistics.median(v) for n, v in got.items()}
    return {"viewers": a.viewers, "core": a.core, "cpu_per_viewer": got, "viewer_fps_min": fps,
            "median": med, "after_over_before": round(med["after"] / med["before"], 3)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--before", required=True, help="a checkout of the code to compare with")
    p.add_argument("--after", default=str(Path(__file__).resolve().parents[1]),
                   help="a checkout of the changed code (default: this one)")
    p.add_argument("--viewers", type=int, default=50)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--window", type=float, default=6.0, help="seconds per CPU measurement")
    p.add_argument("--min-fps", type=float, default=20.0,
                   help="rate every viewer must get (lower it on a loaded machine)")
    p.add_argument("--core", choices=["gstreamer", "packet"], default="gstreamer")
    print(json.dumps(measure(p.parse_args(argv)), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
