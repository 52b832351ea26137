"""How every benchmark ends: one JSON object on stdout, kept in ``bench/results/``.

``finish(name, result, problems)`` prints ``result`` (with the machine, the date and
whether the run was valid), writes it to ``bench/results/<name>.json`` (the READMEs'
tables are generated from that folder, never typed) and returns the exit status:
non-zero when ``problems`` is not empty, so an invalid run (a dead camera, a failing
endpoint, a timeout) can never pass for a result.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(os.environ.get("CITYHUB_BENCH_RESULTS", Path(__file__).parent / "results"))


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def finish(name: str, result: dict[str, Any], problems: list[str] | None = None) -> int:
    """Print and keep the run's JSON; 0 when valid, 1 when any problem was found."""
    problems = list(problems or [])
    out = {
        "benchmark": name,
        "valid": not problems,
        "problems": problems,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **result,
    }
    text = json.dumps(out, sort_keys=False)
    print(text, flush=True)
    if not problems:  # only a valid run replaces the figures the docs are made from
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"{name}.json").write_text(text + "\n", encoding="utf-8")
    else:
        print(f"{name}: invalid run: " + "; ".join(problems), file=sys.stderr)
    return 1 if problems else 0
