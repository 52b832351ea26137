"""Command-line options of the simulated ONVIF cameras (light: read at CLI start)."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument("--cameras", type=int, default=1, help="how many cameras (ptz1, ptz2, ...)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on and advertise")
    p.add_argument("--http-port", type=int, default=8080,
                   help="ONVIF HTTP port of the first camera (the next ones count up)")
    p.add_argument("--rtsp-port", type=int, default=8554, help="RTSP port of all cameras")
    p.add_argument("--username", default="admin", help="ONVIF and RTSP user")
    p.add_argument("--discovery", action=argparse.BooleanOptionalAction, default=True,
                   help="answer WS-Discovery probes on 239.255.255.250:3702")
