"""``cityhub demo``: the whole demo city on this machine."""

from __future__ import annotations

import argparse
from pathlib import Path

from devkit.demo.runner import DemoCity


def _demo(args: argparse.Namespace) -> int:
    city = DemoCity(Path(args.state_dir))
    print("cityhub demo: starting (Ctrl-C stops everything)", flush=True)
    city.start()
    try:
        width = max(len(k) for k in city.urls)
        for name, url in city.urls.items():
            print(f"  {name:<{width}}  {url}", flush=True)
        print("cityhub demo: running", flush=True)
        city.watch()
    finally:
        print("cityhub demo: stopping", flush=True)
        city.close()
        print("cityhub demo: stopped", flush=True)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="run the demo city (database, broker, cameras, hub, UI) until Ctrl-C"
    )
    p.add_argument("--state-dir", default=".cityhub/demo", help="where the demo keeps its files")
    p.set_defaults(func=_demo)
