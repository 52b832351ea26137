"""What bench.soak makes of its viewers' records (bench.viewers): when each played again after
a part was killed, and whether they received video at all (else the run is invalid)."""

from __future__ import annotations

import statistics
from typing import Any

from bench.viewers import GAP_S

#: An interruption a kill caused begins within this long of it; play shorter than STEADY_S
#: between two interruptions is not yet "playing again".
CAUSE_S, STEADY_S = 5.0, 5.0


def back_after(viewer: dict[str, Any], t_kill: float, t_end: float) -> float | None:
    """Seconds from ``t_kill`` until the viewer played again for good: the end of the
    interruption that began with the kill (at its last frame, up to ``GAP_S`` before it) and
    of any that followed within ``STEADY_S``; where the gap was shorter than ``GAP_S``, the
    first frame of a connection made within ``CAUSE_S`` of the kill; 0.0 when the kill did
    not interrupt it; None when nothing came after the kill. Later interruptions (before
    ``t_end``) are not its."""
    if viewer["last_frame"] < t_kill:
        return None
    gaps = sorted((a, b) for a, b in viewer["gaps"] if b > t_kill and a < t_end - GAP_S)
    first = next((g for g in gaps if t_kill - GAP_S <= g[0] <= t_kill + CAUSE_S), None)
    if first is None:
        again = [t for t in viewer.get("connected", []) if t_kill < t <= t_kill + CAUSE_S]
        return round(again[0] - t_kill, 2) if again else 0.0
    back = first[1]
    for a, b in gaps:
        if a > first[0] and a - back <= STEADY_S:
            back = max(back, b)
    return round(back - t_kill, 2)


def recovery(viewers: list[dict[str, Any]], t_kill: float, t_end: float) -> dict[str, Any]:
    """Per transport: the slowest and median time back, how many were interrupted, and how
    many never played again."""
    out: dict[str, Any] = {}
    for transport in sorted({v["transport"] for v in viewers}):
        backs = [back_after(v, t_kill, t_end) for v in viewers if v["transport"] == transport]
        played = [b for b in backs if b is not None]
        out[transport] = {
            "max_s": max(played) if played else None,
            "median_s": round(statistics.median(played), 2) if played else None,
            "interrupted": sum(1 for b in played if b > 0),
            "not_back": len(backs) - len(played),
            "viewers": len(backs),
        }
    return out


def fps(viewer: dict[str, Any]) -> float:
    """Frames per second while playing (interruptions left out)."""
    span = viewer["last_frame"] - viewer["first_frame"] - sum(b - a for a, b in viewer["gaps"])
    return viewer["frames"] / span if span > 0 else 0.0


def viewer_problems(viewers: list[dict[str, Any]], expected: int, least_fps: float,
                    now: float) -> list[str]:
    """Why the viewers' figures cannot stand: missing, ended, dark at the end, or starved."""
    problems = []
    if len(viewers) != expected:
        problems.append(f"{len(viewers)} of {expected} viewers reported")
    ended = [v for v in viewers if v.get("ended")]
    if ended:
        problems.append(f"{len(ended)} viewers ended by the relay: {ended[0]['ended']}")
    dark = [v for v in viewers if now - v["last_frame"] > 5]
    if dark:
        problems.append(f"{len(dark)} viewers not playing at the end "
                        f"(e.g. {dark[0]['camera']} {dark[0]['transport']}: {dark[0]['error']})")
    slow = [v for v in viewers if fps(v) < least_fps]
    if slow:
        problems.append(f"{len(slow)} viewers below {least_fps} fps while playing "
                        f"(lowest {min(round(fps(v), 1) for v in slow)})")
    return problems


def summary(viewers: list[dict[str, Any]]) -> dict[str, Any]:
    rates = sorted(fps(v) for v in viewers)
    return {
        "viewers": {t: sum(1 for v in viewers if v["transport"] == t)
                    for t in sorted({v["transport"] for v in viewers})},
        "fps_min": round(rates[0], 1) if rates else None,
        "fps_median": round(statistics.median(rates), 1) if rates else None,
        "reconnects": sum(max(0, v["connects"] - 1) for v in viewers),
        "frames": sum(v["frames"] for v in viewers),
    }
