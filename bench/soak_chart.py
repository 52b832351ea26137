"""The soak's samples drawn as a PNG (RSS, open files and threads of each process over
time): ``python -m bench.soak_chart samples.json out.png``.

A process of its own: matplotlib's bundled FreeType must not share a process with the
GStreamer libraries the soak's tools load (importing it there crashed the interpreter)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display
import matplotlib.pyplot as plt  # noqa: E402


def draw(samples: list[dict[str, Any]], path: Path) -> None:
    t0 = samples[0]["t"]
    fig, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    names = sorted({n for s in samples for n in s["procs"]})
    for ax, key in zip(axes, ("pss_mb", "fds", "threads"), strict=True):
        for name in names:
            pts = [((s["t"] - t0) / 60, s["procs"][name].get(key, 0)) for s in samples
                   if name in s["procs"]]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=name)
        ax.set_ylabel(key)
    axes[0].legend(fontsize=7, ncol=4)
    axes[-1].set_xlabel("minutes")
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    samples_path, out = (argv if argv is not None else sys.argv[1:])[:2]
    draw(json.loads(Path(samples_path).read_text()), Path(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
