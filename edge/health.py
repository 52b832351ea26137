"""The heartbeat: what the hub's operators need to trust (or distrust) this box.

Published every ``health.heartbeat_s`` on ``city/{dept}/{site}/edge/health``
(QoS 0, not stored: the next one replaces it). Clock quality comes from the
kernel's NTP discipline (adjtimex): whether the clock is synchronised and its
estimated error/offset; the hub can also compare ``time`` with its own clock.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.outbox import disk_usage


class _Timex(ctypes.Structure):
    _fields_ = [  # struct timex (linux/timex.h), x86_64/aarch64 layout
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_pad", ctypes.c_int * 11),
    ]


_STA_UNSYNC = 0x0040
_STA_NANO = 0x2000
_TIME_ERROR = 5


def clock_state() -> dict[str, Any]:
    """Kernel clock discipline: synchronised?, offset and error estimates in seconds."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        tx = _Timex()
        state = libc.adjtimex(ctypes.byref(tx))
    except OSError as exc:
        return {"synchronized": None, "error": str(exc)}
    if state < 0:  # e.g. systemd's ProtectClock=yes filters adjtimex: unknown, not "synced"
        return {"synchronized": None, "error": os.strerror(ctypes.get_errno())}
    unit = 1e-9 if tx.status & _STA_NANO else 1e-6
    return {
        "synchronized": state != _TIME_ERROR and not tx.status & _STA_UNSYNC,
        "offset_s": tx.offset * unit,
        "est_error_s": tx.esterror * 1e-6,
        "max_error_s": tx.maxerror * 1e-6,
    }


def health_report(
    device: str,
    started: float,
    state_dir: Path,
    cameras: dict[str, Any],
    outbox: dict[str, Any],
    uplink: dict[str, Any],
    config_version: str | None,
    push: dict[str, Any],
) -> dict[str, Any]:
    return {
        "device": device,
        "time": datetime.now(UTC).isoformat(),
        "uptime_s": round(time.monotonic() - started, 1),
        "cameras": cameras,
        "outbox": outbox,
        "uplink": uplink,
        "disk": disk_usage(state_dir),
        "clock": clock_state(),
        "config_version": config_version,
        "push": push,  # listener pushes: accepted per device, refused per reason
    }
